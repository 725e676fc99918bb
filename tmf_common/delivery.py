"""Durable event delivery: the relay moves recorded events out of resources into per-subscription deliveries,
and the worker sends them with retries, leases, per-resource ordering and dead letters."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import requests
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tmf_common.clock import format_instant
from tmf_common.events import RecordedEvent
from tmf_common.hub import HubService, Subscription
from tmf_common.jsoncodec import dumps, from_storage, to_storage
from tmf_common.keyed import delete_by_id, update_by_id
from tmf_common.mongo import IndexSpec
from tmf_common.repository import DELETED, PENDING_EVENTS, REVISION, ResourceRepository
from tmf_common.retry import WEBHOOK_RETRY_POLICY, FailureKind, RetryPolicy, classify_http_outcome
from tmf_common.signing import SIGNATURE_HEADER, sign
from tmf_common.write_guard import WriteGuard

EVENT_LOG = "event_log"
DELIVERIES = "event_delivery"
DELIVERY_CLAIMS = "event_delivery_claim"
STREAMS = "event_delivery_stream"
INCARNATION = "incarnation"
EVENT_ID_HEADER = "X-Event-Id"
INDEXES = [
    IndexSpec(DELIVERIES, [("subscriptionId", 1), ("state", 1)]),
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
FINAL_STATES = [DeliveryState.DELIVERED, DeliveryState.DEAD_LETTER, DeliveryState.DROPPED]


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return format_instant(moment)


def stream_id(subscription_id: str, order_key: str) -> str:
    return f"{subscription_id}|{order_key}"


@dataclass(frozen=True, order=True)
class StreamEntry:
    """One open delivery in a stream, ordered by the revision and position of the event that caused it."""

    delivery_id: str = field(compare=False)
    revision: int
    index: int

    def to_document(self) -> dict[str, Any]:
        return {"id": self.delivery_id, "revision": self.revision, "index": self.index}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> StreamEntry:
        return cls(document["id"], int(document["revision"]), int(document["index"]))


class EnvelopeCache:
    """Envelopes the relay just logged, so this process's sender need not read them back."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, event_id: str, envelope: dict[str, Any]) -> None:
        with self._lock:
            self._items[event_id] = envelope
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, event_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(event_id)


class DeliveryStreams:
    """The open deliveries of one subscription for one resource, in event order: only the head is sent.

    Every read and write is by `_id`, and a stream exists only while it holds open deliveries, so the hot path
    never scans (FerretDB 1.24 scans for anything but `_id`). Writes are conditional on the stream's revision
    through the write guard, because relays and senders in several processes change the same stream.
    """

    def __init__(self, database: Database, guard: WriteGuard) -> None:
        self.collection = database[STREAMS]
        self.guard = guard

    def head(self, stream: str) -> StreamEntry | None:
        document = self.collection.find_one({"_id": stream})
        entries = (document or {}).get("open") or []
        return StreamEntry.from_document(entries[0]) if entries else None

    def add(self, stream: str, entries: list[StreamEntry]) -> None:
        subscription_id = stream.split("|", 1)[0]
        self._change(stream, lambda current: sorted(set(current) | set(entries)), subscription_id)

    def add_all(self, queued: dict[str, list[StreamEntry]]) -> set[str]:
        """Add entries to many streams: new streams in one batch insert, existing ones one by one.

        Returns the streams this call created, whose entries are therefore exactly the ones given.
        """
        if not queued:
            return set()
        fresh = [
            {
                "_id": stream,
                "subscriptionId": stream.split("|", 1)[0],
                "open": [entry.to_document() for entry in sorted(set(entries))],
                REVISION: 1,
                INCARNATION: uuid.uuid4().hex,
            }
            for stream, entries in queued.items()
        ]
        try:
            self.collection.insert_many(fresh, ordered=False)
            return set(queued)
        except BulkWriteError as error:
            failed = {fresh[write_error["index"]]["_id"] for write_error in error.details.get("writeErrors", [])}
        for stream in failed:
            self.add(stream, queued[stream])
        return set(queued) - failed

    def remove(self, stream: str, delivery_id: str) -> StreamEntry | None:
        """Take a delivery out of its stream; returns the stream's new head, as written, so no read is needed."""
        remaining = self._change(stream, lambda current: [e for e in current if e.delivery_id != delivery_id], None)
        return remaining[0] if remaining else None

    def all(self, limit: int = 1000) -> list[str]:
        return [document["_id"] for document in self.collection.find({}, {"_id": 1}).limit(limit)]

    def _write(self, stream: str, read: dict[str, Any], entries: list[StreamEntry]) -> bool:
        # The incarnation as well as the revision: an emptied stream is deleted and may be created again at
        # revision 1, and a writer that read the old one must not overwrite the new one.
        condition = {"_id": stream, REVISION: read.get(REVISION, 1), INCARNATION: read.get(INCARNATION)}
        if entries:
            return update_by_id(
                self.collection,
                condition,
                {"$set": {"open": [e.to_document() for e in entries], REVISION: read.get(REVISION, 1) + 1}},
            )
        # An empty stream is removed, so that the safety-net scan only ever reads streams with work in them.
        return delete_by_id(self.collection, condition)

    def _change(
        self, stream: str, change: Callable[[list[StreamEntry]], list[StreamEntry]], subscription_id: str | None
    ) -> list[StreamEntry]:
        """Apply `change` to the stream's entries; returns the entries as they now stand."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            document = self.collection.find_one({"_id": stream})
            if document is None:
                entries = change([])
                if not entries:
                    return entries
                try:
                    self.collection.insert_one(
                        {
                            "_id": stream,
                            "subscriptionId": subscription_id,
                            "open": [e.to_document() for e in entries],
                            REVISION: 1,
                            INCARNATION: uuid.uuid4().hex,
                        }
                    )
                    return entries
                except DuplicateKeyError:
                    continue  # created meanwhile: change that one
            revision = int(document.get(REVISION, 1))
            current = [StreamEntry.from_document(entry) for entry in document.get("open") or []]
            entries = change(current)
            if entries == current:
                return entries
            with self.guard.hold(STREAMS, f"{stream}#{document.get(INCARNATION)}", revision + 1) as mine:
                if mine and self._write(stream, document, entries):
                    return entries
            time.sleep(random.uniform(0.001, 0.01))
        raise RuntimeError(f"delivery stream {stream} is too busy to change")


@dataclass(frozen=True)
class Head:
    """A stream's first entry and its delivery document, as the relay that created the stream wrote them."""

    entry: StreamEntry
    delivery: dict[str, Any]


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
        self.streams = DeliveryStreams(database, guard)
        self.envelopes = EnvelopeCache()
        # In-process consumers (the orchestration engine) told (api, envelopes) before events leave a resource;
        # each must record what it needs durably and idempotently, since a relay may repeat after a crash.
        self.consumers: list[Callable[[str, list[dict[str, Any]]], None]] = []
        # Told the streams that received deliveries as soon as those are stored (the sender), so sending does
        # not wait for the consumers and the outbox clean-up; with the head and delivery of each stream this relay
        # created, which the sender then need not read back.
        self.on_queued: Callable[[set[str], dict[str, Head]], None] | None = None

    def relay_documents(self, collection: str, resource_ids: Iterable[str]) -> set[str]:
        """Relay the events of the given resources; returns the delivery streams that received deliveries."""
        source = self.sources.get(collection)
        touched: set[str] = set()
        if source is None:
            return touched
        for resource_id in resource_ids:
            document = source.repository.collection.find_one(
                {"_id": resource_id}, {PENDING_EVENTS: 1, REVISION: 1, DELETED: 1}
            )
            if document is not None:
                touched |= self._relay(source, document)
        return touched

    def relay_all(self, limit: int = 200) -> tuple[set[str], int]:
        """The safety net: every resource that still holds events (written by another process, or left by a crash).

        Returns the streams that received deliveries and how many resources had events waiting.
        """
        touched: set[str] = set()
        found = 0
        for source in self.sources.values():
            documents = source.repository.collection.find(
                {f"{PENDING_EVENTS}.0": {"$exists": True}}, {PENDING_EVENTS: 1, REVISION: 1, DELETED: 1}
            ).limit(limit)
            for document in documents:
                found += 1
                touched |= self._relay(source, document)
        return touched, found

    def _relay(self, source: EventSource, document: dict[str, Any]) -> set[str]:
        stored_events = document.get(PENDING_EVENTS) or []
        if not stored_events:
            return set()
        queued: dict[str, list[StreamEntry]] = {}
        logged: list[dict[str, Any]] = []
        envelopes: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        subscriptions = self.hub.subscriptions(source.api)
        now = _stamp(_now())
        for stored in stored_events:
            event = RecordedEvent.from_storage(stored)
            envelope = event.to_envelope()
            order_key = f"{event.resource_key}/{document['_id']}"
            revision, index = int(stored.get("revision", 0)), int(stored.get("index", 0))
            logged.append(
                {
                    "_id": event.event_id,
                    "api": source.api,
                    "orderKey": order_key,
                    "revision": revision,
                    "index": index,
                    "envelope": to_storage(envelope),
                    "recordedAt": event.event_time,
                }
            )
            self.envelopes.put(event.event_id, envelope)
            envelopes.append(envelope)
            for subscription in subscriptions:
                if subscription.filter.matches(envelope):
                    delivery_id = f"{subscription.id}:{event.event_id}"
                    queued.setdefault(stream_id(subscription.id, order_key), []).append(
                        StreamEntry(delivery_id, revision, index)
                    )
                    deliveries.append(
                        {
                            "_id": delivery_id,
                            "subscriptionId": subscription.id,
                            "eventId": event.event_id,
                            "eventType": event.event_type,
                            "orderKey": order_key,
                            "revision": revision,
                            "index": index,
                            "state": DeliveryState.PENDING,
                            "attempts": 0,
                            "createdAt": now,
                            "nextAttemptAt": now,
                            "history": [],
                        }
                    )
        # One batch per collection: a round trip per event and per subscription is what limits delivery rate.
        self._insert_all(self.log, logged)
        self._insert_all(self.deliveries, deliveries)
        created = self.streams.add_all(queued)
        if queued and self.on_queued is not None:
            by_id = {delivery["_id"]: delivery for delivery in deliveries}
            heads = {stream: Head(min(queued[stream]), by_id[min(queued[stream]).delivery_id]) for stream in created}
            self.on_queued(set(queued), heads)
        for consumer in self.consumers:
            consumer(source.api, envelopes)
        collection = source.repository.collection
        with self.guard.hold(collection.name, document["_id"], document.get(REVISION, 0) + 1) as mine:
            if mine:
                # $pullAll of the exact stored events: FerretDB 1.24 does not apply a conditional $pull.
                update_by_id(
                    collection,
                    {"_id": document["_id"], REVISION: document.get(REVISION, 0)},
                    {"$pullAll": {PENDING_EVENTS: stored_events}},
                )
                if document.get(DELETED):
                    # A tombstone has done its job once its events are relayed.
                    delete_by_id(
                        collection, {"_id": document["_id"], REVISION: document.get(REVISION, 0), PENDING_EVENTS: []}
                    )
        return set(queued)

    @staticmethod
    def _insert_all(collection: Any, documents: list[dict[str, Any]]) -> None:
        if not documents:
            return
        # Duplicates are already there from an earlier or concurrent relay of the same events; the rest of an
        # unordered batch is still inserted.
        with contextlib.suppress(BulkWriteError):
            collection.insert_many(documents, ordered=False)


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
    """Sends the head delivery of each stream. An attempt is claimed by inserting a claim keyed by (delivery,
    replay generation, attempt), which only one process can do; the claim holder sets a lease, so a delivery
    whose sender died is due again when the lease expires, and its next attempt is claimed under a new key.

    Each subscription is drained by at most one thread of this process at a time, so a slow or dead listener
    holds only its own thread while other subscribers are served.
    """

    def __init__(
        self,
        database: Database,
        hub: HubService,
        sender: Sender,
        policy: RetryPolicy = WEBHOOK_RETRY_POLICY,
        lease: timedelta = timedelta(seconds=30),
        pool_size: int = 16,
    ) -> None:
        self.deliveries = database[DELIVERIES]
        self.claims = database[DELIVERY_CLAIMS]
        self.log = database[EVENT_LOG]
        self.streams = DeliveryStreams(database, hub.repository.guard)
        self.hub = hub
        self.sender = sender
        self.policy = policy
        self.lease = lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="delivery")
        # Shared with this process's relay (set by the composition root); other processes' events are read back.
        self.envelopes: EnvelopeCache | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}
        # Heads handed over by this process's relay: a hint that saves two reads, never trusted for exclusivity
        # (the attempt claim decides who sends), so a stale one costs at most a lost claim.
        self._heads: dict[str, Head] = {}
        self._busy: set[str] = set()
        self._gone: set[str] = set()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self.pool.shutdown(wait=True, cancel_futures=True)

    def dispatch(self, streams: Iterable[str], heads: dict[str, Head] | None = None) -> None:
        """Queue streams for sending; each subscription's streams are drained by one pool thread."""
        to_start: list[str] = []
        with self._lock:
            self._heads.update(heads or {})
            for stream in streams:
                subscription_id = stream.split("|", 1)[0]
                self._pending.setdefault(subscription_id, set()).add(stream)
                if subscription_id not in self._busy:
                    self._busy.add(subscription_id)
                    to_start.append(subscription_id)
        for subscription_id in to_start:
            if self._closed:
                return
            self.pool.submit(self._drain, subscription_id)

    def deliver_due(self) -> None:
        """The safety net: look at every open stream (retries that fell due, work left by other processes)."""
        self.dispatch(self.streams.all())

    def _drain(self, subscription_id: str) -> None:
        while not self._closed:
            with self._lock:
                streams = self._pending.pop(subscription_id, set())
                if not streams:
                    self._busy.discard(subscription_id)
                    return
            try:
                subscription = self.hub.get(subscription_id)
                for stream in sorted(streams):
                    if not self._advance(subscription, stream):
                        break  # the subscriber is backed off: its other streams wait for the next poll
            except Exception:
                log.exception("delivery to subscription %s failed; the next poll retries", subscription_id)
            finally:
                with self._lock:
                    for stream in streams:
                        self._heads.pop(stream, None)

    def _advance(self, subscription: Subscription | None, stream: str) -> bool:
        """Send the stream's deliveries in order while they succeed; False when the subscriber must wait."""
        with self._lock:
            hinted = self._heads.pop(stream, None)
        head = hinted.entry if hinted is not None else self.streams.head(stream)
        while True:
            if head is None:
                return True
            if hinted is not None:  # the first head only: later ones come from the stream as written
                delivery: dict[str, Any] | None = hinted.delivery
                hinted = None
            else:
                delivery = self.deliveries.find_one({"_id": head.delivery_id})
            if delivery is None or delivery["state"] in FINAL_STATES:
                head = self.streams.remove(stream, head.delivery_id)
                continue
            if subscription is None:
                self._finish(delivery, DeliveryState.DROPPED, "subscription removed")
                head = self.streams.remove(stream, head.delivery_id)
                continue
            now = _stamp(_now())
            if subscription.backoff_until is not None and subscription.backoff_until > now:
                return False
            if delivery["nextAttemptAt"] > now:
                return True  # a retry not yet due, or a lease still held by another sender
            final = self._attempt(subscription, delivery)
            if final is None:
                return True  # another process claimed this attempt
            if not final:
                return False
            head = self.streams.remove(stream, head.delivery_id)
            if subscription.id in self._gone:
                subscription = None

    def _claim(self, delivery: dict[str, Any]) -> bool:
        try:
            # One key per attempt of one replay generation: each attempt is claimable exactly once.
            key = f"{delivery['_id']}#{delivery.get('generation', 0)}#{delivery['attempts']}"
            self.claims.insert_one({"_id": key, "owner": self.owner, "at": _now()})
            return True
        except DuplicateKeyError:
            return False

    def _attempt(self, subscription: Subscription, delivery: dict[str, Any]) -> bool | None:
        """One attempt; True when the delivery is finished, False when it waits for a retry, None if not claimed."""
        if not self._claim(delivery):
            return None
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
        envelope = self.envelopes.get(delivery["eventId"]) if self.envelopes is not None else None
        if envelope is None:
            logged = self.log.find_one({"_id": delivery["eventId"]})
            if logged is None:
                self._finish(delivery, DeliveryState.DROPPED, "event missing from the event log")
                return True
            envelope = from_storage(logged["envelope"])
        body = dumps(envelope)
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
            self._gone.add(subscription.id)
            self._finish(delivery, DeliveryState.DROPPED, "listener answered 410 Gone; subscription removed", record)
            return True
        first_at = datetime.fromisoformat(first.replace("Z", "+00:00"))
        retry_at = (
            None
            if kind is FailureKind.TERMINAL
            else self.policy.next_attempt_at(attempts, first_at, _now(), random.random())
        )
        error = outcome.error or f"HTTP {outcome.status}"
        if retry_at is None:
            self._finish(delivery, DeliveryState.DEAD_LETTER, error, record)
            return True
        self.deliveries.update_one(
            {"_id": delivery["_id"]},
            {
                "$set": {"state": DeliveryState.WAITING_RETRY, "nextAttemptAt": _stamp(retry_at), "lastError": error},
                "$push": {"history": record},
            },
        )
        # The whole subscriber waits with this delivery: one dead listener costs one attempt per back-off, not
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


def replay_dead_letters(
    database: Database, guard: WriteGuard, subscription_id: str, delivery_id: str | None = None
) -> int:
    """Make dead letters due again from a fresh first attempt, back in their streams; returns how many."""
    filter_: dict[str, Any] = {"subscriptionId": subscription_id, "state": DeliveryState.DEAD_LETTER}
    if delivery_id is not None:
        filter_["_id"] = delivery_id
    dead = list(database[DELIVERIES].find(filter_, {"orderKey": 1, "revision": 1, "index": 1}))
    now = _stamp(_now())
    streams = DeliveryStreams(database, guard)
    for delivery in dead:
        update_by_id(
            database[DELIVERIES],
            {"_id": delivery["_id"], "state": DeliveryState.DEAD_LETTER},
            {
                "$set": {
                    "state": DeliveryState.PENDING,
                    "attempts": 0,
                    "nextAttemptAt": now,
                    "firstAttemptAt": None,
                    "replayedAt": now,
                },
                "$inc": {"generation": 1},
            },
        )
        entry = StreamEntry(delivery["_id"], int(delivery["revision"]), int(delivery["index"]))
        streams.add(stream_id(subscription_id, delivery["orderKey"]), [entry])
    database["hub_subscription"].update_one({"_id": subscription_id}, {"$set": {"_backoffUntil": None}})
    return len(dead)
