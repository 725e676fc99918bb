"""Durable event delivery: the relay moves recorded events out of resources into per-subscription deliveries,
and the worker sends them with retries, leases, per-resource ordering and dead letters."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import requests
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from tmf_common.clock import format_instant
from tmf_common.events import RecordedEvent
from tmf_common.hub import HubService, Subscription
from tmf_common.jsoncodec import dumps, from_storage, to_storage
from tmf_common.mongo import IndexSpec
from tmf_common.repository import DELETED, PENDING_EVENTS, REVISION, ResourceRepository
from tmf_common.retry import WEBHOOK_RETRY_POLICY, FailureKind, RetryPolicy, classify_http_outcome
from tmf_common.signing import SIGNATURE_HEADER, sign
from tmf_common.write_guard import WriteGuard

EVENT_LOG = "event_log"
DELIVERIES = "event_delivery"
DELIVERY_CLAIMS = "event_delivery_claim"
EVENT_ID_HEADER = "X-Event-Id"
INDEXES = [
    IndexSpec(DELIVERIES, [("state", 1), ("nextAttemptAt", 1)]),
    IndexSpec(DELIVERIES, [("subscriptionId", 1), ("orderKey", 1), ("revision", 1), ("index", 1)]),
    IndexSpec(EVENT_LOG, [("api", 1), ("recordedAt", 1)]),
]
log = logging.getLogger("tmf.delivery")


class DeliveryState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "inFlight"
    WAITING_RETRY = "waitingRetry"
    DELIVERED = "delivered"
    DEAD_LETTER = "deadLetter"
    DROPPED = "dropped"


OPEN_STATES = [DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.WAITING_RETRY]


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return format_instant(moment)


@dataclass(frozen=True)
class EventSource:
    """A collection whose resources record events in their outbox, and the API those events belong to."""

    api: str
    repository: ResourceRepository


class EventRelay:
    """Moves each recorded event into the event log and one delivery per matching subscription.

    Every insert has a deterministic id (the event id; subscription id + event id), so a relay repeated after a
    crash, or run by two processes at once, creates nothing twice. Events leave the resource only after that,
    in a write conditional on the revision read, so none is lost in between.
    """

    def __init__(self, database: Database, sources: list[EventSource], hub: HubService, guard: WriteGuard) -> None:
        self.log = database[EVENT_LOG]
        self.deliveries = database[DELIVERIES]
        self.sources = {source.repository.collection.name: source for source in sources}
        self.hub = hub
        self.guard = guard

    def relay_documents(self, collection: str, resource_ids: Iterable[str]) -> int:
        source = self.sources.get(collection)
        if source is None:
            return 0
        relayed = 0
        for resource_id in resource_ids:
            document = source.repository.collection.find_one(
                {"_id": resource_id}, {PENDING_EVENTS: 1, REVISION: 1, DELETED: 1}
            )
            if document is not None:
                relayed += self._relay(source, document)
        return relayed

    def relay_all(self, limit: int = 200) -> int:
        """The safety net: every resource that still holds events (written by another process, or left by a crash)."""
        relayed = 0
        for source in self.sources.values():
            documents = source.repository.collection.find(
                {f"{PENDING_EVENTS}.0": {"$exists": True}}, {PENDING_EVENTS: 1, REVISION: 1, DELETED: 1}
            ).limit(limit)
            for document in documents:
                relayed += self._relay(source, document)
        return relayed

    def _relay(self, source: EventSource, document: dict[str, Any]) -> int:
        stored_events = document.get(PENDING_EVENTS) or []
        if not stored_events:
            return 0
        subscriptions = self.hub.subscriptions(source.api)
        now = _stamp(_now())
        for stored in stored_events:
            event = RecordedEvent.from_storage(stored)
            envelope = event.to_envelope()
            order_key = f"{event.resource_key}/{document['_id']}"
            self._insert(
                self.log,
                {
                    "_id": event.event_id,
                    "api": source.api,
                    "orderKey": order_key,
                    "revision": stored.get("revision", 0),
                    "index": stored.get("index", 0),
                    "envelope": to_storage(envelope),
                    "recordedAt": event.event_time,
                },
            )
            for subscription in subscriptions:
                if subscription.filter.matches(envelope):
                    self._insert(
                        self.deliveries,
                        {
                            "_id": f"{subscription.id}:{event.event_id}",
                            "subscriptionId": subscription.id,
                            "eventId": event.event_id,
                            "eventType": event.event_type,
                            "orderKey": order_key,
                            "revision": stored.get("revision", 0),
                            "index": stored.get("index", 0),
                            "state": DeliveryState.PENDING,
                            "attempts": 0,
                            "createdAt": now,
                            "nextAttemptAt": now,
                            "history": [],
                        },
                    )
        collection = source.repository.collection
        with self.guard.hold(collection.name, document["_id"], document.get(REVISION, 0) + 1) as mine:
            if mine:
                # $pullAll of the exact stored events: FerretDB 1.24 does not apply a conditional $pull.
                collection.update_one(
                    {"_id": document["_id"], REVISION: document.get(REVISION, 0)},
                    {"$pullAll": {PENDING_EVENTS: stored_events}},
                )
                if document.get(DELETED):
                    # A tombstone has done its job once its events are relayed.
                    collection.delete_one(
                        {"_id": document["_id"], REVISION: document.get(REVISION, 0), PENDING_EVENTS: []}
                    )
        return len(stored_events)

    @staticmethod
    def _insert(collection: Any, document: dict[str, Any]) -> None:
        # A duplicate is already there from an earlier or concurrent relay of the same event.
        with contextlib.suppress(DuplicateKeyError):
            collection.insert_one(document)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None


Sender = Callable[[Subscription, bytes, dict[str, str]], Outcome]


def http_sender(session: requests.Session, timeout: tuple[float, float] = (3.05, 10.0)) -> Sender:
    def send(subscription: Subscription, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            response = session.post(
                subscription.callback, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
            response.close()
            return Outcome(response.status_code, None)
        except requests.RequestException as error:
            return Outcome(None, f"{type(error).__name__}: {error}")

    return send


class DeliveryWorker:
    """Sends due deliveries. A delivery is claimed by inserting a claim keyed by (delivery, attempt), which only
    one process can do; the claim holder sets a lease, so a delivery whose sender died is due again when the
    lease expires and the next attempt is claimed under a new key."""

    def __init__(
        self,
        database: Database,
        hub: HubService,
        sender: Sender,
        policy: RetryPolicy = WEBHOOK_RETRY_POLICY,
        lease: timedelta = timedelta(seconds=30),
        per_subscriber: int = 4,
        pool_size: int = 16,
    ) -> None:
        self.database = database
        self.deliveries = database[DELIVERIES]
        self.claims = database[DELIVERY_CLAIMS]
        self.log = database[EVENT_LOG]
        self.hub = hub
        self.sender = sender
        self.policy = policy
        self.lease = lease
        self.per_subscriber = per_subscriber
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="delivery")
        self._lock = threading.Lock()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)

    def deliver_due(self, limit: int = 200) -> int:
        """Send every delivery that is due now, in order per subscription and resource; returns how many were sent."""
        now = _now()
        due = list(
            self.deliveries.find({"state": {"$in": OPEN_STATES}, "nextAttemptAt": {"$lte": _stamp(now)}})
            .sort([("revision", ASCENDING), ("index", ASCENDING)])
            .limit(limit)
        )
        batches: dict[str, list[dict[str, Any]]] = {}
        seen_keys: set[tuple[str, str]] = set()
        for delivery in due:
            key = (delivery["subscriptionId"], delivery["orderKey"])
            if key in seen_keys:
                continue  # one per subscription and resource at a time keeps them in order
            seen_keys.add(key)
            if self._has_earlier_open(delivery):
                continue
            batches.setdefault(delivery["subscriptionId"], []).append(delivery)
        futures = []
        for subscription_id, deliveries in batches.items():
            subscription = self.hub.get(subscription_id)
            if subscription is None:
                for delivery in deliveries:
                    self._finish(delivery, DeliveryState.DROPPED, "subscription removed")
                continue
            if subscription.backoff_until is not None and subscription.backoff_until > _stamp(now):
                continue
            for delivery in deliveries[: self.per_subscriber]:
                futures.append(self.pool.submit(self._attempt, subscription, delivery))
        return sum(1 for future in futures if future.result())

    def _has_earlier_open(self, delivery: dict[str, Any]) -> bool:
        earlier = self.deliveries.find_one(
            {
                "subscriptionId": delivery["subscriptionId"],
                "orderKey": delivery["orderKey"],
                "state": {"$in": OPEN_STATES},
                "$or": [
                    {"revision": {"$lt": delivery["revision"]}},
                    {"revision": delivery["revision"], "index": {"$lt": delivery["index"]}},
                ],
            },
            {"_id": 1},
        )
        return earlier is not None

    def _claim(self, delivery: dict[str, Any]) -> bool:
        try:
            self.claims.insert_one(
                {"_id": f"{delivery['_id']}#{delivery['attempts']}", "owner": self.owner, "at": _now()}
            )
            return True
        except DuplicateKeyError:
            return False

    def _attempt(self, subscription: Subscription, delivery: dict[str, Any]) -> bool:
        if not self._claim(delivery):
            return False
        now = _now()
        attempts = int(delivery["attempts"]) + 1
        first = delivery.get("firstAttemptAt") or _stamp(now)
        self.deliveries.update_one(
            {"_id": delivery["_id"]},
            {
                "$set": {
                    "state": DeliveryState.IN_FLIGHT,
                    "attempts": attempts,
                    "firstAttemptAt": first,
                    "leaseOwner": self.owner,
                    "nextAttemptAt": _stamp(now + self.lease),
                }
            },
        )
        logged = self.log.find_one({"_id": delivery["eventId"]})
        if logged is None:
            self._finish(delivery, DeliveryState.DROPPED, "event missing from the event log")
            return False
        body = dumps(from_storage(logged["envelope"]))
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: delivery["eventId"],
            "X-Event-Type": delivery["eventType"],
        }
        if subscription.secret:
            headers[SIGNATURE_HEADER] = sign(subscription.secret, int(now.timestamp()), body)
        outcome = self.sender(subscription, body, headers)
        kind = classify_http_outcome(outcome.status, outcome.error)
        record = {"at": _stamp(_now()), "status": outcome.status, "error": outcome.error, "owner": self.owner}
        if kind is None:
            self._finish(delivery, DeliveryState.DELIVERED, None, record)
            if subscription.backoff_until is not None:
                self.hub.back_off(subscription.id, None)
            return True
        if kind is FailureKind.GONE:
            self.hub.remove(subscription.id)
            self._finish(delivery, DeliveryState.DROPPED, "listener answered 410 Gone; subscription removed", record)
            return False
        first_at = datetime.fromisoformat(first.replace("Z", "+00:00"))
        retry_at = (
            None
            if kind is FailureKind.TERMINAL
            else self.policy.next_attempt_at(attempts, first_at, _now(), random.random())
        )
        error = outcome.error or f"HTTP {outcome.status}"
        if retry_at is None:
            self._finish(delivery, DeliveryState.DEAD_LETTER, error, record)
        else:
            self.deliveries.update_one(
                {"_id": delivery["_id"]},
                {
                    "$set": {
                        "state": DeliveryState.WAITING_RETRY,
                        "nextAttemptAt": _stamp(retry_at),
                        "lastError": error,
                    },
                    "$push": {"history": record},
                },
            )
            # The whole subscriber waits with this delivery: one dead listener costs one attempt per backoff, not
            # one per queued event.
            self.hub.back_off(subscription.id, _stamp(retry_at))
        return False

    def _finish(
        self, delivery: dict[str, Any], state: DeliveryState, error: str | None, record: dict[str, Any] | None = None
    ) -> None:
        update: dict[str, Any] = {"$set": {"state": state, "finishedAt": _stamp(_now()), "lastError": error}}
        if record is not None:
            update["$push"] = {"history": record}
        self.deliveries.update_one({"_id": delivery["_id"]}, update)


def replay_dead_letters(database: Database, subscription_id: str, delivery_id: str | None = None) -> int:
    """Make dead letters due again from a fresh first attempt; returns how many."""
    filter_: dict[str, Any] = {"subscriptionId": subscription_id, "state": DeliveryState.DEAD_LETTER}
    if delivery_id is not None:
        filter_["_id"] = delivery_id
    now = _stamp(_now())
    result = database[DELIVERIES].update_many(
        filter_,
        {
            "$set": {
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "nextAttemptAt": now,
                "firstAttemptAt": None,
                "replayedAt": now,
            }
        },
    )
    database["hub_subscription"].update_one({"_id": subscription_id}, {"$set": {"_backoffUntil": None}})
    return int(result.modified_count)
