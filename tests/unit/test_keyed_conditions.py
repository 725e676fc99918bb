"""The conditions checked beside `_id` evaluate as MongoDB evaluates them."""

from __future__ import annotations

import pytest

from tmf_common.keyed import _split, matches


@pytest.mark.parametrize(
    ("document", "conditions", "expected"),
    [
        ({"_rev": 3}, {"_rev": 3}, True),
        ({"_rev": 3}, {"_rev": 4}, False),
        ({"_rev": 3.0}, {"_rev": 3}, True),
        ({}, {"_rev": 3}, False),
        ({"flag": True}, {"flag": 1}, False),
        ({"flag": 1}, {"flag": True}, False),
        ({"flag": True}, {"flag": True}, True),
        ({}, {"token": None}, True),
        ({"token": None}, {"token": None}, True),
        ({"token": "t"}, {"token": None}, False),
        ({}, {"_deleted": {"$exists": False}}, True),
        ({"_deleted": "2026-01-01T00:00:00Z"}, {"_deleted": {"$exists": False}}, False),
        ({"_deleted": None}, {"_deleted": {"$exists": True}}, True),
        ({"_events": []}, {"_events": []}, True),
        ({"_events": [{"eventId": "e"}]}, {"_events": []}, False),
        ({"_rev": 2, "state": "x"}, {"_rev": 2, "state": "y"}, False),
        ({"tags": ["a", "b"]}, {"tags": "b"}, True),
        ({"tags": ["a", "b"]}, {"tags": "c"}, False),
        ({"tags": []}, {"tags": []}, True),
    ],
)
def test_conditions_match_like_the_server(document: dict, conditions: dict, expected: bool) -> None:
    assert matches(document, conditions) is expected


@pytest.mark.parametrize(
    "filter_",
    [
        {"state": "x"},  # no _id
        {"_id": {"$in": ["a", "b"]}},  # not one document
        {"_id": "a", "$or": [{"x": 1}]},
        {"_id": "a", "nested.field": 1},
        {"_id": "a", "_rev": {"$gt": 1}},
        {"_id": "a", "tags": ["x"]},  # array equality also matches an element: left to the server
    ],
)
def test_filters_it_cannot_check_go_to_the_server_whole(filter_: dict) -> None:
    assert _split(filter_) is None


def test_a_plain_id_filter_splits_into_id_and_conditions() -> None:
    assert _split({"_id": "a", "_rev": 2}) == ("a", {"_rev": 2})
