"""Generic storage of TMF resources: revisions for optimistic concurrency, pending events in the same write."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

from tmf_common.errors import BadRequest, Conflict
from tmf_common.events import RecordedEvent
from tmf_common.jsoncodec import from_storage, to_storage
from tmf_common.keyed import find_by_id, update_by_id
from tmf_common.query import ListQuery
from tmf_common.write_guard import AtomicServerGuard, WriteGuard

# Bookkeeping fields live beside the resource attributes; client keys can never start with `_` in storage
# (jsoncodec encodes them), so these names cannot collide with client data.
REVISION = "_rev"
CREATED = "_created"
PENDING_EVENTS = "_events"
DELETED = "_deleted"
EXTRA_PREFIX = "_"

_LIVE = {DELETED: {"$exists": False}}


@dataclass(frozen=True)
class StoredResource:
    """A resource as the client sees it, with the revision its ETag carries."""

    body: dict[str, Any]
    revision: int
    internal: dict[str, Any]


def _to_resource(document: dict[str, Any]) -> StoredResource:
    internal = {key: value for key, value in document.items() if key.startswith(EXTRA_PREFIX)}
    body = from_storage({key: value for key, value in document.items() if not key.startswith(EXTRA_PREFIX)})
    if "_id" in document:
        body = {"id": document["_id"], **body}
    return StoredResource(body=body, revision=int(document.get(REVISION, 0)), internal=internal)


def _stored_events(events: Sequence[RecordedEvent], revision: int) -> list[dict[str, Any]]:
    """Events as stored, each with the revision that caused it and its place in that write: together they order
    a resource's events exactly, which per-resource ordered delivery relies on."""
    return [{**event.to_storage(), "revision": revision, "index": index} for index, event in enumerate(events)]


def _to_document(body: dict[str, Any]) -> dict[str, Any]:
    stored = to_storage({key: value for key, value in body.items() if key != "id"})
    assert isinstance(stored, dict)
    return stored


class ResourceRepository:
    """One collection of one resource type."""

    def __init__(self, collection: Collection, guard: WriteGuard | None = None) -> None:
        self.collection = collection
        self.guard: WriteGuard = guard or AtomicServerGuard()
        # Told (collection, id) after every write that recorded events, so delivery can start at once.
        self.on_recorded: Callable[[str, str], None] | None = None
        # Told the id of every resource created, for work that should start at once (the orchestration engine).
        self.on_created: Callable[[str], None] | None = None

    def _recorded(self, resource_id: str, events: Sequence[RecordedEvent]) -> None:
        if events and self.on_recorded is not None:
            self.on_recorded(self.collection.name, resource_id)

    def insert(
        self,
        body: dict[str, Any],
        events: Sequence[RecordedEvent],
        created: str,
        internal: dict[str, Any] | None = None,
    ) -> StoredResource:
        document = {
            "_id": body["id"],
            **_to_document(body),
            REVISION: 1,
            CREATED: created,
            PENDING_EVENTS: _stored_events(events, 1),
            **(internal or {}),
        }
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError as error:
            raise Conflict(f"A resource with id '{body['id']}' already exists") from error
        self._recorded(body["id"], events)
        if self.on_created is not None:
            self.on_created(body["id"])
        return _to_resource(document)

    def get(self, resource_id: str, projection: dict[str, int] | None = None) -> StoredResource | None:
        return self.find_one({"_id": resource_id}, projection)

    def get_with_internal(self, resource_id: str) -> StoredResource | None:
        """The resource with its bookkeeping fields (but not its pending events)."""
        return self.find_one({"_id": resource_id})

    def find_one(self, filter_: dict[str, Any], projection: dict[str, int] | None = None) -> StoredResource | None:
        """The first live resource matching filter_; projection (from `fields`) keeps only those attributes."""
        projection = {**projection, REVISION: 1} if projection is not None else {PENDING_EVENTS: 0}
        document = find_by_id(self.collection, {**filter_, **_LIVE}, projection)
        return None if document is None else _to_resource(document)

    def list(self, query: ListQuery) -> tuple[builtins.list[dict[str, Any]], int]:
        filter_ = {**query.filter, **_LIVE} if query.filter else dict(_LIVE)
        projection = query.projection if query.projection is not None else {PENDING_EVENTS: 0}
        sort = [*list(query.sort), (CREATED, 1), ("_id", 1)]
        try:
            total = self.collection.count_documents(filter_)
            if query.limit == 0:
                return [], total
            cursor = self.collection.find(filter_, projection).sort(sort).skip(query.offset).limit(query.limit)
            return [_to_resource(document).body for document in cursor], total
        except OperationFailure as error:
            # The filter came from the client (a regular expression the server cannot run, say).
            raise BadRequest(f"The query cannot be executed: {error.details or error}") from error

    def replace_if_revision(
        self,
        before: StoredResource,
        body: dict[str, Any],
        events: Sequence[RecordedEvent],
        internal: dict[str, Any] | None = None,
    ) -> StoredResource | None:
        """Write the new body only if nobody wrote since `before` was read; None means the race was lost."""
        document = _to_document(body)
        unset = {key: "" for key in _to_document(before.body) if key not in document}
        update: dict[str, Any] = {
            "$set": {**document, REVISION: before.revision + 1, **(internal or {})},
            "$push": {PENDING_EVENTS: {"$each": _stored_events(events, before.revision + 1)}},
        }
        if unset:
            update["$unset"] = unset
        # update_one rather than find_one_and_update: FerretDB 1.24 has no projection on findAndModify, and the
        # written state is known here anyway.
        resource_id = before.body["id"]
        with self.guard.hold(self.collection.name, resource_id, before.revision + 1) as mine:
            if not mine:
                return None
            written = update_by_id(self.collection, {"_id": resource_id, REVISION: before.revision, **_LIVE}, update)
        if not written:
            return None
        self._recorded(resource_id, events)
        return StoredResource(
            body=from_storage({"id": before.body["id"], **document}),
            revision=before.revision + 1,
            internal={**before.internal, **(internal or {})},
        )

    def tombstone_if_revision(self, resource_id: str, revision: int, events: Sequence[RecordedEvent], at: str) -> bool:
        """Mark deleted, keeping the document until its pending events have been relayed."""
        with self.guard.hold(self.collection.name, resource_id, revision + 1) as mine:
            if not mine:
                return False
            written = update_by_id(
                self.collection,
                {"_id": resource_id, REVISION: revision, **_LIVE},
                {
                    "$set": {DELETED: at, REVISION: revision + 1},
                    "$push": {PENDING_EVENTS: {"$each": _stored_events(events, revision + 1)}},
                },
            )
        if not written:
            return False
        self._recorded(resource_id, events)
        return True

    def pending_events(self, resource_id: str) -> builtins.list[dict[str, Any]]:
        document = self.collection.find_one({"_id": resource_id}, {PENDING_EVENTS: 1})
        if document is None:
            return []
        return [RecordedEvent.from_storage(raw).to_envelope() for raw in document.get(PENDING_EVENTS, [])]
