"""Liveness and readiness handlers."""

from __future__ import annotations

from pymongo.errors import PyMongoError
from starlette.responses import Response

from tmf_common.errors import ServiceUnavailable
from tmf_common.http import json_response, services


def health() -> Response:
    return json_response({"status": "ok"})


def ready() -> Response:
    try:
        services().database.command("ping")
    except PyMongoError as error:
        raise ServiceUnavailable(f"The database does not answer: {error}") from error
    return json_response({"status": "ok", "database": "ok"})
