"""Engine failure paths over the real database, stepped by hand: a service order past its deadline, a step that
keeps failing until its retries run out, and a refusal that is not retried. The shared server (no engine of its
own) serves the catalog and orders; the test builds an engine on the same database with short limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from orchestration.engine import EngineSettings, FulfilmentEngine
from orchestration.store import SIGNALS, LeaseTable, PlanRepository, SignalQueue
from tests.api.orchestrating import catalog_family_plan
from tests.support import wait_for
from tmf_common.errors import BadRequest
from tmf_common.openapi_bundle import api_spec_path, bundle
from tmf_common.retry import RetryPolicy
from tmf_server.app import APIS, Services, build_services
from tmf_server.example_catalog import load_example_catalog

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
TIMEOUT = 10
QUICK_RETRIES = RetryPolicy(
    max_attempts=2,
    first_delay=timedelta(seconds=1),
    multiplier=1.0,
    max_delay=timedelta(seconds=1),
    jitter=0.0,
    max_age=None,
)


@pytest.fixture
def services(settings, mongo_client, server, database) -> Services:  # type: ignore[no-untyped-def]
    specs = {api.name: bundle(api_spec_path(api.spec_file)) for api in APIS}
    return build_services(settings, mongo_client, specs)


def engine_with(services: Services, **settings: Any) -> FulfilmentEngine:
    guard = services.engine.plans.guard
    return FulfilmentEngine(
        PlanRepository(services.database, guard),
        SignalQueue(services.database),
        LeaseTable(services.database),
        services.product_ordering,
        services.service_ordering,
        services.catalog,
        replace(EngineSettings(), **settings),
    )


@pytest.fixture
def order_id(server, database) -> str:  # type: ignore[no-untyped-def]
    """A family-plan order, acknowledged and untouched (the shared server runs no engine)."""
    catalog = load_example_catalog(server.url)
    response = requests.post(server.url + ORDERS, json=catalog_family_plan(catalog), timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def task(engine: FulfilmentEngine, order_id: str, task_id: str) -> dict[str, Any]:
    return engine.plan(order_id).plan.task(task_id).to_document()


def held_after_advancing(engine: FulfilmentEngine, order_id: str) -> bool:
    assert engine.advance(order_id)
    return engine.plan(order_id).plan.state == "held"


def test_a_service_order_without_an_outcome_by_its_deadline_holds_the_order(services, order_id):
    engine = engine_with(services, service_order_deadline=timedelta(milliseconds=300))
    assert engine.advance(order_id)
    wait = task(engine, order_id, "awaitServiceOrder/1")
    assert wait["state"] == "running"
    deadline = wait["deadline"]
    # The deadline is a durable timer, so a process that restarts in between still looks at it.
    timers = list(services.database[SIGNALS].find({"orderId": order_id, "_id": {"$regex": "timer"}}))
    assert [timer["at"] for timer in timers] == [deadline]

    wait_for(lambda: held_after_advancing(engine, order_id), timeout=10, what="the deadline to hold the plan")

    plan = engine.plan(order_id).plan
    assert "had no outcome by its deadline" in (plan.reason or "")
    order = services.product_ordering.orders.retrieve(order_id).body
    assert order["state"] == "held"
    assert any("deadline" in note["text"] for note in order["note"])
    # The finished wait's timer is gone: nothing is left to fire for it.
    assert services.database[SIGNALS].count_documents({"orderId": order_id, "_id": {"$regex": "timer"}}) == 0


def test_a_step_that_keeps_failing_waits_between_attempts_then_holds_and_resume_runs_it_again(
    services, order_id, monkeypatch
):
    engine = engine_with(services, retry_policy=QUICK_RETRIES)
    calls: list[str] = []

    def unreachable(*_: Any) -> dict[str, Any]:
        calls.append(datetime.now(UTC).isoformat())
        raise ConnectionError("service ordering database unreachable")

    monkeypatch.setattr(engine, "_create_service_order", unreachable)

    assert engine.advance(order_id)
    waiting = task(engine, order_id, "createServiceOrder/1")
    assert waiting["state"] == "waitingRetry"
    assert waiting["attempts"] == 1
    assert "unreachable" in waiting["error"]
    assert waiting["nextAttemptAt"] > waiting["startedAt"]
    timer = services.database[SIGNALS].find_one({"orderId": order_id, "at": waiting["nextAttemptAt"]})
    assert timer is not None, "a waiting retry must have a durable timer"

    wait_for(lambda: held_after_advancing(engine, order_id), timeout=10, what="the retries to run out")
    failed = task(engine, order_id, "createServiceOrder/1")
    assert failed["state"] == "failed"
    assert failed["attempts"] == 2
    assert "after 2 attempts" in failed["error"]
    assert len(calls) == 2
    assert services.service_ordering.orders.repository.collection.count_documents({}) == 0

    monkeypatch.undo()
    engine.resume(order_id, "database back")
    assert engine.advance(order_id)
    again = task(engine, order_id, "createServiceOrder/1")
    assert again["state"] == "done"
    assert again["attempts"] == 1
    assert services.service_ordering.orders.repository.collection.count_documents({}) == 1
    assert services.product_ordering.orders.retrieve(order_id).body["state"] == "inProgress"


def test_a_refusal_by_our_own_api_is_not_retried(services, order_id, monkeypatch):
    engine = engine_with(services, retry_policy=QUICK_RETRIES)

    def refused(*_: Any) -> dict[str, Any]:
        raise BadRequest("serviceOrderItem[0].service is required")

    monkeypatch.setattr(engine, "_create_service_order", refused)
    assert engine.advance(order_id)
    failed = task(engine, order_id, "createServiceOrder/1")
    assert failed["state"] == "failed"
    assert failed["attempts"] == 1
    assert "refused" in failed["error"]
    assert engine.plan(order_id).plan.state == "held"
