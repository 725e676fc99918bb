"""PATCH documents: RFC 7396 merge patch, RFC 6902 JSON patch, the media type that picks one, changed attributes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tmf_common.errors import BadRequest, UnsupportedMediaType
from tmf_common.patch import PatchKind, apply_patch, merge_patch, patch_kind, top_level_changes

# RFC 7396, Appendix A: (original, patch, result), written out from the RFC's table.
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_7396_EXAMPLES)
def test_merge_patch_rfc_7396_appendix_a(original, patch, result):
    original_copy, patch_copy = copy.deepcopy(original), copy.deepcopy(patch)
    assert merge_patch(original, patch) == result
    assert original == original_copy, "the target must not be changed in place"
    assert patch == patch_copy, "the patch must not be changed in place"


def test_merge_patch_result_does_not_share_patch_values():
    patch = {"a": {"list": [1, 2]}, "b": [{"c": 1}]}
    result = merge_patch({}, patch)
    result["a"]["list"].append(3)
    result["b"][0]["c"] = 2
    assert patch == {"a": {"list": [1, 2]}, "b": [{"c": 1}]}


def test_merge_patch_on_a_tmf_resource():
    offering = {
        "id": "po-1",
        "name": "Old",
        "description": "d",
        "validFor": {"startDateTime": "2026-01-01T00:00:00.000Z", "endDateTime": "2027-01-01T00:00:00.000Z"},
    }
    patched = apply_patch(
        offering, {"name": "New", "description": None, "validFor": {"endDateTime": None}}, PatchKind.MERGE
    )
    assert patched == {"id": "po-1", "name": "New", "validFor": {"startDateTime": "2026-01-01T00:00:00.000Z"}}


@pytest.mark.parametrize("patch", [["a"], "text", 1, None, True])
def test_merge_patch_must_be_an_object(patch):
    with pytest.raises(BadRequest) as caught:
        apply_patch({"a": 1}, patch, PatchKind.MERGE)
    assert caught.value.status == 400


DOCUMENT = {"name": "Plan", "tags": ["a", "b"], "price": {"value": 10, "unit": "EUR"}}


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([{"op": "add", "path": "/description", "value": "x"}], {**DOCUMENT, "description": "x"}),
        ([{"op": "add", "path": "/tags/1", "value": "z"}], {**DOCUMENT, "tags": ["a", "z", "b"]}),
        ([{"op": "add", "path": "/tags/-", "value": "c"}], {**DOCUMENT, "tags": ["a", "b", "c"]}),
        ([{"op": "remove", "path": "/tags/0"}], {**DOCUMENT, "tags": ["b"]}),
        ([{"op": "remove", "path": "/price"}], {"name": "Plan", "tags": ["a", "b"]}),
        ([{"op": "replace", "path": "/price/value", "value": 12}], {**DOCUMENT, "price": {"value": 12, "unit": "EUR"}}),
        (
            [{"op": "move", "from": "/price/unit", "path": "/currency"}],
            {"name": "Plan", "tags": ["a", "b"], "price": {"value": 10}, "currency": "EUR"},
        ),
        ([{"op": "copy", "from": "/name", "path": "/title"}], {**DOCUMENT, "title": "Plan"}),
        ([{"op": "test", "path": "/name", "value": "Plan"}], DOCUMENT),
        (
            [
                {"op": "test", "path": "/price/unit", "value": "EUR"},
                {"op": "replace", "path": "/name", "value": "Plan 2"},
                {"op": "remove", "path": "/tags"},
            ],
            {"name": "Plan 2", "price": {"value": 10, "unit": "EUR"}},
        ),
        ([{"op": "add", "path": "/a~1b", "value": 1}], {**DOCUMENT, "a/b": 1}),
        ([], DOCUMENT),
    ],
)
def test_json_patch_operations(operations, expected):
    before = copy.deepcopy(DOCUMENT)
    assert apply_patch(DOCUMENT, operations, PatchKind.JSON_PATCH) == expected
    assert before == DOCUMENT, "the document must not be changed in place"


def test_failed_test_operation_has_its_own_code_and_changes_nothing():
    document = copy.deepcopy(DOCUMENT)
    operations = [{"op": "replace", "path": "/name", "value": "X"}, {"op": "test", "path": "/name", "value": "Y"}]
    with pytest.raises(BadRequest) as caught:
        apply_patch(document, operations, PatchKind.JSON_PATCH)
    assert caught.value.code == "PATCH_TEST_FAILED"
    assert caught.value.status == 400
    assert document == DOCUMENT


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing/deeper", "value": 1}],
        [{"op": "add", "path": "/tags/9", "value": "x"}],
        [{"op": "move", "from": "/price", "path": "/price/inner"}],
        [{"op": "copy", "from": "/missing", "path": "/x"}],
        [{"op": "add", "path": "name", "value": 1}],
        [{"op": "add", "value": 1}],
        [{"path": "/name"}],
        [{"op": "frobnicate", "path": "/name"}],
        [{"op": "add", "path": 5, "value": 1}],
        [1],
        [None],
        ["add"],
    ],
)
def test_json_patch_failures_are_bad_requests(operations):
    with pytest.raises(BadRequest) as caught:
        apply_patch(copy.deepcopy(DOCUMENT), operations, PatchKind.JSON_PATCH)
    assert caught.value.status == 400
    assert caught.value.code != "PATCH_TEST_FAILED"


@pytest.mark.parametrize("patch", [{"op": "add", "path": "/a", "value": 1}, "x", None, 3])
def test_json_patch_must_be_an_array(patch):
    with pytest.raises(BadRequest):
        apply_patch(copy.deepcopy(DOCUMENT), patch, PatchKind.JSON_PATCH)


@pytest.mark.parametrize("value", [[1], "text", None, 3])
def test_json_patch_must_leave_an_object(value):
    with pytest.raises(BadRequest):
        apply_patch(copy.deepcopy(DOCUMENT), [{"op": "replace", "path": "", "value": value}], PatchKind.JSON_PATCH)


def test_json_patch_may_replace_the_whole_object_with_another_object():
    assert apply_patch(DOCUMENT, [{"op": "replace", "path": "", "value": {"name": "B"}}], PatchKind.JSON_PATCH) == {
        "name": "B"
    }


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        (None, PatchKind.MERGE),
        ("application/json", PatchKind.MERGE),
        ("application/json;charset=utf-8", PatchKind.MERGE),
        ("application/json; charset=UTF-8", PatchKind.MERGE),
        ("Application/JSON", PatchKind.MERGE),
        ("application/merge-patch+json", PatchKind.MERGE),
        ("application/merge-patch+json; charset=utf-8", PatchKind.MERGE),
        ("application/json-patch+json", PatchKind.JSON_PATCH),
        ("application/json-patch+json;charset=utf-8", PatchKind.JSON_PATCH),
        (" APPLICATION/JSON-PATCH+JSON ; charset=utf-8", PatchKind.JSON_PATCH),
    ],
)
def test_patch_kind_by_media_type(content_type, kind):
    assert patch_kind(content_type) is kind


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/json-patch-query+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
    ],
)
def test_other_media_types_are_415(content_type):
    with pytest.raises(UnsupportedMediaType) as caught:
        patch_kind(content_type)
    assert caught.value.status == 415
    assert content_type.split(";")[0].strip().lower() in caught.value.message


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, ["a"]),
        ({"a": 1}, {}, ["a"]),
        ({}, {"a": 1}, ["a"]),
        ({"a": None}, {}, ["a"]),
        ({}, {"a": None}, ["a"]),
        ({"a": 1}, {"a": 1.5}, ["a"]),
        pytest.param({"a": 1}, {"a": True}, ["a"], id="1-to-true"),
        pytest.param({"a": 0}, {"a": False}, ["a"], id="0-to-false"),
        pytest.param({"a": {"v": [1]}}, {"a": {"v": [True]}}, ["a"], id="nested-1-to-true"),
        ({"n": {"x": [1, 2]}}, {"n": {"x": [2, 1]}}, ["n"]),
        ({"n": {"x": 1}, "m": 1}, {"n": {"x": 1}, "m": 1}, []),
        ({"z": 1, "b": 1, "a": 1}, {"z": 2, "b": 2, "a": 2}, ["a", "b", "z"]),
        ({"lifecycleStatus": "Active", "name": "A"}, {"lifecycleStatus": "Retired", "name": "A"}, ["lifecycleStatus"]),
    ],
)
def test_top_level_changes(before, after, changed):
    assert top_level_changes(before, after) == changed
