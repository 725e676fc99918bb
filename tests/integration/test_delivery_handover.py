"""The relay's hand-over of fresh stream heads to the sender, on the real database: it saves reads, and a stale
hand-over never sends an event twice (the attempt claim, not the hint, decides who sends)."""

from __future__ import annotations

import threading
from typing import Any

from tests.support import wait_for
from tmf_common.delivery import DeliveryWorker, EventRelay, EventSource, Head, Outcome
from tmf_common.events import new_event
from tmf_common.http import RequestContext
from tmf_common.hub import EventApi, HubService, Subscription
from tmf_common.repository import ResourceRepository
from tmf_common.settings import Settings
from tmf_common.write_guard import guard_for

API = EventApi("thingManagement", "/tmf-api/thingManagement/v1")
NOW = "2026-12-04T12:00:00Z"


class RecordingSender:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    def __call__(self, subscription: Subscription, body: bytes, headers: dict[str, str]) -> Outcome:
        with self.lock:
            self.bodies.append(body)
        return Outcome(204, None)


def _relay_one_event(database: Any) -> tuple[HubService, set[str], dict[str, Head]]:
    guard = guard_for(database)
    hub = HubService(database, Settings(allow_private_callbacks=True), [API], guard)
    hub.register(API, {"callback": "http://127.0.0.1:9/listener"}, RequestContext(base_url="http://test"))
    things = ResourceRepository(database["thing"], guard)
    things.insert({"id": "t1"}, [new_event("ThingCreateEvent", "thing", {"id": "t1"}, NOW)], NOW)
    relay = EventRelay(database, [EventSource(API.name, things)], hub, guard)
    handed: list[tuple[set[str], dict[str, Head]]] = []
    relay.on_queued = lambda streams, heads: handed.append((streams, heads))
    relay.relay_documents("thing", ["t1"])
    assert len(handed) == 1
    return hub, *handed[0]


def _delivered(database: Any) -> bool:
    states = [delivery["state"] for delivery in database["event_delivery"].find({}, {"state": 1})]
    return states == ["delivered"]


def test_the_relay_hands_over_the_head_and_delivery_of_each_stream_it_created(database) -> None:  # type: ignore[no-untyped-def]
    hub, streams, heads = _relay_one_event(database)
    assert set(heads) == streams and len(streams) == 1
    (head,) = heads.values()
    stored = database["event_delivery"].find_one({"_id": head.entry.delivery_id})
    assert stored is not None and head.delivery == stored
    sender = RecordingSender()
    worker = DeliveryWorker(database, hub, sender)
    try:
        worker.dispatch(streams, heads)
        wait_for(lambda: _delivered(database), timeout=10, what="the delivery delivered")
    finally:
        worker.close()
    assert len(sender.bodies) == 1
    assert database["event_delivery_stream"].count_documents({}) == 0  # the emptied stream is gone


def test_a_stale_hand_over_does_not_send_the_event_again(database) -> None:  # type: ignore[no-untyped-def]
    hub, streams, heads = _relay_one_event(database)
    sender = RecordingSender()
    first = DeliveryWorker(database, hub, sender)
    try:
        first.dispatch(streams)  # as another process's poll would: no hand-over
        wait_for(lambda: _delivered(database), timeout=10, what="the delivery delivered")
    finally:
        first.close()
    late = DeliveryWorker(database, hub, sender)
    try:
        late.dispatch(streams, heads)  # the hand-over arrives after the event went out
        wait_for(lambda: not late._busy, timeout=10, what="the late sender idle")
    finally:
        late.close()
    assert len(sender.bodies) == 1
    assert _delivered(database)
