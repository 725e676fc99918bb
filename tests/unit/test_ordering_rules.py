"""Unit tests of the shared order rules (tmf_common.ordering) with the TMF641 and TMF622 rules, and of the
idempotency request fingerprint. No I/O."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tmf622_product_ordering.domain.rules import PRODUCT_ORDER_RULES, PRODUCT_ORDER_SHAPE
from tmf641_service_ordering.domain.patch_rules import READ_ONLY_ON_CREATE
from tmf641_service_ordering.domain.rules import SERVICE_ORDER_RULES, SERVICE_ORDER_SHAPE
from tmf641_service_ordering.domain.states import SERVICE_ORDER_ITEM_LIFECYCLE
from tmf_common.errors import BadRequest, Conflict
from tmf_common.idempotency import request_fingerprint
from tmf_common.lifecycle import AttributeNotPatchable
from tmf_common.ordering import OrderPolicy, check_item_changes, check_item_structure

NOW = "2025-03-01T10:00:00.000Z"
LATER = "2025-03-01T11:00:00.000Z"
SERVICE_POLICY = OrderPolicy(SERVICE_ORDER_RULES)
PRODUCT_POLICY = OrderPolicy(PRODUCT_ORDER_RULES)


def so_item(item_id: str, state: str | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "action": "add", "service": {"serviceSpecification": {"id": "sim"}}}
    if state is not None:
        item["state"] = state
    return {**item, **extra}


def po_item(item_id: str, state: str | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "action": "add", "productOffering": {"id": "plan"}}
    if state is not None:
        item["state"] = state
    return {**item, **extra}


def service_order(state: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "so-1", "state": state, "orderDate": NOW, "serviceOrderItem": list(items), **extra}


def product_order(state: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "po-1", "state": state, "orderDate": NOW, "productOrderItem": list(items), **extra}


def depends_on(item_id: str, **reference: str) -> list[dict[str, Any]]:
    return [{"relationshipType": "dependsOn", "orderItem": {"itemId": item_id, **reference}}]


def updated(policy: OrderPolicy, before: dict[str, Any], change) -> dict[str, Any]:
    """prepare_update on a copy of before changed by `change`; before itself must stay as it was."""
    pristine = copy.deepcopy(before)
    after = copy.deepcopy(before)
    change(after)
    result = policy.prepare_update(before, after, LATER)
    assert before == pristine
    return result


def set_states(key: str, states: dict[str, str]):
    def change(order: dict[str, Any]) -> None:
        for item in order[key]:
            if item["id"] in states:
                item["state"] = states[item["id"]]

    return change


# ---------------------------------------------------------------------------------------------------------------
# OrderShape.walk


def test_walk_visits_nested_items_breadth_first_with_paths():
    order = {
        "serviceOrderItem": [
            so_item("a", serviceOrderItem=[so_item("a1", serviceOrderItem=[so_item("a1x")]), so_item("a2")]),
            so_item("b", serviceOrderItem=[so_item("b1")]),
        ]
    }
    assert [(path, item["id"]) for path, item in SERVICE_ORDER_SHAPE.walk(order)] == [
        ("serviceOrderItem[0]", "a"),
        ("serviceOrderItem[1]", "b"),
        ("serviceOrderItem[0].serviceOrderItem[0]", "a1"),
        ("serviceOrderItem[0].serviceOrderItem[1]", "a2"),
        ("serviceOrderItem[1].serviceOrderItem[0]", "b1"),
        ("serviceOrderItem[0].serviceOrderItem[0].serviceOrderItem[0]", "a1x"),
    ]


def test_walk_yields_the_items_themselves():
    order = {"serviceOrderItem": [so_item("a", serviceOrderItem=[so_item("a1")])]}
    for _, item in SERVICE_ORDER_SHAPE.walk(order):
        item["state"] = "acknowledged"
    assert order["serviceOrderItem"][0]["serviceOrderItem"][0]["state"] == "acknowledged"


@pytest.mark.parametrize("order", [{}, {"serviceOrderItem": []}, {"serviceOrderItem": None}])
def test_walk_of_an_order_without_items_is_empty(order):
    assert list(SERVICE_ORDER_SHAPE.walk(order)) == []


def test_walk_follows_the_shape_item_key():
    order = {"productOrderItem": [po_item("1", productOrderItem=[po_item("1.1")])], "serviceOrderItem": [so_item("x")]}
    assert [item["id"] for _, item in PRODUCT_ORDER_SHAPE.walk(order)] == ["1", "1.1"]
    assert set(PRODUCT_ORDER_SHAPE.items_by_id(order)) == {"1", "1.1"}


# ---------------------------------------------------------------------------------------------------------------
# check_item_structure


def test_structure_accepts_relationships_inside_the_order_at_any_level():
    order = {
        "serviceOrderItem": [
            so_item("1", serviceOrderItem=[so_item("1.1", serviceOrderItemRelationship=depends_on("2"))]),
            so_item("2", serviceOrderItemRelationship=depends_on("1.1")),
        ]
    }
    check_item_structure(order, SERVICE_ORDER_SHAPE)


def test_structure_ignores_relationships_to_items_of_another_service_order():
    for reference in ({"serviceOrderId": "so-9"}, {"serviceOrderHref": "https://x/serviceOrder/so-9"}):
        order = {"serviceOrderItem": [so_item("1", serviceOrderItemRelationship=depends_on("7", **reference))]}
        check_item_structure(order, SERVICE_ORDER_SHAPE)


@pytest.mark.parametrize("order", [{}, {"serviceOrderItem": []}])
def test_structure_needs_an_item(order):
    with pytest.raises(BadRequest, match="at least one serviceOrderItem"):
        check_item_structure(order, SERVICE_ORDER_SHAPE)


def test_structure_refuses_duplicate_ids_naming_both_places():
    order = {"serviceOrderItem": [so_item("1"), so_item("2", serviceOrderItem=[so_item("1")])]}
    with pytest.raises(BadRequest) as raised:
        check_item_structure(order, SERVICE_ORDER_SHAPE)
    assert "'1'" in raised.value.message
    assert "serviceOrderItem[0]" in raised.value.message
    assert "serviceOrderItem[1].serviceOrderItem[0]" in raised.value.message


def test_structure_refuses_relationship_to_a_missing_item():
    order = {
        "serviceOrderItem": [
            so_item("1", serviceOrderItem=[so_item("1.1", serviceOrderItemRelationship=depends_on("9"))])
        ]
    }
    with pytest.raises(BadRequest) as raised:
        check_item_structure(order, SERVICE_ORDER_SHAPE)
    assert "serviceOrderItem[0].serviceOrderItem[0].serviceOrderItemRelationship[0]" in raised.value.message
    assert "'9'" in raised.value.message


def test_structure_of_product_orders_uses_relationship_id():
    good = {
        "productOrderItem": [
            po_item("1"),
            po_item("2", productOrderItemRelationship=[{"id": "1", "relationshipType": "reliesOn"}]),
        ]
    }
    check_item_structure(good, PRODUCT_ORDER_SHAPE)
    bad = {
        "productOrderItem": [po_item("1", productOrderItemRelationship=[{"id": "5", "relationshipType": "reliesOn"}])]
    }
    with pytest.raises(BadRequest, match="'5'"):
        check_item_structure(bad, PRODUCT_ORDER_SHAPE)


# ---------------------------------------------------------------------------------------------------------------
# check_item_changes


def check_so_items(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return check_item_changes(
        {"serviceOrderItem": before}, {"serviceOrderItem": after}, SERVICE_ORDER_SHAPE, SERVICE_ORDER_ITEM_LIFECYCLE
    )


def test_item_changes_report_each_allowed_move():
    before = [so_item("1", "inProgress"), so_item("2", "inProgress", serviceOrderItem=[so_item("2.1", "acknowledged")])]
    after = [so_item("1", "completed"), so_item("2", "inProgress", serviceOrderItem=[so_item("2.1", "inProgress")])]
    assert check_so_items(before, after) == {"1": ("inProgress", "completed"), "2.1": ("acknowledged", "inProgress")}


def test_item_changes_without_a_state_change_are_empty():
    items = [so_item("1", "inProgress")]
    assert check_so_items(items, copy.deepcopy(items)) == {}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([so_item("1", "acknowledged")], [so_item("1", "acknowledged"), so_item("2", "acknowledged")]),
        ([so_item("1", "acknowledged"), so_item("2", "acknowledged")], [so_item("1", "acknowledged")]),
        ([so_item("1", "acknowledged")], [so_item("9", "acknowledged")]),
        (
            [so_item("1", "acknowledged")],
            [so_item("1", "acknowledged", serviceOrderItem=[so_item("1.1", "acknowledged")])],
        ),
    ],
    ids=["added", "removed", "replaced", "nested added"],
)
def test_items_cannot_be_added_or_removed(before, after):
    with pytest.raises(BadRequest) as raised:
        check_so_items(before, after)
    assert raised.value.code == "ITEMS_FIXED"


def test_item_action_cannot_change():
    with pytest.raises(BadRequest, match="action"):
        check_so_items([so_item("1", "acknowledged")], [so_item("1", "acknowledged", action="delete")])


def test_forbidden_item_move_is_a_conflict():
    with pytest.raises(Conflict) as raised:
        check_so_items([so_item("1", "acknowledged")], [so_item("1", "completed")])
    assert raised.value.code == "FORBIDDEN_TRANSITION"
    assert "'1'" in raised.value.message


def test_unknown_or_missing_item_state_is_a_bad_request():
    with pytest.raises(BadRequest) as raised:
        check_so_items([so_item("1", "inProgress")], [so_item("1", "shipped")])
    assert raised.value.code == "UNKNOWN_STATE"
    with pytest.raises(BadRequest, match="state is required"):
        check_so_items([so_item("1", "inProgress")], [so_item("1")])


# ---------------------------------------------------------------------------------------------------------------
# OrderPolicy.prepare_create


def test_service_order_create_sets_states_date_and_default_priority():
    body = {"serviceOrderItem": [so_item("1", serviceOrderItem=[so_item("1.1")]), so_item("2")]}
    prepared = SERVICE_POLICY.prepare_create(body, NOW)
    assert prepared["state"] == "acknowledged"
    assert prepared["orderDate"] == NOW
    assert prepared["priority"] == "4"
    assert [item["state"] for _, item in SERVICE_ORDER_SHAPE.walk(prepared)] == ["acknowledged"] * 3
    assert "startDate" not in prepared and "completionDate" not in prepared


def test_service_order_create_keeps_a_given_priority():
    assert SERVICE_POLICY.prepare_create({"serviceOrderItem": [so_item("1")], "priority": "0"}, NOW)["priority"] == "0"


def test_product_order_create_has_no_priority_default():
    prepared = PRODUCT_POLICY.prepare_create({"productOrderItem": [po_item("1")]}, NOW)
    assert prepared["state"] == "acknowledged"
    assert prepared["productOrderItem"][0]["state"] == "acknowledged"
    assert "priority" not in prepared


@pytest.mark.parametrize("attribute", sorted(READ_ONLY_ON_CREATE))
def test_service_order_create_refuses_server_set_attributes(attribute):
    with pytest.raises(BadRequest) as raised:
        SERVICE_POLICY.prepare_create({"serviceOrderItem": [so_item("1")], attribute: "x"}, NOW)
    assert raised.value.code == "READ_ONLY_ATTRIBUTE"
    assert attribute in raised.value.message


@pytest.mark.parametrize("attribute", ["state", "errorMessage"])
def test_service_order_create_refuses_server_set_item_attributes_at_any_depth(attribute):
    body = {"serviceOrderItem": [so_item("1", serviceOrderItem=[so_item("1.1", **{attribute: "x"})])]}
    with pytest.raises(BadRequest) as raised:
        SERVICE_POLICY.prepare_create(body, NOW)
    assert raised.value.code == "READ_ONLY_ATTRIBUTE"
    assert "serviceOrderItem[0].serviceOrderItem[0]" in raised.value.message


@pytest.mark.parametrize("attribute", ["state", "orderDate", "completionDate", "cancellationDate"])
def test_product_order_create_refuses_server_set_attributes(attribute):
    with pytest.raises(BadRequest) as raised:
        PRODUCT_POLICY.prepare_create({"productOrderItem": [po_item("1")], attribute: "x"}, NOW)
    assert raised.value.code == "READ_ONLY_ATTRIBUTE"


def test_create_checks_the_item_structure():
    with pytest.raises(BadRequest, match="used twice"):
        SERVICE_POLICY.prepare_create({"serviceOrderItem": [so_item("1"), so_item("1")]}, NOW)
    with pytest.raises(BadRequest, match="not in this order"):
        PRODUCT_POLICY.prepare_create(
            {"productOrderItem": [po_item("1", productOrderItemRelationship=[{"id": "2", "relationshipType": "x"}])]},
            NOW,
        )


# ---------------------------------------------------------------------------------------------------------------
# OrderPolicy.prepare_update


def test_explicit_start_sets_the_service_order_start_date_once():
    before = service_order("acknowledged", so_item("1", "acknowledged"))
    started = updated(SERVICE_POLICY, before, lambda o: o.update(state="inProgress"))
    assert (started["state"], started["startDate"]) == ("inProgress", LATER)
    assert "completionDate" not in started
    held = updated(SERVICE_POLICY, started, lambda o: o.update(state="held"))
    resumed = SERVICE_POLICY.prepare_update(
        held, {**copy.deepcopy(held), "state": "inProgress"}, "2030-01-01T00:00:00.000Z"
    )
    assert resumed["startDate"] == LATER


def test_product_order_has_no_start_date():
    before = product_order("acknowledged", po_item("1", "acknowledged"))
    started = updated(PRODUCT_POLICY, before, lambda o: o.update(state="inProgress"))
    assert started["state"] == "inProgress"
    assert "startDate" not in started


def test_first_started_item_moves_the_order_to_in_progress():
    before = service_order("acknowledged", so_item("1", "acknowledged"), so_item("2", "acknowledged"))
    after = updated(SERVICE_POLICY, before, set_states("serviceOrderItem", {"1": "inProgress"}))
    assert after["state"] == "inProgress"
    assert after["startDate"] == LATER


@pytest.mark.parametrize(
    ("policy", "key", "make_item", "make_order"),
    [
        (SERVICE_POLICY, "serviceOrderItem", so_item, service_order),
        (PRODUCT_POLICY, "productOrderItem", po_item, product_order),
    ],
    ids=["TMF641", "TMF622"],
)
@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ({"1": "completed", "2": "completed"}, "completed"),
        ({"1": "completed", "2": "failed"}, "partial"),
        ({"1": "failed", "2": "failed"}, "failed"),
        ({"1": "completed"}, "inProgress"),
    ],
)
def test_order_state_rolls_up_from_items(policy, key, make_item, make_order, outcome, expected):
    before = make_order("inProgress", make_item("1", "inProgress"), make_item("2", "inProgress"))
    after = updated(policy, before, set_states(key, outcome))
    assert after["state"] == expected
    assert ("completionDate" in after) == (expected != "inProgress")
    if expected != "inProgress":
        assert after["completionDate"] == LATER


def test_roll_up_from_held_goes_through_in_progress_to_completed():
    before = service_order("held", so_item("1", "inProgress"))
    after = updated(SERVICE_POLICY, before, set_states("serviceOrderItem", {"1": "completed"}))
    assert after["state"] == "completed"
    assert after["completionDate"] == LATER


def test_no_change_items_do_not_count_unless_all_are_no_change():
    before = service_order("inProgress", so_item("1", "inProgress"), so_item("keep", "acknowledged", action="noChange"))
    after = updated(SERVICE_POLICY, before, set_states("serviceOrderItem", {"1": "completed"}))
    assert after["state"] == "completed"


def test_explicit_outcome_must_agree_with_the_items():
    before = service_order("inProgress", so_item("1", "inProgress"), so_item("2", "inProgress"))
    agreeing = updated(
        SERVICE_POLICY,
        before,
        lambda o: (set_states("serviceOrderItem", {"1": "completed", "2": "failed"})(o), o.update(state="partial")),
    )
    assert agreeing["state"] == "partial"
    with pytest.raises(Conflict) as raised:
        updated(SERVICE_POLICY, before, lambda o: o.update(state="completed"))
    assert raised.value.code == "STATE_CONTRADICTS_ITEMS"


@pytest.mark.parametrize(
    ("policy", "make_order", "make_item", "state", "target"),
    [
        (SERVICE_POLICY, service_order, so_item, "acknowledged", "completed"),
        (SERVICE_POLICY, service_order, so_item, "inProgress", "acknowledged"),
        (PRODUCT_POLICY, product_order, po_item, "acknowledged", "held"),
        (PRODUCT_POLICY, product_order, po_item, "inProgress", "cancelled"),
    ],
)
def test_forbidden_order_move_is_a_conflict(policy, make_order, make_item, state, target):
    before = make_order(state, make_item("1", "inProgress" if state == "inProgress" else "acknowledged"))
    with pytest.raises(Conflict) as raised:
        updated(policy, before, lambda o: o.update(state=target))
    assert raised.value.code == "FORBIDDEN_TRANSITION"


@pytest.mark.parametrize("target", ["assessingCancellation", "pendingCancellation"])
def test_cancellation_states_are_not_reachable_by_patch(target):
    before = service_order("inProgress", so_item("1", "inProgress"))
    with pytest.raises(Conflict, match="cancelServiceOrder"):
        updated(SERVICE_POLICY, before, lambda o: o.update(state=target))


def test_explicit_cancel_cancels_the_items_that_can_be():
    before = service_order("acknowledged", so_item("1", "acknowledged"), so_item("2", "acknowledged"))
    after = updated(SERVICE_POLICY, before, lambda o: o.update(state="cancelled"))
    assert after["state"] == "cancelled"
    assert [item["state"] for item in after["serviceOrderItem"]] == ["cancelled", "cancelled"]
    assert after["completionDate"] == LATER


def test_unknown_order_state_is_refused():
    before = service_order("acknowledged", so_item("1", "acknowledged"))
    with pytest.raises(ValueError, match="shipped"):
        updated(SERVICE_POLICY, before, lambda o: o.update(state="shipped"))


def test_service_order_item_progress_may_change_after_start_but_nothing_else():
    before = service_order("inProgress", so_item("1", "inProgress"), so_item("2", "inProgress"))

    def report(order: dict[str, Any]) -> None:
        item = order["serviceOrderItem"][0]
        item.update(state="completed", service={"id": "svc-1", "state": "active"}, errorMessage=[{"code": "W"}])

    assert updated(SERVICE_POLICY, before, report)["serviceOrderItem"][0]["service"]["id"] == "svc-1"
    with pytest.raises(Conflict) as raised:
        updated(SERVICE_POLICY, before, lambda o: o["serviceOrderItem"][1].update(quantity=2))
    assert raised.value.code == "NOT_PATCHABLE_NOW"


def test_item_content_may_change_while_acknowledged():
    before = service_order("acknowledged", so_item("1", "acknowledged"))
    after = updated(SERVICE_POLICY, before, lambda o: o["serviceOrderItem"][0].update(quantity=2))
    assert after["serviceOrderItem"][0]["quantity"] == 2


def test_product_order_item_content_is_fixed_after_start():
    before = product_order("inProgress", po_item("1", "inProgress"))
    with pytest.raises(Conflict) as raised:
        updated(PRODUCT_POLICY, before, lambda o: o["productOrderItem"][0].update(product={"id": "p-1"}))
    assert raised.value.code == "NOT_PATCHABLE_NOW"


def test_patch_rules_apply_to_top_level_attributes():
    before = service_order("inProgress", so_item("1", "inProgress"), category="mobile")
    with pytest.raises(AttributeNotPatchable) as raised:
        updated(SERVICE_POLICY, before, lambda o: o.update(category="fixed"))
    assert raised.value.read_only
    final = service_order("completed", so_item("1", "completed"))
    with pytest.raises(AttributeNotPatchable) as raised:
        updated(SERVICE_POLICY, final, lambda o: o.update(description="late"))
    assert not raised.value.read_only
    assert updated(SERVICE_POLICY, final, lambda o: o.update(note=[{"text": "ok"}]))["note"] == [{"text": "ok"}]


def test_update_refuses_a_repeated_item_id():
    before = service_order("acknowledged", so_item("1", "acknowledged"), so_item("2", "acknowledged"))
    with pytest.raises(BadRequest):
        updated(SERVICE_POLICY, before, lambda o: o["serviceOrderItem"].append(so_item("2", "acknowledged")))


def test_update_refuses_a_relationship_to_a_missing_item():
    before = service_order("acknowledged", so_item("1", "acknowledged"), so_item("2", "acknowledged"))
    with pytest.raises(BadRequest):
        updated(
            SERVICE_POLICY,
            before,
            lambda o: o["serviceOrderItem"][0].update(serviceOrderItemRelationship=depends_on("9")),
        )


# ---------------------------------------------------------------------------------------------------------------
# OrderPolicy.check_delete


@pytest.mark.parametrize("state", ["completed", "failed", "partial", "cancelled", "rejected"])
@pytest.mark.parametrize("policy", [SERVICE_POLICY, PRODUCT_POLICY], ids=["TMF641", "TMF622"])
def test_final_orders_may_be_deleted(policy, state):
    policy.check_delete({"id": "o-1", "state": state})


@pytest.mark.parametrize(
    "state", ["acknowledged", "inProgress", "pending", "held", "assessingCancellation", "pendingCancellation"]
)
@pytest.mark.parametrize("policy", [SERVICE_POLICY, PRODUCT_POLICY], ids=["TMF641", "TMF622"])
def test_open_orders_may_not_be_deleted(policy, state):
    with pytest.raises(Conflict) as raised:
        policy.check_delete({"id": "o-1", "state": state})
    assert raised.value.code == "NOT_FINAL"
    assert state in raised.value.message


# ---------------------------------------------------------------------------------------------------------------
# request_fingerprint


def test_fingerprint_does_not_depend_on_key_order():
    first = {"a": 1, "b": {"x": [1, {"p": 1, "q": 2}], "y": None}, "c": "text"}
    second = {"c": "text", "b": {"y": None, "x": [1, {"q": 2, "p": 1}]}, "a": 1}
    assert request_fingerprint(first) == request_fingerprint(second)


@pytest.mark.parametrize(
    "other",
    [
        {"a": 2, "b": [1, 2]},
        {"a": 1, "b": [2, 1]},
        {"a": 1, "b": [1, 2], "c": None},
        {"a": "1", "b": [1, 2]},
        {"A": 1, "b": [1, 2]},
    ],
)
def test_fingerprint_changes_with_content(other):
    assert request_fingerprint({"a": 1, "b": [1, 2]}) != request_fingerprint(other)


def test_fingerprint_is_a_sha256_hex_digest():
    digest = request_fingerprint({})
    assert len(digest) == 64
    assert int(digest, 16) >= 0
