"""The orchestration engine through real HTTP and the real database: a product order becomes TMF641 service orders
(decomposed through the example catalog), the test OSS drives them, and the product order and its plan follow:
completion, hold and resume, cancellation and rejection.

The shared `server` does not run the engine; this module starts its own engine-running, event-delivering server.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.api.orchestrating import (
    BUNDLED_IN,
    CATALOG,
    DATA_VOICE_SPEC,
    ENGINE_NOTE_AUTHOR,
    MERGE_PATCH,
    MOBILE_LINE_KEY,
    ORCHESTRATING_SETTINGS,
    PLANS,
    PORTAL_BUNDLE_RELATIONSHIP,
    PRODUCT_ORDERING,
    SETTLE,
    SUBSCRIPTION_SPEC,
    TIMEOUT,
    catalog_family_plan,
    engine_notes,
    family_plan_with_sims,
    family_plan_with_standalone_sim,
    get_cancellation,
    get_order,
    get_plan,
    get_plan_response,
    item_states,
    ok_json,
    post_order,
    realised_items,
    request_cancellation,
    resume_plan,
    specification_ids,
    standalone_sim,
    wait_for_order_state,
    wait_for_plan_state,
    wait_for_service_order_state,
    wait_for_service_orders,
    wait_until,
)
from tests.api.test_product_ordering import assert_conforms
from tests.api.test_service_ordering import official_errors
from tests.oss import TestOss
from tests.support import ServerThread, assert_tmf_error, parse_instant, wait_for
from tmf_common.clock import format_instant
from tmf_common.idempotency import _NAMESPACE as IDEMPOTENCY_NAMESPACE
from tmf_server.app import create_app
from tmf_server.example_catalog import load_example_catalog

FAMILY_ITEMS = {"1", "2", "3", "4"}
SIM_CHARACTERISTICS = {"simType", "dataAllowance", "voiceAllowance"}


@pytest.fixture(scope="module")
def orchestrating_server(mongodb_uri: str) -> Iterator[ServerThread]:
    """A second app on the test database that runs the engine and delivers events (the shared `server` does not)."""
    thread = ServerThread(create_app(ORCHESTRATING_SETTINGS, mongodb_uri)).start()
    yield thread
    thread.stop()


@pytest.fixture
def base(orchestrating_server: ServerThread, database) -> str:
    """The engine-running server's base URL, on a database emptied for this test."""
    return orchestrating_server.url


@pytest.fixture
def catalog(base: str) -> dict[str, dict[str, Any]]:
    """The example catalog, loaded through the API: x-key -> created resource."""
    with requests.Session() as session:
        return load_example_catalog(base, session=session)


@pytest.fixture
def oss(base: str) -> Iterator[TestOss]:
    with requests.Session() as session:
        yield TestOss(base, session)


# ----------------------------------------------------------------------------------------------- helpers


def assert_official_service_order(body: dict[str, Any]) -> None:
    assert official_errors("ServiceOrder", body) == [], body


def expected_service_order_id(order_id: str, task_id: str) -> str:
    """The idempotent id: a UUIDv5 of the key '<productOrderId>/<taskId>' (under the service-order namespace)."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"serviceOrder:{order_id}/{task_id}"))


def tasks_by_id(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["id"]: task for task in plan["tasks"]}


def milestone_names(plan: dict[str, Any]) -> list[str]:
    return [milestone["name"] for milestone in plan["milestones"]]


def in_progress_with_service_orders(base: str, order_id: str, count: int) -> dict[str, Any]:
    """The product order once the engine has created every service order of its plan and the order shows them
    (inProgress, each item naming the service orders realising it); asserts there are `count` of them."""

    def settled() -> dict[str, Any] | None:
        response = get_plan_response(base, order_id)
        if response.status_code != 200:
            return None
        plan = response.json()
        creates = [task for task in plan["tasks"] if task["kind"] == "createServiceOrder"]
        if plan["state"] != "running" or not creates or any(task["state"] != "done" for task in creates):
            return None
        order = get_order(base, order_id)
        named = {ref["id"] for item in order["productOrderItem"] for ref in item.get("serviceOrder") or []}
        created = {service_order["id"] for service_order in plan["serviceOrders"]}
        shown = all(item.get("serviceOrder") for item in order["productOrderItem"]) and named == created
        return order if order["state"] == "inProgress" and shown else None

    order: dict[str, Any] = wait_until(
        settled, timeout=SETTLE, what=f"productOrder {order_id} inProgress with its service orders on its items"
    )
    named = {str(item["id"]): [ref["id"] for ref in item["serviceOrder"]] for item in order["productOrderItem"]}
    assert len({ref for refs in named.values() for ref in refs}) == count, f"service orders per item: {named}"
    return order


def running_plan_with_waits(base: str, order_id: str, count: int) -> dict[str, Any]:
    """The plan once `count` waits on service orders are running (every service order was created)."""

    def ready() -> dict[str, Any] | None:
        response = get_plan_response(base, order_id)
        if response.status_code != 200:
            return None
        plan: dict[str, Any] = response.json()
        waits = [t for t in plan["tasks"] if t["kind"] == "awaitServiceOrder" and t["state"] == "running"]
        return plan if len(waits) == count else None

    found: dict[str, Any] = wait_until(ready, timeout=SETTLE, what=f"{count} running waits in the plan of {order_id}")
    return found


def wait_for_task_state(base: str, order_id: str, task_id: str, state: str) -> dict[str, Any]:
    """The plan once its task `task_id` is in `state`."""

    def reached() -> dict[str, Any] | None:
        plan = get_plan(base, order_id)
        task = tasks_by_id(plan).get(task_id)
        return plan if task is not None and task["state"] == state else None

    found: dict[str, Any] = wait_until(reached, timeout=SETTLE, what=f"task {task_id} of {order_id} to be {state}")
    return found


def split_by_items(service_orders: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the family-plan service order, the standalone-SIM service order)."""
    family = [order for order in service_orders if realised_items(order) == FAMILY_ITEMS]
    single = [order for order in service_orders if realised_items(order) == {"5"}]
    assert len(family) == 1 and len(single) == 1, [realised_items(order) for order in service_orders]
    return family[0], single[0]


def create_offering(base: str, catalog: dict[str, dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """A copy of the mobile-line offering created through the catalog API, with `changes`."""
    template = catalog[MOBILE_LINE_KEY]
    body = {key: copy.deepcopy(value) for key, value in template.items() if key not in ("id", "href", "lastUpdate")}
    body.update(changes)
    created: dict[str, Any] = ok_json(
        requests.post(f"{base}{CATALOG}/productOffering", json=body, timeout=TIMEOUT), 201
    )
    for name, value in changes.items():
        assert created[name] == value, created
    return created


def register_care_team(base: str, callback: str) -> dict[str, Any]:
    body = {"callback": callback, "query": "eventType=ProductOrderInformationRequiredEvent"}
    response = requests.post(f"{base}{PRODUCT_ORDERING}/hub", json=body, timeout=TIMEOUT)
    subscription: dict[str, Any] = ok_json(response, 201)
    return subscription


def logged_events(database, order_id: str) -> list[dict[str, Any]]:
    """The envelopes relayed for one product order, in the order they happened."""
    entries = database["event_log"].find({"orderKey": f"productOrder/{order_id}"}).sort([("revision", 1), ("index", 1)])
    return [entry["envelope"] for entry in entries]


def wait_for_logged(database, order_id: str, event_type: str) -> list[dict[str, Any]]:
    """The product order's relayed envelopes once one of them is of `event_type`."""

    def logged() -> list[dict[str, Any]] | None:
        envelopes = logged_events(database, order_id)
        return envelopes if any(e["eventType"] == event_type for e in envelopes) else None

    found: list[dict[str, Any]] = wait_until(logged, timeout=SETTLE, what=f"{event_type} in the event log")
    return found


def wait_for_cancellation(base: str, task_id: str, states: tuple[str, ...]) -> dict[str, Any]:
    """The cancelProductOrder task once it is in one of `states`."""

    def finished() -> dict[str, Any] | None:
        task = get_cancellation(base, task_id)
        return task if task["state"] in states else None

    found: dict[str, Any] = wait_until(finished, timeout=SETTLE, what=f"cancelProductOrder {task_id} in {states}")
    return found


def engine_caught_up(database, order_id: str, service_order_id: str) -> bool:
    """The service order's events have been relayed (so the engine was signalled) and the engine has acted on
    every signal about the product order that is due (what is left are timers for later)."""
    relayed = database["service_order"].count_documents({"_id": service_order_id, "_events.0": {"$exists": True}})
    now = format_instant(datetime.now(UTC))
    due = database["orchestration_signal"].count_documents({"orderId": order_id, "at": {"$lte": now}})
    return relayed == 0 and due == 0


# ----------------------------------------------------------------------------------------------- decomposition


@pytest.mark.parametrize(
    "relationship_type",
    [PORTAL_BUNDLE_RELATIONSHIP, BUNDLED_IN],
    ids=["portal-payload-bundled", "bundledIn"],
)
def test_family_plan_becomes_one_service_order_with_the_bundle_structure(base, catalog, oss, relationship_type):
    """The portal's order (tests/payloads.py, SIMs related to the bundle as 'bundled') and the same order with
    'bundledIn' both decompose into one service order: the subscription and the three SIMs that rely on it."""
    created = post_order(base, catalog_family_plan(catalog, relationship_type))
    order_id = created["id"]
    assert created["state"] == "acknowledged"

    order = in_progress_with_service_orders(base, order_id, 1)
    service_orders = oss.for_product_order(order_id)
    assert len(service_orders) == 1, [realised_items(so) for so in service_orders]
    service_order = oss.get(service_orders[0]["id"])

    # Idempotent creation: the id is derived from the product order and the task that created it.
    assert service_order["id"] == expected_service_order_id(order_id, "createServiceOrder/1")
    assert uuid.UUID(service_order["id"]).version == 5
    assert service_order["state"] == "acknowledged"
    assert service_order["externalReference"] == [
        {
            "id": order_id,
            "href": created["href"],
            "externalReferenceType": "ProductOrder",
            "name": f"productOrder {order_id} item 1",
        }
    ]
    assert_official_service_order(service_order)

    items = service_order["serviceOrderItem"]
    assert len(items) == 4, items
    assert sorted(specification_ids(service_order)) == sorted([SUBSCRIPTION_SPEC] + [DATA_VOICE_SPEC] * 3)
    subscription = next(item for item in items if item["service"]["serviceSpecification"]["id"] == SUBSCRIPTION_SPEC)
    assert "serviceOrderItemRelationship" not in subscription
    sims = [item for item in items if item is not subscription]
    sim_items_realised = set()
    for sim in sims:
        assert sim["action"] == "add"
        assert sim["serviceOrderItemRelationship"] == [
            {"relationshipType": "reliesOn", "orderItem": {"id": subscription["id"], "itemId": subscription["id"]}}
        ]
        characteristics = {c["name"]: c for c in sim["service"].get("serviceCharacteristic") or []}
        assert set(characteristics) >= SIM_CHARACTERISTICS, sorted(characteristics)
        assert characteristics["voiceAllowance"]["value"] == "unlimited"
        assert characteristics["dataAllowance"]["value"] == {"amount": 100, "units": "GB"}
        related = sim["service"]["relatedEntity"]
        assert {"id": order_id, "href": created["href"], "role": "productOrder", "@referredType": "ProductOrder"} in (
            related
        )
        sim_items_realised |= {e["id"] for e in related if e["@referredType"] == "ProductOrderItem"}
    assert sim_items_realised == {"2", "3", "4"}
    assert realised_items(service_order) == FAMILY_ITEMS

    # The product order follows: inProgress, each item inProgress and naming the service order realising it.
    assert set(item_states(order).values()) == {"inProgress"}
    reference = {"id": service_order["id"], "href": service_order["href"], "@referredType": "ServiceOrder"}
    for item in order["productOrderItem"]:
        assert item["serviceOrder"] == [reference], item
    assert_conforms("ProductOrder", order)

    plan = running_plan_with_waits(base, order_id, 1)
    assert plan["id"] == order_id
    assert plan["state"] == "running"
    assert plan["productOrder"]["id"] == order_id
    tasks = tasks_by_id(plan)
    assert set(tasks) == {"decompose", "createServiceOrder/1", "awaitServiceOrder/1"}
    assert tasks["decompose"]["state"] == "done"
    assert tasks["createServiceOrder/1"]["state"] == "done"
    assert tasks["createServiceOrder/1"]["attempts"] == 1
    assert tasks["createServiceOrder/1"]["dependsOn"] == ["decompose"]
    assert tasks["awaitServiceOrder/1"]["dependsOn"] == ["createServiceOrder/1"]
    assert tasks["awaitServiceOrder/1"]["error"] is None
    assert set(tasks["awaitServiceOrder/1"]["orderItems"]) == FAMILY_ITEMS
    started = parse_instant(tasks["createServiceOrder/1"]["startedAt"])
    assert started <= parse_instant(tasks["createServiceOrder/1"]["finishedAt"])
    assert parse_instant(tasks["awaitServiceOrder/1"]["deadline"]) > started
    assert milestone_names(plan)[:2] == ["decomposed", "serviceOrderCreated"]
    assert plan["serviceOrders"] == [
        {
            "id": service_order["id"],
            "href": service_order["href"],
            "taskId": "createServiceOrder/1",
            "group": "1",
            "state": "acknowledged",
        }
    ]


def test_each_root_item_gets_its_own_service_order(base, catalog, oss):
    order_id = post_order(base, family_plan_with_standalone_sim(catalog))["id"]
    order = in_progress_with_service_orders(base, order_id, 2)
    family, single = split_by_items(oss.for_product_order(order_id))

    assert sorted(specification_ids(family)) == sorted([SUBSCRIPTION_SPEC] + [DATA_VOICE_SPEC] * 3)
    assert specification_ids(single) == [DATA_VOICE_SPEC]
    assert "serviceOrderItemRelationship" not in single["serviceOrderItem"][0]
    assert family["id"] == expected_service_order_id(order_id, "createServiceOrder/1")
    assert single["id"] == expected_service_order_id(order_id, "createServiceOrder/5")
    for service_order in (family, single):
        assert_official_service_order(oss.get(service_order["id"]))
    for item in order["productOrderItem"]:
        expected = single if item["id"] == "5" else family
        assert [ref["id"] for ref in item["serviceOrder"]] == [expected["id"]], item


# ----------------------------------------------------------------------------------------------- completion


def test_completed_service_order_completes_the_product_order_and_the_plan(base, catalog, oss):
    order_id = post_order(base, catalog_family_plan(catalog))["id"]
    in_progress_with_service_orders(base, order_id, 1)
    (service_order,) = oss.for_product_order(order_id)

    assert oss.complete(service_order["id"])["state"] == "completed"

    order = wait_for_order_state(base, order_id, "completed")
    assert set(item_states(order).values()) == {"completed"}
    assert parse_instant(order["completionDate"]) >= parse_instant(order["orderDate"])
    assert engine_notes(order) == []
    assert_conforms("ProductOrder", order)

    plan = wait_for_plan_state(base, order_id, "completed")
    tasks = tasks_by_id(plan)
    assert {task["state"] for task in tasks.values()} == {"done"}
    assert tasks["awaitServiceOrder/1"]["finishedAt"] is not None
    assert {"serviceOrderCompleted", "completed"} <= set(milestone_names(plan))
    assert [so["state"] for so in plan["serviceOrders"]] == ["completed"]
    assert plan["reason"] is None

    listed = ok_json(requests.get(f"{base}{PLANS}", params={"state": "completed"}, timeout=TIMEOUT))
    assert [found["id"] for found in listed] == [order_id]
    assert ok_json(requests.get(f"{base}{PLANS}", params={"state": "running"}, timeout=TIMEOUT)) == []
    # Nothing more was ordered from the OSS.
    assert [so["id"] for so in oss.for_product_order(order_id)] == [service_order["id"]]


# ----------------------------------------------------------------------------------------------- hold


def test_failed_service_order_holds_the_order_and_tells_the_care_team(base, catalog, oss, listener, database):
    subscription = register_care_team(base, listener.url)
    order_id = post_order(base, catalog_family_plan(catalog))["id"]
    in_progress_with_service_orders(base, order_id, 1)
    (service_order,) = oss.for_product_order(order_id)

    failed = oss.fail(service_order["id"], "HLR rejected MSISDN 15415550102")
    assert failed["state"] == "failed"

    order = wait_for_order_state(base, order_id, "held")
    assert set(item_states(order).values()) == {"held"}
    (note,) = engine_notes(order)
    assert note["text"].startswith("Held:"), note
    assert service_order["id"] in note["text"]
    assert "HLR rejected MSISDN 15415550102" in note["text"]
    parse_instant(note["date"])
    assert_conforms("ProductOrder", order)

    plan = wait_for_plan_state(base, order_id, "held")
    assert service_order["id"] in plan["reason"]
    tasks = tasks_by_id(plan)
    assert tasks["awaitServiceOrder/1"]["state"] == "failed"
    assert service_order["id"] in tasks["awaitServiceOrder/1"]["error"]
    assert "serviceOrderFailed" in milestone_names(plan)
    assert [so["state"] for so in plan["serviceOrders"]] == ["failed"]

    held = ok_json(requests.get(f"{base}{PLANS}", params={"state": "held"}, timeout=TIMEOUT))
    assert [found["id"] for found in held] == [order_id]
    assert ok_json(requests.get(f"{base}{PLANS}", params={"state": "running"}, timeout=TIMEOUT)) == []

    # The care team's subscription receives the information-required event, and only that kind.
    (received,) = listener.wait_for_accepted(1, timeout=SETTLE)
    event = received.json
    assert event["eventType"] == "ProductOrderInformationRequiredEvent"
    assert event["event"]["productOrder"]["id"] == order_id
    assert event["event"]["productOrder"]["state"] == "held"
    assert any(n["text"].startswith("Held:") for n in event["event"]["productOrder"]["note"])
    assert received.headers["x-event-id"] == event["eventId"]
    assert {request.event_type for request in listener.received} == {"ProductOrderInformationRequiredEvent"}
    assert subscription["query"] == "eventType=ProductOrderInformationRequiredEvent"

    # Both events are recorded for every integrator: the state change to held and the information required.
    envelopes = wait_for_logged(database, order_id, "ProductOrderInformationRequiredEvent")
    held_changes = [
        e
        for e in envelopes
        if e["eventType"] == "ProductOrderStateChangeEvent" and e["event"]["productOrder"]["state"] == "held"
    ]
    assert len(held_changes) == 1, [e["eventType"] for e in envelopes]
    assert [e["eventType"] for e in envelopes].count("ProductOrderInformationRequiredEvent") == 1


# ----------------------------------------------------------------------------------------------- resume


def test_resume_reorders_only_the_failed_part(base, catalog, oss, database):
    order_id = post_order(base, family_plan_with_standalone_sim(catalog))["id"]
    in_progress_with_service_orders(base, order_id, 2)
    family, single = split_by_items(oss.for_product_order(order_id))

    oss.fail(family["id"], "SIM batch out of stock")
    wait_for_plan_state(base, order_id, "held")
    oss.complete(single["id"])
    # The other service order's outcome wakes the engine; a held plan takes no step until an operator resumes it.
    wait_for(lambda: engine_caught_up(database, order_id, single["id"]), timeout=SETTLE, what="the engine to look")
    held = get_plan(base, order_id)
    assert held["state"] == "held"
    assert tasks_by_id(held)["awaitServiceOrder/5"]["state"] == "running"
    assert family["id"] in held["reason"]
    assert single["id"] not in held["reason"]
    assert get_order(base, order_id)["state"] == "held"

    response = resume_plan(base, order_id, "New SIM batch arrived; retrying")
    resumed = ok_json(response)
    assert resumed["id"] == order_id
    assert resumed["state"] == "running"
    assert resumed["reason"] is None
    assert "resumed" in milestone_names(resumed)
    order = get_order(base, order_id)
    assert order["state"] == "inProgress"
    operator_notes = [note for note in order["note"] if note.get("text") == "New SIM batch arrived; retrying"]
    assert len(operator_notes) == 1, order["note"]
    assert operator_notes[0]["author"] != ENGINE_NOTE_AUTHOR

    # Exactly one new service order, for the failed part only.
    service_orders = wait_for_service_orders(oss, order_id, 3)
    assert len(service_orders) == 3, [(so["id"], so["state"]) for so in service_orders]
    (fresh,) = [so for so in service_orders if so["id"] not in (family["id"], single["id"])]
    fresh = oss.get(fresh["id"])
    assert realised_items(fresh) == realised_items(family) == FAMILY_ITEMS
    assert sorted(specification_ids(fresh)) == sorted(specification_ids(family))
    assert fresh["state"] == "acknowledged"
    assert fresh["id"] == expected_service_order_id(order_id, "createServiceOrder/1/1")
    assert_official_service_order(fresh)
    assert oss.get(family["id"])["state"] == "failed"
    assert oss.get(single["id"])["state"] == "completed"

    plan = wait_for_task_state(base, order_id, "awaitServiceOrder/1/1", "running")
    tasks = tasks_by_id(plan)
    assert tasks["awaitServiceOrder/1"]["state"] == "superseded"
    assert tasks["createServiceOrder/1"]["state"] == "done"
    assert tasks["createServiceOrder/1/1"]["state"] == "done"
    assert tasks["createServiceOrder/1/1"]["generation"] == 1
    assert tasks["awaitServiceOrder/1/1"]["state"] == "running"
    assert tasks["awaitServiceOrder/5"]["state"] == "done"
    assert "createServiceOrder/5/1" not in tasks
    by_task = {so["taskId"]: so for so in plan["serviceOrders"]}
    assert by_task["createServiceOrder/1"]["state"] == "failed"
    assert by_task["createServiceOrder/1/1"]["id"] == fresh["id"]
    assert by_task["createServiceOrder/5"]["state"] == "completed"

    # A plan that is not held cannot be resumed.
    assert_tmf_error(resume_plan(base, order_id), 409)

    oss.complete(fresh["id"])
    done = wait_for_order_state(base, order_id, "completed")
    assert set(item_states(done).values()) == {"completed"}
    assert done.get("completionDate")
    for item in done["productOrderItem"]:
        realising = {ref["id"] for ref in item["serviceOrder"]}
        assert realising == ({single["id"]} if item["id"] == "5" else {family["id"], fresh["id"]}), item
    assert wait_for_plan_state(base, order_id, "completed")["reason"] is None
    assert len(oss.for_product_order(order_id)) == 3


def test_patching_a_held_order_back_to_in_progress_resumes_it(base, catalog, oss):
    order_id = post_order(base, catalog_family_plan(catalog))["id"]
    in_progress_with_service_orders(base, order_id, 1)
    (failed,) = oss.for_product_order(order_id)
    oss.fail(failed["id"], "HLR timeout")
    wait_for_order_state(base, order_id, "held")
    wait_until(
        lambda: "orderHeld" in milestone_names(get_plan(base, order_id)) or None,
        what="the engine to see the order held",
    )

    patched = requests.patch(
        f"{base}{PRODUCT_ORDERING}/productOrder/{order_id}",
        json={
            "state": "inProgress",
            "note": [*get_order(base, order_id)["note"], {"text": "retry it", "author": "ops"}],
        },
        headers=MERGE_PATCH,
        timeout=TIMEOUT,
    )
    assert patched.status_code == 200, patched.text

    service_orders = wait_for_service_orders(oss, order_id, 2)
    (fresh,) = [so for so in service_orders if so["id"] != failed["id"]]
    assert fresh["id"] == expected_service_order_id(order_id, "createServiceOrder/1/1")
    plan = wait_for_plan_state(base, order_id, "running")
    assert tasks_by_id(plan)["awaitServiceOrder/1"]["state"] == "superseded"
    oss.complete(fresh["id"])
    assert wait_for_order_state(base, order_id, "completed")["completionDate"]


def test_resume_refuses_a_plan_that_is_not_held(base, catalog, oss):
    order_id = post_order(base, catalog_family_plan(catalog))["id"]
    running_plan_with_waits(base, order_id, 1)
    body = assert_tmf_error(resume_plan(base, order_id, "nothing to resume"), 409)
    assert "held" in body["message"]
    assert get_plan(base, order_id)["state"] == "running"
    assert all(note.get("text") != "nothing to resume" for note in get_order(base, order_id)["note"])


# ----------------------------------------------------------------------------------------------- cancellation


def test_cancelling_an_order_in_progress_cancels_its_service_order(base, catalog, oss):
    order_id = post_order(base, catalog_family_plan(catalog))["id"]
    in_progress_with_service_orders(base, order_id, 1)
    (service_order,) = oss.for_product_order(order_id)
    assert service_order["state"] == "acknowledged"

    task = request_cancellation(base, order_id)
    assert task["state"] in ("inProgress", "done"), task

    cancelled_service_order = wait_for_service_order_state(oss, service_order["id"], "cancelled")
    assert_official_service_order(cancelled_service_order)
    order = wait_for_order_state(base, order_id, "cancelled")
    assert set(item_states(order).values()) == {"cancelled"}
    assert order.get("cancellationDate")
    finished = wait_for_cancellation(base, task["id"], ("done",))
    assert finished.get("effectiveCancellationDate")

    plan = wait_for_plan_state(base, order_id, "cancelled")
    tasks = tasks_by_id(plan)
    cancels = [t for t in tasks.values() if t["kind"] == "cancelServiceOrder"]
    assert [t["state"] for t in cancels] == ["done"], cancels
    assert tasks["awaitServiceOrder/1"]["state"] == "cancelled"
    assert plan["cancellationId"] == task["id"]
    assert [so["state"] for so in plan["serviceOrders"]] == ["cancelled"]
    assert [so["id"] for so in oss.for_product_order(order_id)] == [service_order["id"]]

    requests_for_it = ok_json(
        requests.get(f"{oss.url}/cancelServiceOrder", params={"serviceOrder.id": service_order["id"]}, timeout=TIMEOUT)
    )
    assert [request["state"] for request in requests_for_it] == ["done"], requests_for_it


def test_cancelling_a_completed_order_is_refused(base, catalog, oss):
    order_id = post_order(base, catalog_family_plan(catalog))["id"]
    in_progress_with_service_orders(base, order_id, 1)
    (service_order,) = oss.for_product_order(order_id)
    oss.complete(service_order["id"])
    completed = wait_for_order_state(base, order_id, "completed")
    wait_for_plan_state(base, order_id, "completed")

    task = request_cancellation(base, order_id)
    final = wait_for_cancellation(base, task["id"], ("done", "terminatedWithError"))
    assert final["state"] == "terminatedWithError", final
    assert "effectiveCancellationDate" not in final

    order = get_order(base, order_id)
    assert order["state"] == "completed"
    assert item_states(order) == item_states(completed)
    assert "cancellationDate" not in order
    assert get_plan(base, order_id)["state"] == "completed"
    assert oss.get(service_order["id"])["state"] == "completed"


# ----------------------------------------------------------------------------------------------- rejection


def _unknown_offering(base: str, catalog: dict[str, dict[str, Any]]) -> tuple[str, str]:
    return "po-does-not-exist-4711", "does not exist"


def _retired_offering(base: str, catalog: dict[str, dict[str, Any]]) -> tuple[str, str]:
    created = create_offering(base, catalog, name="Postpaid Mobile 50 GB (retired)", lifecycleStatus="Retired")
    return created["id"], "Retired"


def _expired_offering(base: str, catalog: dict[str, dict[str, Any]]) -> tuple[str, str]:
    period = {"startDateTime": "2020-01-01T00:00:00.000Z", "endDateTime": "2021-01-01T00:00:00.000Z"}
    created = create_offering(base, catalog, name="Postpaid Mobile 2020 promotion", validFor=period)
    return created["id"], "not valid at"


@pytest.mark.parametrize(
    "bad_offering",
    [_unknown_offering, _retired_offering, _expired_offering],
    ids=["unknown-offering", "retired-offering", "expired-offering"],
)
def test_an_order_naming_an_unorderable_offering_is_rejected(base, catalog, oss, bad_offering):
    offering_id, cause = bad_offering(base, catalog)
    body = catalog_family_plan(catalog)
    bad_item = standalone_sim(catalog)
    bad_item["productOffering"]["id"] = offering_id
    body["productOrderItem"].append(bad_item)
    order_id = post_order(base, body)["id"]

    order = wait_for_order_state(base, order_id, "rejected")
    assert_rejected(base, oss, order, [offering_id, cause])


def test_more_sims_than_the_bundle_takes_is_rejected(base, catalog, oss):
    order_id = post_order(base, family_plan_with_sims(catalog, 6))["id"]
    order = wait_for_order_state(base, order_id, "rejected")
    assert_rejected(base, oss, order, ["at most 5", "gives 6", catalog[MOBILE_LINE_KEY]["id"]])


def test_a_bundle_within_its_limits_is_not_rejected(base, catalog, oss):
    """The limit check counts the children: five SIMs, the upper limit, is fine."""
    order_id = post_order(base, family_plan_with_sims(catalog, 5))["id"]
    in_progress_with_service_orders(base, order_id, 1)
    (service_order,) = oss.for_product_order(order_id)
    assert sorted(specification_ids(service_order)) == sorted([SUBSCRIPTION_SPEC] + [DATA_VOICE_SPEC] * 5)


def assert_rejected(base: str, oss: TestOss, order: dict[str, Any], causes: list[str]) -> None:
    order_id = order["id"]
    assert set(item_states(order).values()) == {"rejected"}, item_states(order)
    notes = [note for note in engine_notes(order) if note["text"].startswith("Rejected: ")]
    assert len(notes) == 1, order.get("note")
    for cause in causes:
        assert cause in notes[0]["text"], notes[0]
    assert_conforms("ProductOrder", order)

    plan = wait_for_plan_state(base, order_id, "rejected")
    for cause in causes:
        assert cause in plan["reason"], plan["reason"]
    assert plan["serviceOrders"] == []
    assert [(t["id"], t["state"]) for t in plan["tasks"]] == [("decompose", "failed")]
    assert oss.for_product_order(order_id) == []
    assert ok_json(requests.get(f"{base}{PLANS}", params={"state": "rejected"}, timeout=TIMEOUT))[0]["id"] == order_id


# ----------------------------------------------------------------------------------------------- bad input


def test_plan_api_answers_unknown_ids_with_tmf_errors(base, catalog):
    assert_tmf_error(get_plan_response(base, "no-such-order"), 404)
    assert_tmf_error(resume_plan(base, "no-such-order", "please"), 404)
    assert_tmf_error(requests.get(f"{base}{PLANS}", params={"state": "sleeping"}, timeout=TIMEOUT), 400)
    assert ok_json(requests.get(f"{base}{PLANS}", params={"state": "held"}, timeout=TIMEOUT)) == []
