"""The composition root: create_app() wires settings, database, services and the APIs; nothing connects at import."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import connexion
from connexion.options import SwaggerUIOptions
from pymongo import MongoClient
from pymongo.database import Database

from tmf620_catalog import repository as catalog_repository
from tmf620_catalog.service import CatalogService
from tmf622_product_ordering import repository as ordering_repository
from tmf622_product_ordering.service import product_ordering_service
from tmf641_service_ordering import repository as service_repository
from tmf641_service_ordering.service import service_ordering_service
from tmf_common.http import BodyLimitMiddleware, install_error_handlers, json_response
from tmf_common.mongo import connect, ensure_indexes
from tmf_common.openapi_bundle import api_spec_path, bundle
from tmf_common.ordering_service import OrderingService
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import guard_for

log = logging.getLogger("tmf.server")


@dataclass(frozen=True)
class ApiModule:
    spec_file: str
    name: str


APIS = (
    ApiModule("tmf620-product-catalog.yaml", "tmf620"),
    ApiModule("tmf622-product-ordering.yaml", "tmf622"),
    ApiModule("tmf641-service-ordering.yaml", "tmf641"),
)
SERVICE_SPEC = "service.yaml"


@dataclass
class Services:
    """Everything a handler may reach, built once per process by the lifespan."""

    settings: Settings
    client: MongoClient
    database: Database
    catalog: CatalogService
    product_ordering: OrderingService
    service_ordering: OrderingService


def build_services(settings: Settings, client: MongoClient, specs: dict[str, dict[str, Any]]) -> Services:
    database = client[settings.database_name]
    ensure_indexes(database, [*catalog_repository.INDEXES, *ordering_repository.INDEXES, *service_repository.INDEXES])
    guard = guard_for(database)
    return Services(
        settings=settings,
        client=client,
        database=database,
        catalog=CatalogService(database, SchemaValidators(specs["tmf620"]), settings, guard),
        product_ordering=product_ordering_service(database, SchemaValidators(specs["tmf622"]), settings, guard),
        service_ordering=service_ordering_service(database, SchemaValidators(specs["tmf641"]), settings, guard),
    )


def _spec_route(spec: dict[str, Any]) -> Any:
    async def serve_spec(_request: Any) -> Any:
        return json_response(spec)

    return serve_spec


def create_app(settings: Settings, mongodb_uri: str) -> Any:
    """The ASGI application; the database client opens and closes with the app's lifespan."""
    specs = {api.name: bundle(api_spec_path(api.spec_file)) for api in APIS}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        client = connect(mongodb_uri)
        try:
            yield {"services": build_services(settings, client, specs)}
        finally:
            client.close()

    app = connexion.AsyncApp(__name__, lifespan=lifespan)
    # The root-mounted API goes first: connexion tries mounts in reverse order of addition.
    app.add_api(
        bundle(api_spec_path(SERVICE_SPEC)),
        name="service",
        swagger_ui_options=SwaggerUIOptions(swagger_ui=False, serve_spec=False),
    )
    for api in APIS:
        spec = specs[api.name]
        base_path = spec["servers"][0]["url"]
        app.add_api(
            spec,
            name=api.name,
            strict_validation=False,
            validate_responses=settings.validate_responses,
            swagger_ui_options=SwaggerUIOptions(
                serve_spec=False, swagger_ui_config={"url": f"{base_path}/openapi.json"}
            ),
        )
    for api in APIS:
        spec = specs[api.name]
        app.add_url_rule(f"{spec['servers'][0]['url']}/openapi.json", f"{api.name}_spec", _spec_route(spec))
    install_error_handlers(app, specs.values())
    return BodyLimitMiddleware(app, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)


def spec_files() -> list[Path]:
    return [api_spec_path(api.spec_file) for api in APIS] + [api_spec_path(SERVICE_SPEC)]
