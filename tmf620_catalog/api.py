"""TMF620 handlers: connexion operations translated to catalog service calls."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from tmf620_catalog.service import CatalogService
from tmf_common import handlers
from tmf_common.http import services


def _catalog() -> CatalogService:
    catalog: CatalogService = services().catalog
    return catalog


def list_catalog(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_catalog().catalogs, fields, sort, offset, limit)


def create_catalog(body: dict[str, Any]) -> Response:
    return handlers.create_resource(_catalog().catalogs, body)


def retrieve_catalog(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_catalog().catalogs, id, fields)


def patch_catalog(id: str, body: Any) -> Response:
    return handlers.patch_resource(_catalog().catalogs, id, body)


def delete_catalog(id: str) -> Response:
    return handlers.delete_resource(_catalog().catalogs, id)


def list_category(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_catalog().categories, fields, sort, offset, limit)


def create_category(body: dict[str, Any]) -> Response:
    return handlers.create_resource(_catalog().categories, body)


def retrieve_category(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_catalog().categories, id, fields)


def patch_category(id: str, body: Any) -> Response:
    return handlers.patch_resource(_catalog().categories, id, body)


def delete_category(id: str) -> Response:
    return handlers.delete_resource(_catalog().categories, id)


def list_product_specification(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_catalog().product_specifications, fields, sort, offset, limit)


def create_product_specification(body: dict[str, Any]) -> Response:
    return handlers.create_resource(_catalog().product_specifications, body)


def retrieve_product_specification(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_catalog().product_specifications, id, fields)


def patch_product_specification(id: str, body: Any) -> Response:
    return handlers.patch_resource(_catalog().product_specifications, id, body)


def delete_product_specification(id: str) -> Response:
    return handlers.delete_resource(_catalog().product_specifications, id)


def list_product_offering(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_catalog().product_offerings, fields, sort, offset, limit)


def create_product_offering(body: dict[str, Any]) -> Response:
    return handlers.create_resource(_catalog().product_offerings, body)


def retrieve_product_offering(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_catalog().product_offerings, id, fields)


def patch_product_offering(id: str, body: Any) -> Response:
    return handlers.patch_resource(_catalog().product_offerings, id, body)


def delete_product_offering(id: str) -> Response:
    return handlers.delete_resource(_catalog().product_offerings, id)


def list_product_offering_price(
    fields: str | None = None, offset: int | None = None, limit: int | None = None, sort: str | None = None
) -> Response:
    return handlers.list_resources(_catalog().product_offering_prices, fields, sort, offset, limit)


def create_product_offering_price(body: dict[str, Any]) -> Response:
    return handlers.create_resource(_catalog().product_offering_prices, body)


def retrieve_product_offering_price(id: str, fields: str | None = None) -> Response:
    return handlers.retrieve_resource(_catalog().product_offering_prices, id, fields)


def patch_product_offering_price(id: str, body: Any) -> Response:
    return handlers.patch_resource(_catalog().product_offering_prices, id, body)


def delete_product_offering_price(id: str) -> Response:
    return handlers.delete_resource(_catalog().product_offering_prices, id)
