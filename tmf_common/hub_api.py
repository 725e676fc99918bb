"""Hub handlers shared by every API: the API is the one whose base path the request came in on."""

from __future__ import annotations

from typing import Any

from connexion import request
from starlette.responses import Response

from tmf_common.http import created_response, current_request, list_response, no_content, resource_response, services
from tmf_common.hub import HubService


def _hub() -> HubService:
    hub: HubService = services().hub
    return hub


def register_listener(body: dict[str, Any]) -> Response:
    hub = _hub()
    stored = hub.register(hub.api_for_path(request.url.path), body, current_request(services().settings.public_url))
    return created_response(stored.body, stored.revision)


def unregister_listener(id: str) -> Response:
    hub = _hub()
    hub.unregister(hub.api_for_path(request.url.path), id)
    return no_content()


def retrieve_hub(id: str, fields: str | None = None) -> Response:
    hub = _hub()
    stored = hub.retrieve(hub.api_for_path(request.url.path), id, fields)
    return resource_response(stored.body, stored.revision)


def list_hub(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    hub = _hub()
    context = current_request(services().settings.public_url)
    items, total = hub.list(hub.api_for_path(request.url.path), context, fields, sort, offset, limit)
    return list_response(items, total)
