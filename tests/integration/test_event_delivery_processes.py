"""Webhook delivery across real server processes (`python -m tmf_server.cli serve`) on one database: a process
killed with SIGKILL while deliveries are outstanding loses none of them, and two processes delivering at once send
each event exactly once in the healthy path."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pymongo import MongoClient
from pymongo.database import Database

from tests.listeners import Listener, Received
from tests.payloads import family_plan_order
from tests.processes import Server
from tests.support import wait_for

PRODUCT_ORDERING = "/tmf-api/productOrderingManagement/v4"
TIMEOUT = 10
OPEN_STATES = ["pending", "inFlight", "waitingRetry"]
# Short retries; a back-off of about a second between attempts while the listener fails leaves a quiet moment in
# which to kill the server with no attempt under way (a delivery killed mid-attempt waits out its 30 s lease).
BASE_ENV = {
    "TMF_ALLOW_PRIVATE_CALLBACKS": "1",
    "TMF_RUN_ENGINE": "0",
    "TMF_EVENT_POLL_SECONDS": "0.2",
    "TMF_WEBHOOK_MAX_ATTEMPTS": "200",
    "TMF_WEBHOOK_FIRST_DELAY_SECONDS": "0.05",
    "TMF_WEBHOOK_MAX_DELAY_SECONDS": "0.3",
    "TMF_WEBHOOK_MAX_AGE_SECONDS": "300",
}


@pytest.fixture
def database_name(mongo_client: MongoClient) -> Iterator[str]:
    name = f"tmf_events_{uuid.uuid4().hex[:12]}"
    yield name
    mongo_client.drop_database(name)


@contextmanager
def servers(mongodb_uri: str, database: str, log_dir: Path, *environments: dict[str, str]) -> Iterator[list[Server]]:
    """One server process per environment (the TMF_* variables each adds to BASE_ENV), all on `database`."""
    started = [Server(mongodb_uri, database, log_dir, {**BASE_ENV, **env}) for env in environments]
    try:
        yield [server.wait_ready() for server in started]
    finally:
        for server in started:
            server.stop()


def register(base: str, callback: str, query: str = "") -> str:
    response = requests.post(
        f"{base}{PRODUCT_ORDERING}/hub", json={"callback": callback, "query": query}, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text
    subscription_id: str = response.json()["id"]
    return subscription_id


def create_order(base: str, number: int) -> str:
    response = requests.post(
        f"{base}{PRODUCT_ORDERING}/productOrder",
        json=family_plan_order(externalId=f"PROCESS-TEST-{number:04d}"),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


def cancel_order(base: str, order_id: str) -> None:
    response = requests.post(
        f"{base}{PRODUCT_ORDERING}/cancelProductOrder", json={"productOrder": {"id": order_id}}, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text


def unrelayed(db: Database) -> int:
    return sum(
        db[collection].count_documents({"_events.0": {"$exists": True}})
        for collection in ("product_order", "cancel_product_order")
    )


def open_deliveries(db: Database, subscription_id: str) -> int:
    return db["event_delivery"].count_documents({"subscriptionId": subscription_id, "state": {"$in": OPEN_STATES}})


def settled(db: Database, subscription_id: str) -> bool:
    return unrelayed(db) == 0 and open_deliveries(db, subscription_id) == 0


def order_of(event: dict[str, Any]) -> str | None:
    order = event["event"].get("productOrder")
    return None if order is None else str(order["id"])


def accepted_by_event(received: list[Received]) -> dict[str, list[Received]]:
    by_event: dict[str, list[Received]] = defaultdict(list)
    for request in received:
        if request.accepted:
            assert request.event_id is not None and request.headers["x-event-id"] == request.event_id
            by_event[request.event_id].append(request)
    return by_event


def describe_duplicates(db: Database, subscription_id: str, duplicates: dict[str, int]) -> str:
    """Who sent each duplicated event, and when: the delivery record's attempts and history name the senders."""
    lines = []
    for event_id, times in duplicates.items():
        delivery = db["event_delivery"].find_one({"_id": f"{subscription_id}:{event_id}"}) or {}
        claims = list(db["event_delivery_claim"].find({"_id": {"$regex": f"^{subscription_id}:{event_id}#"}}))
        lines.append(
            f"event {event_id} received {times} times; delivery state={delivery.get('state')} "
            f"attempts={delivery.get('attempts')} history={delivery.get('history')} claims={claims}"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- crash


def test_sigkill_while_deliveries_are_outstanding_loses_no_event(mongodb_uri, mongo_client, database_name, tmp_path):
    db = mongo_client[database_name]
    # About a second between attempts while the listener fails: room to kill the server between two attempts.
    slow_retries = {"TMF_WEBHOOK_FIRST_DELAY_SECONDS": "1.0", "TMF_WEBHOOK_MAX_DELAY_SECONDS": "1.0"}
    with Listener(status=500) as listener:
        with servers(mongodb_uri, database_name, tmp_path, slow_retries) as (first,):
            subscription_id = register(first.url, listener.url)
            orders = [create_order(first.url, number) for number in range(6)]
            cancelled = orders[:2]
            for order_id in cancelled:
                cancel_order(first.url, order_id)
            wait_for(lambda: len(listener.received) >= 2, timeout=15, what="failed attempts")

            def quiet() -> bool:
                # No attempt under way, and the subscriber backed off for a while yet.
                subscription = db["hub_subscription"].find_one({"_id": subscription_id}) or {}
                until = subscription.get("_backoffUntil")
                return (
                    listener.busy == 0
                    and db["event_delivery"].count_documents({"state": "inFlight"}) == 0
                    and until is not None
                    and datetime.fromisoformat(until.replace("Z", "+00:00"))
                    > datetime.now(UTC) + timedelta(seconds=0.4)
                )

            wait_for(quiet, timeout=15, interval=0.01, what="a moment between two attempts")
            first.kill()

        outstanding = open_deliveries(db, subscription_id) + unrelayed(db)
        assert outstanding > 0, "nothing was outstanding at the kill"
        assert not listener.accepted()
        failed_before = len(listener.received)

        listener.heal()
        with servers(mongodb_uri, database_name, tmp_path, slow_retries) as (second,):
            wait_for(lambda: settled(db, subscription_id), timeout=45, what="every delivery settled after restart")
            assert requests.get(f"{second.url}{PRODUCT_ORDERING}/hub/{subscription_id}", timeout=TIMEOUT).ok

    states = Counter(d["state"] for d in db["event_delivery"].find({"subscriptionId": subscription_id}))
    assert states == {"delivered": db["event_log"].count_documents({})}, states
    by_event = accepted_by_event(listener.received)
    # Every event logged reached the listener; a repeat (at-least-once) is the same event, same eventId and body.
    assert set(by_event) == {entry["_id"] for entry in db["event_log"].find({}, {"_id": 1})}
    for requests_of_event in by_event.values():
        assert len({request.body for request in requests_of_event}) == 1
    # ... and the events are the ones the API calls caused, independently of the relay: one create per order,
    # and a move to cancelled for each cancelled order.
    events = [requests_of_event[0].json for requests_of_event in by_event.values()]
    created = Counter(order_of(e) for e in events if e["eventType"] == "ProductOrderCreateEvent")
    assert created == dict.fromkeys(orders, 1)
    moved_to_cancelled = {
        order_of(e)
        for e in events
        if e["eventType"] == "ProductOrderStateChangeEvent" and e["event"]["productOrder"]["state"] == "cancelled"
    }
    assert moved_to_cancelled == set(cancelled)
    assert len(listener.received) > failed_before


# ----------------------------------------------------------------------------------------------- two processes


def test_two_processes_deliver_every_event_exactly_once(mongodb_uri, mongo_client, database_name, tmp_path):
    db = mongo_client[database_name]
    with Listener() as listener, servers(mongodb_uri, database_name, tmp_path, {}, {}) as pair:
        subscription_id = register(pair[0].url, listener.url)
        orders = [create_order(pair[number % 2].url, number) for number in range(10)]
        for number, order_id in enumerate(orders[:2]):
            cancel_order(pair[(number + 1) % 2].url, order_id)

        wait_for(lambda: settled(db, subscription_id), timeout=30, what="every delivery settled")
        logged = {entry["_id"] for entry in db["event_log"].find({}, {"_id": 1})}
        counts = Counter(str(request.event_id) for request in listener.accepted())
        duplicates = {event_id: times for event_id, times in counts.items() if times > 1}
        assert not duplicates, describe_duplicates(db, subscription_id, duplicates)
        assert set(counts) == logged
        assert not [request for request in listener.received if not request.accepted]

    created = {order_of(r.json) for r in listener.accepted() if r.event_type == "ProductOrderCreateEvent"}
    assert created == set(orders)
    senders = {
        entry["owner"].rsplit(":", 2)[1]
        for delivery in db["event_delivery"].find({"subscriptionId": subscription_id})
        for entry in delivery["history"]
    }
    # Both processes delivered (each relays the orders written through it), so "exactly once" was contended.
    assert senders == {str(server.process.pid) for server in pair}


def test_a_subscription_registered_through_one_process_gets_events_recorded_by_another(
    mongodb_uri, mongo_client, database_name, tmp_path
):
    """An API-only process takes the registration; the delivering process must not relay with an older list."""
    db = mongo_client[database_name]
    api_only = {"TMF_DELIVER_EVENTS": "0"}
    with (
        Listener() as early,
        Listener() as late,
        servers(mongodb_uri, database_name, tmp_path, api_only, {}) as (
            one,
            other,
        ),
    ):
        early_id = register(one.url, early.url)
        # The delivering process relays an event for the first subscription, so it has just read the list ...
        create_order(other.url, 0)
        early.wait_for_accepted(1)
        # ... then a second listener registers through the API-only process, and an order follows at once.
        late_id = register(one.url, late.url)
        order_id = create_order(other.url, 1)

        (arrived,) = late.wait_for_accepted(1, timeout=10)
        assert order_of(arrived.json) == order_id
        wait_for(lambda: settled(db, early_id) and settled(db, late_id), what="deliveries settled")
        assert [order_of(r.json) for r in late.accepted()] == [order_id]
