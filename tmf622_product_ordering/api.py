"""TMF622 handlers: connexion operations translated to product ordering service calls."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tmf_common import handlers
from tmf_common.http import services
from tmf_common.ordering_service import OrderingService


def _ordering() -> OrderingService:
    ordering: OrderingService = services().product_ordering
    return ordering


def list_product_order(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_ordering().orders, fields, sort, offset, limit)


def create_product_order(body: dict[str, Any]) -> Response:
    return handlers.create_idempotent_resource(_ordering().orders, body)


def retrieve_product_order(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_ordering().orders, id, fields)


def patch_product_order(id: str, body: Any) -> Response:
    return handlers.patch_resource(_ordering().orders, id, body)


def delete_product_order(id: str) -> Response:
    return handlers.delete_resource(_ordering().orders, id)


def list_cancel_product_order(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_ordering().cancellations, fields, sort, offset, limit)


def create_cancel_product_order(body: dict[str, Any]) -> Response:
    return handlers.run_task(_ordering().cancellation_flow, body)


def retrieve_cancel_product_order(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_ordering().cancellations, id, fields)
