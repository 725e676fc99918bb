"""Event hubs (issue 4) through real HTTP, the real database and real loopback listeners: registration on every API,
the TMF envelope as a listener receives it, filtering, unregistering, signatures, the SSRF policy and bad input.

The shared `server` does not deliver events; this module starts its own delivering server (see `delivering`), and
its helpers are shared by tests/api/test_event_delivery.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.listeners import Listener, Received
from tests.payloads import family_plan_order
from tests.support import assert_tmf_error, parse_instant, wait_for
from tmf_common.signing import SIGNATURE_HEADER, verify

TIMEOUT = 10
CATALOG = "/tmf-api/productCatalogManagement/v4"
PRODUCT_ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
DELIVERY_OPERATIONS = "/operations/eventDelivery/v1"
SECRET = "s3cr3t-signing-key-of-the-listener"


@pytest.fixture
def second_listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


# ----------------------------------------------------------------------------------------------- shared helpers


def register(base: str, api: str, callback: str, query: str | None = None, **extra: Any) -> dict[str, Any]:
    """Register a listener; asserts 201 with id, callback, query and Location, returns the subscription."""
    body: dict[str, Any] = {"callback": callback, **extra}
    if query is not None:
        body["query"] = query
    response = requests.post(f"{base}{api}/hub", json=body, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()
    assert subscription["id"]
    assert subscription["callback"] == callback
    assert subscription["query"] == (query or "")
    assert response.headers["Location"] == f"{base}{api}/hub/{subscription['id']}"
    assert "secret" not in subscription and "_secret" not in subscription
    return subscription


def unregister(base: str, api: str, subscription_id: str) -> None:
    response = requests.delete(f"{base}{api}/hub/{subscription_id}", timeout=TIMEOUT)
    assert response.status_code == 204, response.text


def create_order(base: str, **overrides: Any) -> dict[str, Any]:
    response = requests.post(
        f"{base}{PRODUCT_ORDERING}/productOrder", json=family_plan_order(**overrides), timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def cancel_order(base: str, order_id: str) -> dict[str, Any]:
    response = requests.post(
        f"{base}{PRODUCT_ORDERING}/cancelProductOrder", json={"productOrder": {"id": order_id}}, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    assert task["state"] == "done", task
    return task


def order_events(received: list[Received], order_id: str) -> list[dict[str, Any]]:
    """The accepted events about one product order, in the order the listener took them."""
    return [
        request.json
        for request in received
        if request.accepted and request.json["event"].get("productOrder", {}).get("id") == order_id
    ]


def logged_order(database, order_key: str) -> list[str]:
    """The event ids of one resource in the order they happened (event_log: revision, then place in the write)."""
    return [
        entry["_id"]
        for entry in database["event_log"].find({"orderKey": order_key}).sort([("revision", 1), ("index", 1)])
    ]


def relayed(database) -> bool:
    """Every event recorded by the ordering APIs has left its resource's outbox for the event log."""
    return all(
        database[collection].count_documents({"_events.0": {"$exists": True}}) == 0
        for collection in ("product_order", "cancel_product_order", "service_order", "cancel_service_order")
    )


def settled(database, subscription_id: str) -> bool:
    """Every recorded event is relayed and no delivery of the subscription is still to be sent (one at least exists)."""
    deliveries = database["event_delivery"]
    return (
        relayed(database)
        and deliveries.count_documents({"subscriptionId": subscription_id}) > 0
        and deliveries.count_documents(
            {"subscriptionId": subscription_id, "state": {"$in": ["pending", "inFlight", "waitingRetry"]}}
        )
        == 0
    )


# ----------------------------------------------------------------------------------------------- registration


@pytest.mark.parametrize("api", [CATALOG, PRODUCT_ORDERING, SERVICE_ORDERING])
def test_register_read_list_and_unregister_on_every_api(delivering, listener, api):
    query = "eventType=SomeCreateEvent"
    subscription = register(delivering, api, listener.url, query, secret=SECRET)
    assert subscription["signed"] is True
    url = f"{delivering}{api}/hub/{subscription['id']}"
    assert subscription["href"] == url

    fetched = requests.get(url, timeout=TIMEOUT)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == subscription
    assert SECRET not in fetched.text

    unsigned = register(delivering, api, listener.url)
    assert unsigned["signed"] is False
    listed = requests.get(f"{delivering}{api}/hub", timeout=TIMEOUT)
    assert listed.status_code == 200, listed.text
    assert sorted(item["id"] for item in listed.json()) == sorted([subscription["id"], unsigned["id"]])
    assert listed.headers["X-Total-Count"] == "2"
    assert SECRET not in listed.text

    # Another API's hub neither lists nor finds them.
    other = CATALOG if api != CATALOG else SERVICE_ORDERING
    assert requests.get(f"{delivering}{other}/hub", timeout=TIMEOUT).json() == []
    assert_tmf_error(requests.get(f"{delivering}{other}/hub/{subscription['id']}", timeout=TIMEOUT), 404)

    unregister(delivering, api, subscription["id"])
    assert_tmf_error(requests.get(url, timeout=TIMEOUT), 404)
    assert_tmf_error(requests.delete(url, timeout=TIMEOUT), 404)
    assert [item["id"] for item in requests.get(f"{delivering}{api}/hub", timeout=TIMEOUT).json()] == [unsigned["id"]]


# ----------------------------------------------------------------------------------------------- envelope and order


def test_order_create_and_cancel_reach_the_listener_as_tmf_events_in_order(delivering, listener, database):
    subscription = register(delivering, PRODUCT_ORDERING, listener.url)
    before = time.time()
    order = create_order(delivering)
    cancel_order(delivering, order["id"])

    wait_for(lambda: settled(database, subscription["id"]), what="every delivery sent")
    expected = logged_order(database, f"productOrder/{order['id']}")
    events = order_events(listener.received, order["id"])
    assert [event["eventId"] for event in events] == expected

    types = [event["eventType"] for event in events]
    assert types[0] == "ProductOrderCreateEvent"
    assert types.count("ProductOrderCreateEvent") == 1
    state_changes = [event for event in events if event["eventType"] == "ProductOrderStateChangeEvent"]
    assert [event["event"]["productOrder"]["state"] for event in state_changes] == [
        "assessingCancellation",
        "pendingCancellation",
        "cancelled",
    ]
    assert events[0]["event"]["productOrder"] == order

    by_event_id = {request.event_id: request for request in listener.received}
    for event in events:
        assert set(event) >= {"eventId", "eventTime", "eventType", "timeOcurred", "correlationId", "domain", "event"}
        assert event["domain"] == "productOrder"
        assert event["timeOcurred"] == event["eventTime"]
        assert event["correlationId"]
        assert parse_instant(event["eventTime"]).timestamp() >= before - 1
        assert event["event"]["productOrder"]["id"] == order["id"]
        request = by_event_id[event["eventId"]]
        assert request.method == "POST"
        assert request.path == "/events"
        assert request.headers["x-event-id"] == event["eventId"]
        assert request.headers["content-type"] == "application/json"
        assert SIGNATURE_HEADER.lower() not in request.headers  # no secret, no signature
    # Times never go backwards along one resource.
    assert [event["eventTime"] for event in events] == sorted(event["eventTime"] for event in events)
    # The cancellation task is a resource of its own, with its own events on the same hub.
    task_types = [
        request.event_type for request in listener.accepted() if "cancelProductOrder" in request.json["event"]
    ]
    assert task_types[0] == "CancelProductOrderCreateEvent"
    assert "CancelProductOrderStateChangeEvent" in task_types


# ----------------------------------------------------------------------------------------------- filtering


def test_filter_by_one_event_type(delivering, listener, second_listener, database):
    only_state = register(delivering, PRODUCT_ORDERING, listener.url, "eventType=ProductOrderStateChangeEvent")
    everything = register(delivering, PRODUCT_ORDERING, second_listener.url)
    order = create_order(delivering)
    cancel_order(delivering, order["id"])

    wait_for(lambda: settled(database, only_state["id"]) and settled(database, everything["id"]), what="deliveries")
    assert {request.event_type for request in listener.received} == {"ProductOrderStateChangeEvent"}
    assert len(listener.received) == 3
    # The control saw the other types, so the filter did the selecting.
    assert {"ProductOrderCreateEvent", "CancelProductOrderCreateEvent"} <= {
        request.event_type for request in second_listener.received
    }


def test_filter_by_a_comma_list_of_event_types(delivering, listener, database):
    subscription = register(
        delivering, PRODUCT_ORDERING, listener.url, "eventType=ProductOrderCreateEvent,CancelProductOrderCreateEvent"
    )
    order = create_order(delivering)
    cancel_order(delivering, order["id"])

    wait_for(lambda: settled(database, subscription["id"]), what="deliveries")
    assert sorted(request.event_type for request in listener.received) == [
        "CancelProductOrderCreateEvent",
        "ProductOrderCreateEvent",
    ]


def test_filter_by_a_nested_field(delivering, listener, second_listener, database):
    cancelled = register(delivering, PRODUCT_ORDERING, listener.url, "event.productOrder.state=cancelled")
    control = register(delivering, PRODUCT_ORDERING, second_listener.url)
    kept = create_order(delivering)
    dropped = create_order(delivering)
    cancel_order(delivering, dropped["id"])

    wait_for(lambda: settled(database, cancelled["id"]) and settled(database, control["id"]), what="deliveries")
    received = [request.json for request in listener.received]
    assert {event["event"]["productOrder"]["id"] for event in received} == {dropped["id"]}
    assert {event["event"]["productOrder"]["state"] for event in received} == {"cancelled"}
    # The move to cancelled, and whatever else was recorded about the order once cancelled; nothing before it.
    assert "ProductOrderStateChangeEvent" in {event["eventType"] for event in received}
    cancelled_ids = {
        event["eventId"]
        for event in second_listener.accepted_events()
        if event["event"].get("productOrder", {}).get("state") == "cancelled"
    }
    assert {event["eventId"] for event in received} == cancelled_ids
    # The control received both orders, so the other events did happen.
    assert {kept["id"], dropped["id"]} <= {
        event["event"].get("productOrder", {}).get("id") for event in second_listener.accepted_events()
    }


def test_a_catalog_hub_receives_no_ordering_events(delivering, listener, second_listener, database):
    catalog = register(delivering, CATALOG, listener.url)
    ordering = register(delivering, PRODUCT_ORDERING, second_listener.url)
    order = create_order(delivering)
    offering = requests.post(
        f"{delivering}{CATALOG}/productOffering", json={"name": "Hub probe", "isBundle": False}, timeout=TIMEOUT
    )
    assert offering.status_code == 201, offering.text

    wait_for(lambda: settled(database, catalog["id"]) and settled(database, ordering["id"]), what="deliveries")
    assert [r.event_type for r in second_listener.received] == ["ProductOrderCreateEvent"]
    assert second_listener.received[0].json["event"]["productOrder"]["id"] == order["id"]
    assert [r.event_type for r in listener.received] == ["ProductOfferingCreateEvent"]
    assert listener.received[0].json["event"]["productOffering"]["id"] == offering.json()["id"]


# ----------------------------------------------------------------------------------------------- unregistering


def test_unregistering_stops_deliveries(delivering, listener, second_listener, database):
    leaving = register(delivering, PRODUCT_ORDERING, listener.url, "eventType=ProductOrderCreateEvent")
    staying = register(delivering, PRODUCT_ORDERING, second_listener.url, "eventType=ProductOrderCreateEvent")
    first = create_order(delivering)
    listener.wait_for_accepted(1)
    second_listener.wait_for_accepted(1)

    unregister(delivering, PRODUCT_ORDERING, leaving["id"])
    second = create_order(delivering)
    # Positive control: the listener still registered receives the order created after the DELETE ...
    accepted = second_listener.wait_for_accepted(2)
    assert [r.json["event"]["productOrder"]["id"] for r in accepted] == [first["id"], second["id"]]
    wait_for(lambda: settled(database, staying["id"]), what="deliveries")
    # ... and the one that left got only the order created before it.
    assert [r.json["event"]["productOrder"]["id"] for r in listener.received] == [first["id"]]
    assert (
        database["event_delivery"].count_documents({"subscriptionId": leaving["id"], "eventId": accepted[1].event_id})
        == 0
    )


# ----------------------------------------------------------------------------------------------- signature


def test_signed_deliveries_verify_with_the_secret_only(delivering, listener, database):
    register(delivering, PRODUCT_ORDERING, listener.url, "eventType=ProductOrderCreateEvent", secret=SECRET)
    create_order(delivering)
    (request,) = listener.wait_for_accepted(1)

    header = request.headers[SIGNATURE_HEADER.lower()]
    assert header.startswith("t=") and ",v1=" in header
    now = int(time.time())
    assert verify(SECRET, header, request.body, now)
    assert not verify("another-secret-of-16-chars", header, request.body, now)
    assert not verify(SECRET, header, request.body + b" ", now)  # the body is covered
    assert not verify(SECRET, header, request.body, now + 3600)  # so is the time: an old signature is a replay


# ----------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "callback",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.10.20:8080/events",
        "http://[fe80::1]/events",
        "ftp://127.0.0.1/events",
        "/events",
        "listener.example.com/events",
        "http://does-not-resolve.invalid/events",
    ],
)
def test_refused_callbacks_are_400_with_the_reason(delivering, callback):
    response = requests.post(f"{delivering}{PRODUCT_ORDERING}/hub", json={"callback": callback}, timeout=TIMEOUT)
    body = assert_tmf_error(response, 400)
    assert "callback" in body["message"].lower() or "host" in body["message"].lower(), body
    assert requests.get(f"{delivering}{PRODUCT_ORDERING}/hub", timeout=TIMEOUT).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": "eventType=ProductOrderCreateEvent"},
        {"callback": 42},
        {"callback": ["http://127.0.0.1/events"]},
        {"callback": ""},
        {"callback": "not a url"},
        {"callback": "http://127.0.0.1:9/events", "query": "a%3E%3E1"},
        {"callback": "http://127.0.0.1:9/events", "query": "limit=5"},
        {"callback": "http://127.0.0.1:9/events", "secret": "short"},
    ],
)
def test_bad_registrations_are_400_and_register_nothing(delivering, body):
    response = requests.post(f"{delivering}{PRODUCT_ORDERING}/hub", json=body, timeout=TIMEOUT)
    assert_tmf_error(response, 400)
    assert requests.get(f"{delivering}{PRODUCT_ORDERING}/hub", timeout=TIMEOUT).json() == []


def test_a_body_that_is_not_json_is_a_tmf_error(delivering):
    response = requests.post(
        f"{delivering}{PRODUCT_ORDERING}/hub",
        data="callback=http://127.0.0.1/",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT,
    )
    assert 400 <= response.status_code < 500
    assert_tmf_error(response, response.status_code)


@pytest.mark.parametrize("api", [CATALOG, PRODUCT_ORDERING, SERVICE_ORDERING])
def test_unknown_subscription_is_404_on_delete_and_get(delivering, api):
    assert_tmf_error(requests.delete(f"{delivering}{api}/hub/no-such-subscription", timeout=TIMEOUT), 404)
    assert_tmf_error(requests.get(f"{delivering}{api}/hub/no-such-subscription", timeout=TIMEOUT), 404)
