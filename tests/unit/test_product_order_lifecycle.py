"""Unit tests of the TMF622 order, item and cancel lifecycles, the order roll-up and the patch rules."""

from __future__ import annotations

import itertools

import pytest

from tmf622_product_ordering.domain.patch_rules import (
    ITEM_READ_ONLY_ON_CREATE,
    READ_ONLY_ON_CREATE,
    AttributeNotPatchable,
    check_patchable,
)
from tmf622_product_ordering.domain.rollup import roll_up_order_state, roll_up_steps
from tmf622_product_ordering.domain.states import (
    CANCEL_PRODUCT_ORDER_LIFECYCLE,
    PRODUCT_ORDER_ITEM_LIFECYCLE,
    PRODUCT_ORDER_LIFECYCLE,
    CancelProductOrderState,
    ProductOrderItemState,
    ProductOrderState,
    check_item_return_from_assessment,
    check_return_from_assessment,
    deny_cancellation,
)
from tmf_common.lifecycle import ForbiddenTransition, UnknownState

# Written out from TMF-FACTS.md section 4 and the project decisions, independently of the tables under test.
ORDER_VALUES = [
    "acknowledged",
    "rejected",
    "pending",
    "held",
    "inProgress",
    "cancelled",
    "completed",
    "failed",
    "partial",
    "assessingCancellation",
    "pendingCancellation",
]
ITEM_VALUES = [v for v in ORDER_VALUES if v != "partial"]
CANCEL_VALUES = ["acknowledged", "terminatedWithError", "inProgress", "done"]

ORDER_MOVES = {
    ("acknowledged", "inProgress"),
    ("acknowledged", "pending"),
    ("acknowledged", "rejected"),  # project decision: business validation after acknowledgement
    ("acknowledged", "assessingCancellation"),  # project decision: cancel before treatment starts
    ("inProgress", "pending"),
    ("pending", "inProgress"),
    ("pending", "cancelled"),
    ("inProgress", "held"),
    ("held", "inProgress"),
    ("held", "cancelled"),
    ("inProgress", "assessingCancellation"),
    ("pending", "assessingCancellation"),
    ("held", "assessingCancellation"),
    ("assessingCancellation", "acknowledged"),
    ("assessingCancellation", "inProgress"),
    ("assessingCancellation", "pending"),
    ("assessingCancellation", "held"),
    ("assessingCancellation", "pendingCancellation"),
    ("pendingCancellation", "cancelled"),
    ("inProgress", "completed"),
    ("inProgress", "failed"),
    ("inProgress", "partial"),
}
ITEM_MOVES = {(a, b) for a, b in ORDER_MOVES if "partial" not in (a, b)}
CANCEL_MOVES = {
    ("acknowledged", "inProgress"),
    ("inProgress", "done"),
    ("inProgress", "terminatedWithError"),
}
ORDER_FINAL = {"completed", "failed", "partial", "cancelled", "rejected"}
ITEM_FINAL = ORDER_FINAL - {"partial"}
CANCEL_FINAL = {"done", "terminatedWithError"}


def test_enum_values_are_exactly_the_v4_ones() -> None:
    assert [s.value for s in ProductOrderState] == ORDER_VALUES
    assert sorted(s.value for s in ProductOrderItemState) == sorted(ITEM_VALUES)
    assert sorted(s.value for s in CancelProductOrderState) == sorted(CANCEL_VALUES)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ORDER_VALUES, repeat=2)))
def test_order_transition_matrix(source: str, target: str) -> None:
    lifecycle = PRODUCT_ORDER_LIFECYCLE
    a, b = ProductOrderState(source), ProductOrderState(target)
    expected = source == target or (source, target) in ORDER_MOVES
    assert lifecycle.can(a, b) is expected
    if expected:
        assert lifecycle.transition(a, b) is b
    else:
        with pytest.raises(ForbiddenTransition, match=f"productOrder cannot move from '{source}' to '{target}'"):
            lifecycle.transition(a, b)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ITEM_VALUES, repeat=2)))
def test_item_transition_matrix(source: str, target: str) -> None:
    lifecycle = PRODUCT_ORDER_ITEM_LIFECYCLE
    a, b = ProductOrderItemState(source), ProductOrderItemState(target)
    expected = source == target or (source, target) in ITEM_MOVES
    assert lifecycle.can(a, b) is expected
    if not expected:
        with pytest.raises(ForbiddenTransition, match=f"productOrderItem cannot move from '{source}' to '{target}'"):
            lifecycle.transition(a, b)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(CANCEL_VALUES, repeat=2)))
def test_cancel_transition_matrix(source: str, target: str) -> None:
    a, b = CancelProductOrderState(source), CancelProductOrderState(target)
    expected = source == target or (source, target) in CANCEL_MOVES
    assert CANCEL_PRODUCT_ORDER_LIFECYCLE.can(a, b) is expected


def test_terminal_and_initial_sets() -> None:
    assert {s.value for s in PRODUCT_ORDER_LIFECYCLE.terminal} == ORDER_FINAL
    assert {s.value for s in PRODUCT_ORDER_ITEM_LIFECYCLE.terminal} == ITEM_FINAL
    assert {s.value for s in CANCEL_PRODUCT_ORDER_LIFECYCLE.terminal} == CANCEL_FINAL
    assert {s.value for s in PRODUCT_ORDER_LIFECYCLE.initial} == {"acknowledged", "rejected"}
    assert {s.value for s in PRODUCT_ORDER_ITEM_LIFECYCLE.initial} == {"acknowledged", "rejected"}
    assert {s.value for s in CANCEL_PRODUCT_ORDER_LIFECYCLE.initial} == {"acknowledged"}


@pytest.mark.parametrize("final", sorted(ORDER_FINAL))
def test_final_order_states_have_no_way_out(final: str) -> None:
    state = ProductOrderState(final)
    assert PRODUCT_ORDER_LIFECYCLE.is_terminal(state)
    assert PRODUCT_ORDER_LIFECYCLE.next_states(state) == frozenset()
    assert not any(PRODUCT_ORDER_LIFECYCLE.can(state, other) for other in ProductOrderState if other != state)


@pytest.mark.parametrize("final", sorted(ITEM_FINAL))
def test_final_item_states_have_no_way_out(final: str) -> None:
    state = ProductOrderItemState(final)
    assert not any(PRODUCT_ORDER_ITEM_LIFECYCLE.can(state, other) for other in ProductOrderItemState if other != state)


def test_completed_cannot_go_back_to_in_progress_with_a_clear_message() -> None:
    with pytest.raises(ForbiddenTransition) as caught:
        PRODUCT_ORDER_LIFECYCLE.transition(ProductOrderState.COMPLETED, ProductOrderState.IN_PROGRESS)
    assert str(caught.value) == "productOrder cannot move from 'completed' to 'inProgress'"


@pytest.mark.parametrize("value", ["InProgress", "in_progress", "partial "])
def test_unknown_order_state(value: str) -> None:
    with pytest.raises(UnknownState) as caught:
        PRODUCT_ORDER_LIFECYCLE.parse(value)
    assert caught.value.lifecycle == "productOrder"
    assert "inProgress" in str(caught.value)


def test_partial_is_not_an_item_state_in_v4() -> None:
    with pytest.raises(UnknownState):
        PRODUCT_ORDER_ITEM_LIFECYCLE.parse("partial")
    assert PRODUCT_ORDER_ITEM_LIFECYCLE.parse("inProgress") is ProductOrderItemState.IN_PROGRESS


ENTRY_STATES = ["acknowledged", "inProgress", "pending", "held"]


@pytest.mark.parametrize(("previous", "target"), list(itertools.product(ENTRY_STATES, ORDER_VALUES)))
def test_leaving_assessing_cancellation(previous: str, target: str) -> None:
    expected = target in {previous, "pendingCancellation", "assessingCancellation"}
    p, t = ProductOrderState(previous), ProductOrderState(target)
    if expected:
        assert check_return_from_assessment(p, t) is t
    else:
        with pytest.raises(ForbiddenTransition):
            check_return_from_assessment(p, t)


@pytest.mark.parametrize("previous", ENTRY_STATES)
def test_deny_cancellation_returns_to_the_previous_state(previous: str) -> None:
    assert deny_cancellation(ProductOrderState(previous)) == previous


@pytest.mark.parametrize("previous", ["completed", "rejected", "pendingCancellation", "assessingCancellation"])
def test_deny_cancellation_refuses_a_state_that_cannot_enter_assessment(previous: str) -> None:
    with pytest.raises(ForbiddenTransition):
        deny_cancellation(ProductOrderState(previous))


def test_item_return_from_assessment() -> None:
    held, in_progress = ProductOrderItemState.HELD, ProductOrderItemState.IN_PROGRESS
    assert check_item_return_from_assessment(held, held) is held
    with pytest.raises(ForbiddenTransition):
        check_item_return_from_assessment(held, in_progress)


# --- roll-up -----------------------------------------------------------------------------------------------

PI = ProductOrderItemState  # short aliases keep the case table readable
PO = ProductOrderState

ROLL_UP_CASES = [
    pytest.param([PI.COMPLETED, PI.COMPLETED], PO.IN_PROGRESS, PO.COMPLETED, id="all-completed"),
    pytest.param([PI.FAILED, PI.FAILED], PO.IN_PROGRESS, PO.FAILED, id="all-failed"),
    pytest.param([PI.COMPLETED, PI.FAILED], PO.IN_PROGRESS, PO.PARTIAL, id="completed-and-failed"),
    pytest.param([PI.COMPLETED, PI.CANCELLED], PO.IN_PROGRESS, PO.PARTIAL, id="completed-and-cancelled"),
    pytest.param([PI.COMPLETED, PI.REJECTED], PO.IN_PROGRESS, PO.PARTIAL, id="completed-and-rejected"),
    pytest.param([PI.FAILED, PI.CANCELLED], PO.IN_PROGRESS, PO.FAILED, id="failed-and-cancelled"),
    pytest.param([PI.CANCELLED, PI.CANCELLED], PO.HELD, PO.CANCELLED, id="all-cancelled"),
    pytest.param([PI.REJECTED, PI.REJECTED], PO.ACKNOWLEDGED, PO.REJECTED, id="all-rejected-before-start"),
    pytest.param([PI.REJECTED], PO.IN_PROGRESS, PO.FAILED, id="all-rejected-after-start"),
    pytest.param([PI.IN_PROGRESS, PI.ACKNOWLEDGED], PO.ACKNOWLEDGED, PO.IN_PROGRESS, id="one-started"),
    pytest.param([PI.HELD, PI.ACKNOWLEDGED], PO.ACKNOWLEDGED, PO.IN_PROGRESS, id="one-held-counts-as-started"),
    pytest.param([PI.ACKNOWLEDGED, PI.ACKNOWLEDGED], PO.ACKNOWLEDGED, PO.ACKNOWLEDGED, id="none-started"),
    pytest.param([PI.REJECTED, PI.ACKNOWLEDGED], PO.ACKNOWLEDGED, PO.ACKNOWLEDGED, id="rejected-is-not-started"),
    pytest.param([PI.COMPLETED, PI.IN_PROGRESS], PO.IN_PROGRESS, PO.IN_PROGRESS, id="still-running"),
    pytest.param([PI.COMPLETED, PI.HELD], PO.HELD, PO.HELD, id="held-stays-held"),
    pytest.param([PI.COMPLETED, PI.PENDING], PO.PENDING, PO.PENDING, id="pending-stays-pending"),
    pytest.param([], PO.IN_PROGRESS, PO.IN_PROGRESS, id="empty-unchanged"),
    pytest.param([], PO.ACKNOWLEDGED, PO.ACKNOWLEDGED, id="empty-acknowledged-unchanged"),
    pytest.param([PI.IN_PROGRESS], PO.COMPLETED, PO.COMPLETED, id="final-order-never-changes"),
    pytest.param([PI.FAILED], PO.CANCELLED, PO.CANCELLED, id="final-cancelled-never-changes"),
    pytest.param([PI.CANCELLED], PO.PENDING_CANCELLATION, PO.CANCELLED, id="cancellation-done"),
    pytest.param(
        [PI.CANCELLED, PI.PENDING_CANCELLATION],
        PO.PENDING_CANCELLATION,
        PO.PENDING_CANCELLATION,
        id="cancellation-in-progress",
    ),
    pytest.param([PI.COMPLETED], PO.ASSESSING_CANCELLATION, PO.ASSESSING_CANCELLATION, id="assessment-owns-state"),
    pytest.param(
        [PI.CANCELLED],
        PO.ASSESSING_CANCELLATION,
        PO.ASSESSING_CANCELLATION,
        id="assessment-owns-state-even-if-cancelled",
    ),
    pytest.param([PI.COMPLETED], PO.PENDING_CANCELLATION, PO.PENDING_CANCELLATION, id="pending-cancellation-waits"),
]


@pytest.mark.parametrize(("items", "current", "expected"), ROLL_UP_CASES)
def test_roll_up(items: list[ProductOrderItemState], current: ProductOrderState, expected: ProductOrderState) -> None:
    assert roll_up_order_state(items, current) is expected


@pytest.mark.parametrize(
    ("items", "current", "expected"),
    [
        pytest.param([PI.COMPLETED], PO.ACKNOWLEDGED, (PO.IN_PROGRESS, PO.COMPLETED), id="through-in-progress"),
        pytest.param([PI.COMPLETED, PI.FAILED], PO.HELD, (PO.IN_PROGRESS, PO.PARTIAL), id="held-to-partial"),
        pytest.param([PI.COMPLETED], PO.IN_PROGRESS, (PO.COMPLETED,), id="direct"),
        pytest.param([PI.CANCELLED], PO.PENDING, (PO.CANCELLED,), id="pending-cancelled"),
        pytest.param([PI.REJECTED], PO.ACKNOWLEDGED, (PO.REJECTED,), id="rejected"),
        pytest.param([PI.IN_PROGRESS], PO.IN_PROGRESS, (), id="unchanged"),
    ],
)
def test_roll_up_steps(
    items: list[ProductOrderItemState], current: ProductOrderState, expected: tuple[ProductOrderState, ...]
) -> None:
    steps = roll_up_steps(items, current)
    assert steps == expected
    state = current
    for step in steps:
        state = PRODUCT_ORDER_LIFECYCLE.transition(state, step)


def test_roll_up_steps_refuses_a_pathless_outcome() -> None:
    # A product order has no inProgress -> cancelled move: all items cancelled, no cancel flow, is a bug.
    with pytest.raises(ForbiddenTransition, match="'inProgress' to 'cancelled'"):
        roll_up_steps([PI.CANCELLED], PO.IN_PROGRESS)


# --- patch rules -------------------------------------------------------------------------------------------

NOTE_ONLY_STATES = {
    "completed",
    "failed",
    "partial",
    "cancelled",
    "rejected",
    "assessingCancellation",
    "pendingCancellation",
}
NEVER_PATCHABLE = [
    "id",
    "href",
    "orderDate",
    "completionDate",
    "expectedCompletionDate",
    "cancellationDate",
    "cancellationReason",
    "@type",
    "@baseType",
    "@schemaLocation",
]
CLIENT_ATTRIBUTES = [
    "state",
    "productOrderItem",
    "priority",
    "description",
    "category",
    "externalId",
    "requestedCompletionDate",
    "requestedStartDate",
    "relatedParty",
    "billingAccount",
    "notificationContact",
    "channel",
    "agreement",
    "payment",
]


@pytest.mark.parametrize(
    ("state", "attribute"),
    list(itertools.product(ORDER_VALUES, [*NEVER_PATCHABLE, *CLIENT_ATTRIBUTES, "note"])),
)
def test_patchable_attributes_by_state(state: str, attribute: str) -> None:
    expected = attribute == "note" or (attribute in CLIENT_ATTRIBUTES and state not in NOTE_ONLY_STATES)
    if expected:
        check_patchable(ProductOrderState(state), [attribute])
    else:
        with pytest.raises(AttributeNotPatchable) as caught:
            check_patchable(ProductOrderState(state), [attribute])
        assert caught.value.attribute == attribute
        assert caught.value.read_only is (attribute in NEVER_PATCHABLE)
        assert f"'{attribute}'" in str(caught.value)
        assert f"'{state}'" in str(caught.value)


def test_patch_names_the_offending_attribute_among_allowed_ones() -> None:
    with pytest.raises(AttributeNotPatchable) as caught:
        check_patchable(ProductOrderState.COMPLETED, ["note", "priority"])
    assert str(caught.value) == "'priority' of a productOrder cannot be changed while it is 'completed'"


def test_read_only_on_create() -> None:
    assert {
        "id",
        "href",
        "state",
        "orderDate",
        "completionDate",
        "expectedCompletionDate",
        "cancellationDate",
    } == READ_ONLY_ON_CREATE
    assert {"state"} == ITEM_READ_ONLY_ON_CREATE
