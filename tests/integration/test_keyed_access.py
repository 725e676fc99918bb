"""Keyed reads and writes on the real database answer as the server's own filters do."""

from __future__ import annotations

from typing import Any

import pytest

from tmf_common.keyed import delete_by_id, find_by_id, update_by_id

FILTERS: list[dict[str, Any]] = [
    {"_id": "a"},
    {"_id": "a", "_rev": 2},
    {"_id": "a", "_rev": 3},
    {"_id": "a", "_deleted": {"$exists": False}},
    {"_id": "b", "_deleted": {"$exists": False}},
    {"_id": "b", "_deleted": {"$exists": True}, "_events": []},
    {"_id": "a", "token": None},
    {"_id": "a", "tags": "blue"},
    {"_id": "a", "tags": "red"},
    {"_id": "missing", "_rev": 1},
]


@pytest.fixture
def collection(database):  # type: ignore[no-untyped-def]
    collection = database["keyed"]
    collection.insert_many(
        [
            {"_id": "a", "_rev": 2, "state": "x", "tags": ["blue", "green"], "_events": [{"eventId": "e1"}]},
            {"_id": "b", "_rev": 5, "_deleted": "2026-12-04T00:00:00Z", "_events": []},
        ]
    )
    return collection


@pytest.mark.parametrize("filter_", FILTERS)
def test_find_by_id_finds_what_the_server_finds(collection, filter_: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    assert find_by_id(collection, filter_) == collection.find_one(filter_)


def test_projections_keep_only_what_was_asked(collection) -> None:  # type: ignore[no-untyped-def]
    assert find_by_id(collection, {"_id": "a", "_rev": 2}, {"state": 1}) == {"_id": "a", "state": "x"}
    assert find_by_id(collection, {"_id": "a", "_rev": 2}, {"_events": 0, "_rev": 0, "tags": 0}) == {
        "_id": "a",
        "state": "x",
    }
    assert find_by_id(collection, {"_id": "a", "_rev": 1}, {"state": 1}) is None
    assert find_by_id(collection, {"_id": "a", "_deleted": {"$exists": False}}, {"_id": 1}) == {"_id": "a"}
    assert find_by_id(collection, {"_id": "b", "_deleted": {"$exists": False}}, {"_id": 1}) is None


def test_updates_apply_only_when_the_conditions_hold(collection) -> None:  # type: ignore[no-untyped-def]
    assert update_by_id(collection, {"_id": "a", "_rev": 1}, {"$set": {"state": "stale"}}) is False
    assert update_by_id(collection, {"_id": "a", "_rev": 2}, {"$set": {"state": "y", "_rev": 3}}) is True
    assert collection.find_one({"_id": "a"}, {"state": 1, "_rev": 1}) == {"_id": "a", "state": "y", "_rev": 3}
    assert update_by_id(collection, {"_id": "missing", "_rev": 1}, {"$set": {"state": "z"}}) is False


def test_deletes_apply_only_when_the_conditions_hold(collection) -> None:  # type: ignore[no-untyped-def]
    assert delete_by_id(collection, {"_id": "b", "_rev": 5, "_events": [{"eventId": "x"}]}) is False
    assert delete_by_id(collection, {"_id": "b", "_rev": 4, "_events": []}) is False
    assert delete_by_id(collection, {"_id": "b", "_rev": 5, "_events": []}) is True
    assert collection.find_one({"_id": "b"}) is None
