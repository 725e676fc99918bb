"""The composition root: create_app() wires settings, database, services and the APIs; nothing connects at import."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import connexion
import requests
from connexion.options import SwaggerUIOptions
from pymongo import MongoClient
from pymongo.database import Database

from orchestration import store as orchestration_store
from orchestration.engine import EngineSettings, FulfilmentEngine
from tmf620_catalog import repository as catalog_repository
from tmf620_catalog.service import CatalogService
from tmf622_product_ordering import repository as ordering_repository
from tmf622_product_ordering.service import PRODUCT_ORDERING
from tmf641_service_ordering import repository as service_repository
from tmf641_service_ordering.service import SERVICE_ORDERING
from tmf_common import delivery
from tmf_common import hub as hub_module
from tmf_common.delivery import DeliveryWorker, EventSource
from tmf_common.http import BodyLimitMiddleware, install_error_handlers, json_response
from tmf_common.hub import EventApi, HubService
from tmf_common.mongo import connect, ensure_indexes
from tmf_common.openapi_bundle import api_spec_path, bundle
from tmf_common.ordering_service import OrderingService
from tmf_common.retry import RetryPolicy
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import guard_for
from tmf_server.engine_pump import EnginePump
from tmf_server.event_pump import EventPump

log = logging.getLogger("tmf.server")


@dataclass(frozen=True)
class ApiModule:
    spec_file: str
    name: str


APIS = (
    ApiModule("tmf620-product-catalog.yaml", "tmf620"),
    ApiModule("tmf622-product-ordering.yaml", "tmf622"),
    ApiModule("tmf641-service-ordering.yaml", "tmf641"),
    ApiModule("event-delivery.yaml", "eventDelivery"),
    ApiModule("orchestration.yaml", "orchestration"),
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
    hub: HubService
    events: EventPump
    engine: FulfilmentEngine
    orchestration: EnginePump


EVENT_APIS = {
    "tmf620": EventApi("productCatalogManagement", "/tmf-api/productCatalogManagement/v4"),
    "tmf622": EventApi("productOrderingManagement", "/tmf-api/productOrderingManagement/v4"),
    "tmf641": EventApi("serviceOrdering", "/tmf-api/serviceOrdering/v4"),
}


def build_services(settings: Settings, client: MongoClient, specs: dict[str, dict[str, Any]]) -> Services:
    database = client[settings.database_name]
    ensure_indexes(
        database,
        [
            *catalog_repository.INDEXES,
            *ordering_repository.INDEXES,
            *service_repository.INDEXES,
            *hub_module.INDEXES,
            *delivery.INDEXES,
            *orchestration_store.INDEXES,
        ],
    )
    guard = guard_for(database)
    catalog = CatalogService(database, SchemaValidators(specs["tmf620"]), settings, guard)
    product_ordering = OrderingService(database, SchemaValidators(specs["tmf622"]), settings, guard, PRODUCT_ORDERING)
    service_ordering = OrderingService(database, SchemaValidators(specs["tmf641"]), settings, guard, SERVICE_ORDERING)
    hub = HubService(database, settings, list(EVENT_APIS.values()), guard)
    sources = [
        *(EventSource(EVENT_APIS["tmf620"].name, service.repository) for service in catalog.services()),
        *(
            EventSource(EVENT_APIS["tmf622"].name, s.repository)
            for s in (product_ordering.orders, product_ordering.cancellations)
        ),
        *(
            EventSource(EVENT_APIS["tmf641"].name, s.repository)
            for s in (service_ordering.orders, service_ordering.cancellations)
        ),
    ]
    session = requests.Session()
    session.headers["User-Agent"] = "tmf-order-orchestration/0.1 (event hub)"
    policy = RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        first_delay=timedelta(seconds=settings.webhook_first_delay_seconds),
        multiplier=2.0,
        max_delay=timedelta(seconds=settings.webhook_max_delay_seconds),
        jitter=0.2,
        max_age=timedelta(seconds=settings.webhook_max_age_seconds),
    )
    worker = DeliveryWorker(
        database, hub, delivery.http_sender(session), policy, lease=timedelta(seconds=settings.webhook_lease_seconds)
    )
    relay = delivery.EventRelay(database, sources, hub, guard)
    worker.envelopes = relay.envelopes
    pump = EventPump(relay, worker, settings.event_poll_seconds, send=settings.deliver_events)
    for source in sources:
        source.repository.on_recorded = pump.notify
    signals = orchestration_store.SignalQueue(database)
    engine = FulfilmentEngine(
        orchestration_store.PlanRepository(database, guard),
        signals,
        orchestration_store.LeaseTable(database),
        product_ordering,
        service_ordering,
        catalog,
        EngineSettings(
            service_order_deadline=timedelta(seconds=settings.service_order_deadline_seconds),
            public_url=settings.public_url,
        ),
    )
    # Cancelling a product order asks the engine, which unwinds the service orders it created.
    product_ordering.cancellation_flow = replace(
        product_ordering.cancellation_flow, decide=engine.decide_cancellation, confirm=engine.confirm_cancellation
    )
    engine_pump = EnginePump(engine, signals, settings.engine_poll_seconds, settings.engine_workers)
    if settings.run_engine:
        relay.consumers.append(engine.on_events)
        engine.on_signal = engine_pump.notify
        # A new order starts at once; the relay's durable signal for its CreateEvent follows as the safety net.
        product_ordering.orders.repository.on_created = lambda order_id: engine_pump.notify(order_id, "")
    return Services(
        settings=settings,
        client=client,
        database=database,
        catalog=catalog,
        product_ordering=product_ordering,
        service_ordering=service_ordering,
        hub=hub,
        events=pump,
        engine=engine,
        orchestration=engine_pump,
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
        services = build_services(settings, client, specs)
        if settings.deliver_events or settings.run_engine:
            services.events.start()
        if settings.run_engine:
            services.orchestration.start()
        try:
            yield {"services": services}
        finally:
            services.orchestration.stop()
            services.events.stop()
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
