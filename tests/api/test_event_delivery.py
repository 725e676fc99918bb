"""Durable webhook delivery (issue 4) against real loopback listeners that fail, recover, never recover, leave
(410) or are slow: retries in order per resource, attempts in the delivery records, dead letters and their replay,
and one slow subscriber not delaying another. Runs its own delivering server (the shared `server` does not deliver)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import requests

from tests.api.delivering import DELIVERING_SETTINGS
from tests.api.test_event_hub import (
    DELIVERY_OPERATIONS,
    PRODUCT_ORDERING,
    TIMEOUT,
    cancel_order,
    create_order,
    logged_order,
    register,
    settled,
)
from tests.listeners import Listener
from tests.support import assert_tmf_error, wait_for

MAX_ATTEMPTS = DELIVERING_SETTINGS.webhook_max_attempts
SLOW_SECONDS = 2.0


def operations(base: str, path: str, **params: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base}{DELIVERY_OPERATIONS}{path}", params=params, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    assert response.headers["X-Result-Count"] == str(len(items))
    return items


def replay(base: str, path: str) -> requests.Response:
    return requests.post(f"{base}{DELIVERY_OPERATIONS}{path}", timeout=TIMEOUT)


# ----------------------------------------------------------------------------------------------- retries


def test_a_listener_failing_for_a_while_receives_every_event_in_order(delivering, listener, database):
    listener.respond(500, 500, 500)
    subscription = register(delivering, PRODUCT_ORDERING, listener.url)
    order = create_order(delivering)
    task = cancel_order(delivering, order["id"])

    wait_for(lambda: settled(database, subscription["id"]), timeout=20, what="every delivery settled")
    deliveries = operations(delivering, "/delivery", subscriptionId=subscription["id"])
    assert {delivery["state"] for delivery in deliveries} == {"delivered"}, deliveries

    # Every event arrived once, and each resource's events in the order they happened.
    accepted = listener.accepted()
    keys = {f"productOrder/{order['id']}", f"cancelProductOrder/{task['id']}"}
    assert {delivery["orderKey"] for delivery in deliveries} == keys
    key_of = {delivery["eventId"]: delivery["orderKey"] for delivery in deliveries}
    arrived: dict[str, list[str]] = defaultdict(list)
    for request in accepted:
        arrived[key_of[request.event_id]].append(request.event_id)
    for key in keys:
        assert arrived[key] == logged_order(database, key), key
    assert len(accepted) == len(deliveries) == database["event_log"].count_documents({})
    assert len({request.event_id for request in accepted}) == len(accepted)

    # The three 500s are in the records: attempts and history of the deliveries that met them.
    failed = [request for request in listener.received if request.status == 500]
    assert len(failed) == 3
    retried = [delivery for delivery in deliveries if delivery["attempts"] > 1]
    assert retried
    assert sum(delivery["attempts"] for delivery in deliveries) == len(deliveries) + 3
    for delivery in deliveries:
        statuses = [entry["status"] for entry in delivery["history"]]
        assert statuses == [500] * (delivery["attempts"] - 1) + [201], delivery
        assert delivery["firstAttemptAt"] and delivery["finishedAt"]
    assert {request.event_id for request in failed} <= {delivery["eventId"] for delivery in retried}


def test_a_listener_that_never_recovers_gets_dead_letters_that_can_be_replayed(delivering, listener, database):
    listener.respond(status=500)
    subscription = register(delivering, PRODUCT_ORDERING, listener.url, "eventType=ProductOrderCreateEvent")
    first = create_order(delivering)
    second = create_order(delivering)

    def two_dead_letters() -> list[dict[str, Any]]:
        found = operations(delivering, "/deadLetter", subscriptionId=subscription["id"])
        return found if len(found) == 2 else []

    dead = wait_for(two_dead_letters, timeout=20, what="two dead letters")
    for letter in dead:
        assert letter["state"] == "deadLetter"
        assert letter["attempts"] == MAX_ATTEMPTS
        assert [entry["status"] for entry in letter["history"]] == [500] * MAX_ATTEMPTS
        assert letter["lastError"] == "HTTP 500"
    assert len(listener.received) == 2 * MAX_ATTEMPTS
    assert not listener.accepted()
    assert [item["id"] for item in operations(delivering, "/delivery", state="deadLetter")] == [
        item["id"] for item in dead
    ]
    by_order = {letter["orderKey"].split("/")[1]: letter for letter in dead}
    assert set(by_order) == {first["id"], second["id"]}

    listener.heal()
    # One dead letter replayed alone: only that one arrives.
    one = by_order[first["id"]]
    response = replay(delivering, f"/delivery/{one['id']}/replay")
    assert response.status_code == 200, response.text
    assert response.json() == {"replayed": 1}
    (arrived,) = listener.wait_for_accepted(1)
    assert arrived.event_id == one["eventId"]
    assert arrived.json["event"]["productOrder"]["id"] == first["id"]
    wait_for(lambda: database["event_delivery"].find_one({"_id": one["id"]})["state"] == "delivered")
    # A delivered delivery is no dead letter.
    assert_tmf_error(replay(delivering, f"/delivery/{one['id']}/replay"), 409)
    assert [item["id"] for item in operations(delivering, "/deadLetter", subscriptionId=subscription["id"])] == [
        by_order[second["id"]]["id"]
    ]

    # The rest of the subscription's dead letters.
    response = replay(delivering, f"/subscription/{subscription['id']}/replay")
    assert response.status_code == 200, response.text
    assert response.json() == {"replayed": 1}
    accepted = listener.wait_for_accepted(2)
    assert [request.event_id for request in accepted] == [one["eventId"], by_order[second["id"]]["eventId"]]
    wait_for(lambda: settled(database, subscription["id"]), what="replayed deliveries settled")
    assert operations(delivering, "/deadLetter", subscriptionId=subscription["id"]) == []
    assert len(listener.accepted()) == 2


def test_replay_of_unknown_things_is_404(delivering):
    assert_tmf_error(replay(delivering, "/subscription/no-such-subscription/replay"), 404)
    assert_tmf_error(replay(delivering, "/delivery/no-such-delivery/replay"), 404)


def test_410_gone_removes_the_subscription(delivering, listener, database):
    listener.respond(status=410)
    subscription = register(delivering, PRODUCT_ORDERING, listener.url, "eventType=ProductOrderCreateEvent")
    hub_url = f"{delivering}{PRODUCT_ORDERING}/hub/{subscription['id']}"
    create_order(delivering)

    wait_for(lambda: requests.get(hub_url, timeout=TIMEOUT).status_code == 404, what="the subscription removed")
    assert_tmf_error(requests.get(hub_url, timeout=TIMEOUT), 404)
    # The subscription goes first, then the delivery is closed.
    (delivery,) = wait_for(
        lambda: [
            d
            for d in operations(delivering, "/delivery", subscriptionId=subscription["id"])
            if d["state"] != "inFlight"
        ],
        what="the delivery closed",
    )
    assert delivery["state"] == "dropped"
    assert "410" in delivery["lastError"]
    assert [request.status for request in listener.received] == [410]

    # Nothing more is sent to it: a later order creates no delivery for it, and the listener hears nothing.
    later = create_order(delivering)
    wait_for(
        lambda: database["event_log"].find_one({"orderKey": f"productOrder/{later['id']}"}),
        what="the later order's event relayed",
    )
    assert database["event_delivery"].count_documents({"subscriptionId": subscription["id"]}) == 1
    assert len(listener.received) == 1


# ----------------------------------------------------------------------------------------------- isolation


def test_one_slow_subscriber_does_not_delay_another(delivering, database):
    with Listener(delay=SLOW_SECONDS) as slow, Listener() as healthy:
        slow_subscription = register(delivering, PRODUCT_ORDERING, slow.url, "eventType=ProductOrderCreateEvent")
        register(delivering, PRODUCT_ORDERING, healthy.url, "eventType=ProductOrderCreateEvent")
        create_order(delivering)
        healthy.wait_for_accepted(1, timeout=5)
        wait_for(lambda: slow.busy == 1, timeout=5, what="the slow listener busy with the first event")

        posted = time.monotonic()
        second = create_order(delivering)
        accepted = healthy.wait_for_accepted(2, timeout=SLOW_SECONDS)
        assert accepted[1].json["event"]["productOrder"]["id"] == second["id"]
        latency = accepted[1].received_at - posted
        assert latency < 1.0, f"the healthy listener waited {latency:.2f}s behind the slow one"

        # The slow listener was still answering its first event when the healthy one had the second ...
        slow_first = wait_for(lambda: slow.received, timeout=SLOW_SECONDS + 5, what="the slow answer")[0]
        assert slow_first.answered_at > accepted[1].received_at
        # ... and it gets every event too, in the end.
        wait_for(
            lambda: settled(database, slow_subscription["id"]), timeout=3 * SLOW_SECONDS + 5, what="slow deliveries"
        )
        assert len(slow.accepted()) == 2
