"""TMF622 productOrder bad input: every refusal is a 4xx TMF Error and stores nothing, on create and on PATCH."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.test_product_ordering import (
    BASE_PATH,
    JSON_PATCH,
    MERGE_PATCH,
    ORDERS,
    TIMEOUT,
    assert_tmf_error,
    create_order,
    get_order,
    move_items,
    patch_order,
    post_order,
    stored_order,
)
from tests.payloads import OMIT, SIM_ITEM_IDS, family_plan_order, sim_item


@pytest.fixture
def product_ordering_url(server, database) -> str:  # type: ignore[no-untyped-def]
    return server.url + BASE_PATH


def _items(change: Callable[[list[dict[str, Any]]], None]) -> dict[str, Any]:
    order = family_plan_order()
    change(order["productOrderItem"])
    return order


def _set(index: int, key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(items: list[dict[str, Any]]) -> None:
        items[index][key] = value

    return change


def _nest_duplicate(items: list[dict[str, Any]]) -> None:
    items[0]["productOrderItem"] = [sim_item("7", "secondary", "+1"), sim_item(SIM_ITEM_IDS[0], "secondary", "+2")]


def _nest_duplicates_of_each_other(items: list[dict[str, Any]]) -> None:
    items[0]["productOrderItem"] = [sim_item("7", "secondary", "+1"), sim_item("7", "secondary", "+2")]


def _nest_with_state(items: list[dict[str, Any]]) -> None:
    items[0]["productOrderItem"] = [{**sim_item("7", "secondary", "+1"), "state": "acknowledged"}]


def _relate_to_missing(items: list[dict[str, Any]]) -> None:
    items[3]["productOrderItemRelationship"].append({"id": "42", "relationshipType": "reliesOn"})


def _nested_relates_to_missing(items: list[dict[str, Any]]) -> None:
    nested = sim_item("7", "secondary", "+1", bundle_id="missing-bundle")
    items[0]["productOrderItem"] = [nested]


BAD_CREATES: dict[str, Any] = {
    "missing productOrderItem": family_plan_order(productOrderItem=OMIT),
    "empty productOrderItem": family_plan_order(productOrderItem=[]),
    "productOrderItem as object": family_plan_order(productOrderItem={"id": "1", "action": "add"}),
    "productOrderItem as null": family_plan_order(productOrderItem=None),
    "item without id": _items(lambda items: items[1].pop("id")),
    "item without action": _items(lambda items: items[1].pop("action")),
    "item id as number": _items(_set(1, "id", 2)),
    "unknown action": _items(_set(2, "action", "upgrade")),
    "duplicate top-level item ids": _items(_set(3, "id", SIM_ITEM_IDS[1])),
    "nested item duplicates a top-level id": _items(_nest_duplicate),
    "nested items duplicate each other": _items(_nest_duplicates_of_each_other),
    "relationship to a missing item": _items(_relate_to_missing),
    "nested relationship to a missing item": _items(_nested_relates_to_missing),
    "state": family_plan_order(state="acknowledged"),
    "state completed": family_plan_order(state="completed"),
    "id": family_plan_order(id="my-own-id"),
    "href": family_plan_order(href="http://example.com/productOrder/1"),
    "orderDate": family_plan_order(orderDate="2030-01-01T00:00:00.000Z"),
    "completionDate": family_plan_order(completionDate="2030-01-01T00:00:00.000Z"),
    "expectedCompletionDate": family_plan_order(expectedCompletionDate="2030-01-01T00:00:00.000Z"),
    "cancellationDate": family_plan_order(cancellationDate="2030-01-01T00:00:00.000Z"),
    "item state": _items(_set(1, "state", "acknowledged")),
    "nested item state": _items(_nest_with_state),
    "priority as number": family_plan_order(priority=1),
    "externalId as object": family_plan_order(externalId={"id": "x"}),
    "relatedParty as object": family_plan_order(relatedParty={"id": "cust-1", "@referredType": "Individual"}),
    "relatedParty without @referredType": family_plan_order(relatedParty=[{"id": "cust-1", "role": "customer"}]),
    "note without text": family_plan_order(note=[{"author": "John"}]),
    "requestedStartDate not a date": family_plan_order(requestedStartDate="next tuesday"),
    "quantity as string": _items(_set(0, "quantity", "1")),
    "body is an array": [family_plan_order()],
    "body is a string": "an order",
}


@pytest.mark.parametrize("case", list(BAD_CREATES))
def test_bad_create_is_a_tmf_error_and_stores_nothing(product_ordering_url, http, database, case):
    before = database[ORDERS].count_documents({})
    response = post_order(http, product_ordering_url, copy.deepcopy(BAD_CREATES[case]))

    error = assert_tmf_error(response, 400)

    assert database[ORDERS].count_documents({}) == before == 0
    assert error["code"] and error["message"]


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("duplicate top-level item ids", SIM_ITEM_IDS[1]),
        ("nested item duplicates a top-level id", SIM_ITEM_IDS[0]),
        ("relationship to a missing item", "42"),
        ("nested relationship to a missing item", "missing-bundle"),
        ("orderDate", "orderDate"),
        ("completionDate", "completionDate"),
        ("cancellationDate", "cancellationDate"),
    ],
)
def test_bad_create_message_names_the_culprit(product_ordering_url, http, case, needle):
    error = assert_tmf_error(post_order(http, product_ordering_url, copy.deepcopy(BAD_CREATES[case])), 400)
    assert needle in error["message"], error


@pytest.mark.parametrize(
    "raw",
    [
        b'{"productOrderItem": [{"id": "1", "action": "add"}',
        b'{"productOrderItem": [{"id": "1", "action": "add",}]}',
        b"productOrderItem=1",
        b"",
        b'{"productOrderItem": [{"id": "1", "action": "add"}]} trailing',
        b"\xff\xfe{}",
    ],
    ids=["truncated", "trailing-comma", "form-data", "empty", "trailing-text", "bad-utf8"],
)
def test_malformed_json_is_400_and_stores_nothing(product_ordering_url, http, database, raw):
    assert_tmf_error(post_order(http, product_ordering_url, raw), 400)
    assert database[ORDERS].count_documents({}) == 0


def test_bad_requests_with_an_idempotency_key_store_nothing_and_free_the_key(product_ordering_url, http, database):
    bad = post_order(http, product_ordering_url, family_plan_order(priority=1), **{"Idempotency-Key": "k-bad"})
    assert_tmf_error(bad, 400)
    assert database[ORDERS].count_documents({}) == 0
    good = post_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": "k-bad"})
    assert good.status_code == 201, good.text
    assert "Idempotent-Replayed" not in good.headers


# ----------------------------------------------------------------------------------------------- PATCH


def _json_patch(*operations: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    return list(operations), JSON_PATCH


BAD_PATCHES: dict[str, tuple[Any, str]] = {
    "unknown state": ({"state": "shipped"}, "application/json"),
    "unknown state (merge patch)": ({"state": "shipped"}, MERGE_PATCH),
    "unknown state (json patch)": _json_patch({"op": "replace", "path": "/state", "value": "shipped"}),
    "state as number": ({"state": 3}, "application/json"),
    "state as number (merge patch)": ({"state": 3}, MERGE_PATCH),
    "state removed": ({"state": None}, MERGE_PATCH),
    "priority as number": ({"priority": 1}, "application/json"),
    "priority as number (merge patch)": ({"priority": 1}, MERGE_PATCH),
    "productOrderItem as object": ({"productOrderItem": {"id": "1"}}, MERGE_PATCH),
    "productOrderItem emptied": ({"productOrderItem": []}, MERGE_PATCH),
    "note without text": ({"note": [{"author": "care"}]}, MERGE_PATCH),
    "merge patch not an object": ([{"op": "replace", "path": "/priority", "value": "2"}], MERGE_PATCH),
    "json patch not an array": ({"priority": "2"}, JSON_PATCH),
    "json patch unknown op": _json_patch({"op": "frobnicate", "path": "/priority", "value": "2"}),
    "json patch missing path": _json_patch({"op": "replace", "path": "/nothing/here", "value": "2"}),
    "json patch failing test": _json_patch(
        {"op": "test", "path": "/priority", "value": "4"}, {"op": "replace", "path": "/priority", "value": "0"}
    ),
    "item removed": _json_patch({"op": "remove", "path": "/productOrderItem/2"}),
    "item added": _json_patch({"op": "add", "path": "/productOrderItem/-", "value": {"id": "5", "action": "add"}}),
    "item id changed": _json_patch({"op": "replace", "path": "/productOrderItem/2/id", "value": "22"}),
    "item action changed": _json_patch({"op": "replace", "path": "/productOrderItem/2/action", "value": "delete"}),
    "unknown item state": _json_patch({"op": "replace", "path": "/productOrderItem/2/state", "value": "shipped"}),
    "unknown action": _json_patch({"op": "replace", "path": "/productOrderItem/2/action", "value": "upgrade"}),
    "nested item duplicating an id": _json_patch(
        {
            "op": "add",
            "path": "/productOrderItem/0/productOrderItem",
            "value": [{"id": "2", "action": "add", "state": "acknowledged"}],
        }
    ),
    "relationship as string": _json_patch(
        {"op": "add", "path": "/productOrderItem/1/productOrderItemRelationship/-", "value": "1"}
    ),
    "nested productOrderItem as object": _json_patch(
        {"op": "add", "path": "/productOrderItem/0/productOrderItem", "value": {"id": "9", "action": "add"}}
    ),
    "relationship to a missing item": _json_patch(
        {"op": "add", "path": "/productOrderItem/1/productOrderItemRelationship/-", "value": {"id": "42"}}
    ),
    "orderDate": ({"orderDate": "2030-01-01T00:00:00.000Z"}, MERGE_PATCH),
    "id": ({"id": "another"}, MERGE_PATCH),
    "cancellationDate": ({"cancellationDate": "2030-01-01T00:00:00.000Z"}, MERGE_PATCH),
    "malformed json": (b'{"priority": "2"', MERGE_PATCH),
    "malformed json patch": (b'[{"op": "replace", "path": "/priority", "value": "2"}', JSON_PATCH),
}


@pytest.mark.parametrize("case", list(BAD_PATCHES))
def test_bad_patch_is_400_and_changes_nothing(product_ordering_url, http, database, case):
    order = create_order(http, product_ordering_url)
    before = stored_order(database, order["id"])
    body, content_type = BAD_PATCHES[case]

    assert_tmf_error(patch_order(http, product_ordering_url, order["id"], copy.deepcopy(body), content_type), 400)

    assert stored_order(database, order["id"]) == before
    assert get_order(http, product_ordering_url, order["id"]) == order


def test_bad_patch_of_an_order_in_progress_changes_nothing(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    order = move_items(http, product_ordering_url, order, {SIM_ITEM_IDS[0]: "inProgress"})
    before = stored_order(database, order["id"])

    for body, content_type in (
        ({"state": "shipped"}, MERGE_PATCH),
        ([{"op": "replace", "path": "/productOrderItem/1/state", "value": "done"}], JSON_PATCH),
    ):
        assert_tmf_error(patch_order(http, product_ordering_url, order["id"], body, content_type), 400)
    assert stored_order(database, order["id"]) == before


def test_unsupported_patch_media_type_is_415(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    response = patch_order(http, product_ordering_url, order["id"], "priority=2", "text/plain")
    assert_tmf_error(response, 415)
    assert stored_order(database, order["id"])["_rev"] == 1


def test_stale_if_match_is_412_and_changes_nothing(product_ordering_url, http, database):
    order = create_order(http, product_ordering_url)
    first = patch_order(http, product_ordering_url, order["id"], {"priority": "2"}, **{"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    stale = patch_order(http, product_ordering_url, order["id"], {"priority": "3"}, **{"If-Match": '"1"'})
    assert_tmf_error(stale, 412)
    assert stored_order(database, order["id"])["priority"] == "2"


def test_patch_of_a_missing_order_is_404(product_ordering_url, http):
    response = http.patch(
        f"{product_ordering_url}/productOrder/does-not-exist",
        json={"priority": "2"},
        headers={"Content-Type": MERGE_PATCH},
        timeout=TIMEOUT,
    )
    assert_tmf_error(response, 404)
