"""Reads and writes of one document by `_id` with further conditions, in the form every server answers fast.

FerretDB 1.24 on SQLite hands a filter to SQL only when it is exactly `{"_id": <value>}`. With any other key
beside `_id` (a revision, a token, "not deleted") it reads and decodes every document of the collection and
filters them in Go, so a revision-conditioned write costs a scan that grows with the collection: measured with
200 family-plan orders, 11 ms instead of 3 ms, and 50 ms instead of 7 ms when each order carried three outbox
snapshots. Here the server is only ever asked for `{"_id": ...}` and the other conditions are checked on the
document it returns.

Conditional writes: MongoDB applies a filter and its update atomically, so it gets the whole filter. FerretDB 1.24
does not (it reads, then writes by record id in a separate transaction), so reading by id, checking and writing by
id is no weaker there; writes that must not race hold the write guard (`write_guard.py`), as they did before.
"""

from __future__ import annotations

import weakref
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

_ATOMIC_FILTERS: weakref.WeakKeyDictionary[MongoClient[Any], bool] = weakref.WeakKeyDictionary()


def filters_atomically(client: MongoClient[Any]) -> bool:
    """Whether the server applies an update's filter atomically with its write (MongoDB, not FerretDB 1.24)."""
    known = _ATOMIC_FILTERS.get(client)
    if known is None:
        try:
            build_info = client.admin.command("buildInfo")
        except OperationFailure:
            build_info = {}
        known = "ferretdbVersion" not in build_info
        _ATOMIC_FILTERS[client] = known
    return known


def _split(filter_: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """The `_id` value and the other conditions, when the filter names one document by a plain `_id`."""
    identity = filter_.get("_id")
    if identity is None or isinstance(identity, dict | list):
        return None
    conditions = {key: value for key, value in filter_.items() if key != "_id"}
    if any(key.startswith("$") or "." in key or not _checkable(value) for key, value in conditions.items()):
        return None
    return identity, conditions


def _checkable(condition: Any) -> bool:
    if isinstance(condition, dict):
        return set(condition) == {"$exists"}
    return not isinstance(condition, list) or condition == []


def matches(document: dict[str, Any], conditions: dict[str, Any]) -> bool:
    """Equality and `$exists` on top-level fields, as MongoDB evaluates them (a missing field equals null)."""
    for key, condition in conditions.items():
        if isinstance(condition, dict):
            if (key in document) != bool(condition["$exists"]):
                return False
        elif condition is None:
            if document.get(key) is not None:
                return False
        elif key not in document or not _equal(document[key], condition):
            return False
    return True


def _equal(stored: Any, condition: Any) -> bool:
    if isinstance(stored, list) and not isinstance(condition, list):
        # MongoDB: a scalar condition on an array field matches when any element equals it.
        return any(_equal(element, condition) for element in stored)
    # Python's True == 1, MongoDB's is not: booleans and numbers are different BSON types.
    if isinstance(stored, bool) or isinstance(condition, bool):
        return type(stored) is type(condition) and stored == condition
    return bool(stored == condition)


def _inclusive(projection: dict[str, Any]) -> bool:
    """Whether a projection lists what to keep (`{"state": 1}`, `{"_id": 1}`) rather than what to drop."""
    others = [value for key, value in projection.items() if key != "_id"]
    return any(others) if others else bool(projection.get("_id"))


def _fetch_projection(projection: dict[str, Any] | None, conditions: dict[str, Any]) -> dict[str, Any] | None:
    if projection is None or not conditions:
        return projection
    if _inclusive(projection):
        return {**projection, **dict.fromkeys(conditions, 1)}
    excluded = {key: value for key, value in projection.items() if key not in conditions}
    return excluded or None


def find_by_id(
    collection: Collection[Any], filter_: dict[str, Any], projection: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """`collection.find_one(filter_, projection)`, asking the server for `_id` alone when the filter allows it."""
    split = _split(filter_)
    if split is None:
        found: dict[str, Any] | None = collection.find_one(filter_, projection)
        return found
    identity, conditions = split
    document: dict[str, Any] | None = collection.find_one({"_id": identity}, _fetch_projection(projection, conditions))
    if document is None or not matches(document, conditions):
        return None
    if projection is not None and conditions:
        inclusive = _inclusive(projection)
        for key in conditions:
            if (inclusive and not projection.get(key)) or (not inclusive and key in projection):
                document.pop(key, None)
    return document


def update_by_id(collection: Collection[Any], filter_: dict[str, Any], update: dict[str, Any]) -> bool:
    """`update_one(filter_, update)`; True when the document matched and changed."""
    split = _split(filter_)
    if split is None or filters_atomically(collection.database.client):
        return collection.update_one(filter_, update).modified_count == 1
    identity, conditions = split
    if conditions and find_by_id(collection, filter_, dict.fromkeys(conditions, 1)) is None:
        return False
    return collection.update_one({"_id": identity}, update).modified_count == 1


def delete_by_id(collection: Collection[Any], filter_: dict[str, Any]) -> bool:
    """`delete_one(filter_)`; True when the document matched and was deleted."""
    split = _split(filter_)
    if split is None or filters_atomically(collection.database.client):
        return collection.delete_one(filter_).deleted_count == 1
    identity, conditions = split
    if conditions and find_by_id(collection, filter_, dict.fromkeys(conditions, 1)) is None:
        return False
    return collection.delete_one({"_id": identity}).deleted_count == 1
