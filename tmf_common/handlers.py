"""Translation between connexion's validated parameters and a ResourceService, shared by every API's handlers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tmf_common.cancellation import CancellationFlow
from tmf_common.http import (
    created_response,
    current_request,
    list_response,
    no_content,
    resource_response,
    services,
)
from tmf_common.idempotency import create_idempotent
from tmf_common.resource_service import ResourceService


def _context() -> Any:
    return current_request(services().settings.public_url)


def list_resources(
    service: ResourceService, fields: str | None, sort: str | None, offset: int | None, limit: int | None
) -> Response:
    items, total = service.list(_context(), fields, sort, offset, limit)
    return list_response(items, total)


def create_resource(service: ResourceService, body: dict[str, Any]) -> Response:
    stored = service.create(body, _context())
    return created_response(stored.body, stored.revision)


def retrieve_resource(service: ResourceService, resource_id: str, fields: str | None) -> Response:
    stored = service.retrieve(resource_id, fields)
    return resource_response(stored.body, stored.revision)


def patch_resource(service: ResourceService, resource_id: str, body: Any) -> Response:
    stored = service.patch(resource_id, body, _context())
    return resource_response(stored.body, stored.revision)


def delete_resource(service: ResourceService, resource_id: str) -> Response:
    service.delete(resource_id, _context())
    return no_content()


def create_idempotent_resource(service: ResourceService, body: dict[str, Any]) -> Response:
    result = create_idempotent(service, body, _context())
    response = created_response(result.resource.body, result.resource.revision)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def run_task(flow: CancellationFlow, body: dict[str, Any]) -> Response:
    stored = flow.create(body, _context())
    return created_response(stored.body, stored.revision)
