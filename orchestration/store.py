"""Where the engine keeps its work: plans (one document per product order), wake-up signals and work leases.

Everything is read and written by `_id`, except the poll's scan of signals, which only holds work not yet done:
FerretDB 1.24 scans a collection for any other query, so the hot path never queries by anything else.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from orchestration.tasks import Plan
from tmf_common.clock import format_instant
from tmf_common.jsoncodec import from_storage, to_storage
from tmf_common.keyed import delete_by_id, update_by_id
from tmf_common.mongo import IndexSpec
from tmf_common.write_guard import WriteGuard

PLANS = "fulfilment_plan"
SIGNALS = "orchestration_signal"
LEASES = "orchestration_lease"
REVISION = "_rev"
INDEXES = [IndexSpec(SIGNALS, [("at", 1)]), IndexSpec(PLANS, [("state", 1)])]


@dataclass(frozen=True)
class StoredPlan:
    plan: Plan
    revision: int


class PlanRepository:
    """Plans, written only conditionally on the revision read (through the write guard on FerretDB)."""

    def __init__(self, database: Database, guard: WriteGuard) -> None:
        self.collection = database[PLANS]
        self.guard = guard

    def get(self, plan_id: str) -> StoredPlan | None:
        document = self.collection.find_one({"_id": plan_id})
        if document is None:
            return None
        decoded = from_storage({key: value for key, value in document.items() if key not in ("_id", REVISION)})
        return StoredPlan(Plan.from_document(plan_id, decoded), int(document.get(REVISION, 1)))

    def insert(self, plan: Plan) -> bool:
        """False when the plan exists already (another process decomposed the same order first)."""
        try:
            self.collection.insert_one({"_id": plan.id, **self._encode(plan), REVISION: 1})
            return True
        except DuplicateKeyError:
            return False

    def replace(self, stored: StoredPlan, plan: Plan) -> StoredPlan | None:
        """The plan as written, or None when another writer changed it since it was read."""
        revision = stored.revision + 1
        with self.guard.hold(PLANS, plan.id, revision) as mine:
            if not mine:
                return None
            written = update_by_id(
                self.collection,
                {"_id": plan.id, REVISION: stored.revision},
                {"$set": {**self._encode(plan), REVISION: revision}},
            )
        return StoredPlan(plan, revision) if written else None

    def list(self, state: str | None, limit: int, offset: int) -> list[StoredPlan]:
        filter_ = {} if state is None else {"state": state}
        cursor = self.collection.find(filter_).sort([("createdAt", 1), ("_id", 1)]).skip(offset).limit(limit)
        plans: list[StoredPlan] = []
        for document in cursor:
            decoded = from_storage({key: value for key, value in document.items() if key not in ("_id", REVISION)})
            plans.append(StoredPlan(Plan.from_document(document["_id"], decoded), int(document.get(REVISION, 1))))
        return plans

    @staticmethod
    def _encode(plan: Plan) -> dict[str, Any]:
        # Task payloads carry client data (characteristics) that the storage codec must encode.
        encoded = to_storage(plan.to_document())
        assert isinstance(encoded, dict)
        return encoded


@dataclass(frozen=True)
class Signal:
    id: str
    order_id: str


class SignalQueue:
    """Durable reasons to look at an order again: an event about it, or a time at which something falls due.

    A signal is a document of its own (keyed by its cause, so recording it twice is harmless) rather than a
    flag on a shared document, because concurrent updates of one document are not safe on FerretDB 1.24; the
    engine deletes a signal only after it has acted on the order, so a crash leaves it for the next poll.
    """

    def __init__(self, database: Database) -> None:
        self.collection = database[SIGNALS]

    def record(self, signals: Iterable[tuple[str, str, datetime]]) -> list[Signal]:
        documents = [
            {"_id": signal_id, "orderId": order_id, "at": format_instant(at)} for signal_id, order_id, at in signals
        ]
        if documents:
            with contextlib.suppress(BulkWriteError):  # recorded before: the earlier signal stands
                self.collection.insert_many(documents, ordered=False)
        return [Signal(document["_id"], document["orderId"]) for document in documents]

    def due(self, now: datetime, limit: int = 500) -> list[Signal]:
        documents = self.collection.find({"at": {"$lte": format_instant(now)}}, {"orderId": 1}).limit(limit)
        return [Signal(document["_id"], document["orderId"]) for document in documents]

    def done(self, signal_ids: Iterable[str]) -> None:
        # One delete per id: FerretDB 1.24 looks up only a bare `_id` directly and scans for `{"_id": {"$in": ...}}`.
        for signal_id in signal_ids:
            self.collection.delete_one({"_id": signal_id})


class LeaseTable:
    """Which process works on an order now: a unique insert per order, taken over only once it has expired."""

    def __init__(self, database: Database, owner: str | None = None) -> None:
        self.collection = database[LEASES]
        self.owner = owner or uuid.uuid4().hex

    def acquire(self, order_id: str, now: datetime, duration: timedelta) -> str | None:
        """A token for the lease, or None when another process holds it."""
        token = uuid.uuid4().hex
        document = {"_id": order_id, "owner": self.owner, "token": token, "until": format_instant(now + duration)}
        try:
            self.collection.insert_one(document)
            return token
        except DuplicateKeyError:
            pass
        current = self.collection.find_one({"_id": order_id})
        if current is None or current["until"] >= format_instant(now):
            return None
        # Expired: its holder died. Removing exactly that lease (by its token) lets one taker insert anew.
        delete_by_id(self.collection, {"_id": order_id, "token": current["token"]})
        try:
            self.collection.insert_one(document)
            return token
        except DuplicateKeyError:
            return None

    def release(self, order_id: str, token: str) -> None:
        delete_by_id(self.collection, {"_id": order_id, "token": token})
