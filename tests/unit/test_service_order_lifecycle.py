"""Unit tests of the TMF641 order, item and cancel lifecycles, the order roll-up and the patch rules."""

from __future__ import annotations

import itertools

import pytest

from tmf641_service_ordering.domain.patch_rules import (
    ITEM_READ_ONLY_ON_CREATE,
    READ_ONLY_ON_CREATE,
    AttributeNotPatchable,
    check_patchable,
)
from tmf641_service_ordering.domain.rollup import roll_up_order_state, roll_up_steps
from tmf641_service_ordering.domain.states import (
    CANCEL_SERVICE_ORDER_LIFECYCLE,
    SERVICE_ORDER_ITEM_LIFECYCLE,
    SERVICE_ORDER_LIFECYCLE,
    CancelServiceOrderState,
    ServiceOrderItemState,
    ServiceOrderState,
    ServiceState,
    check_item_return_from_assessment,
    check_return_from_assessment,
    deny_cancellation,
)
from tmf_common.lifecycle import ForbiddenTransition, UnknownState

# Written out from TMF-FACTS.md section 4 ("ServiceOrder lifecycle"), independently of the tables under test.
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
ITEM_VALUES = [
    "acknowledged",
    "rejected",
    "pending",
    "held",
    "inProgress",
    "cancelled",
    "completed",
    "failed",
    "assessingCancellation",
    "pendingCancellation",
    "partial",
]
SERVICE_VALUES = ["feasibilityChecked", "designed", "reserved", "inactive", "active", "terminated"]
CANCEL_VALUES = ["accepted", "terminatedWithError", "inProgress", "done"]

ORDER_MOVES = {
    ("acknowledged", "inProgress"),
    ("acknowledged", "rejected"),
    ("acknowledged", "assessingCancellation"),
    ("assessingCancellation", "acknowledged"),
    ("acknowledged", "cancelled"),
    ("inProgress", "completed"),
    ("inProgress", "failed"),
    ("inProgress", "partial"),
    ("inProgress", "pending"),
    ("pending", "inProgress"),
    ("inProgress", "held"),
    ("held", "inProgress"),
    ("inProgress", "cancelled"),
    ("inProgress", "assessingCancellation"),
    ("pending", "assessingCancellation"),
    ("held", "assessingCancellation"),
    ("assessingCancellation", "inProgress"),
    ("assessingCancellation", "pending"),
    ("assessingCancellation", "held"),
    ("assessingCancellation", "pendingCancellation"),
    ("pendingCancellation", "cancelled"),
    ("pending", "cancelled"),
    ("held", "cancelled"),
}
ITEM_MOVES = ORDER_MOVES  # project decision: an item moves the way its order does
CANCEL_MOVES = {
    ("accepted", "inProgress"),
    ("inProgress", "done"),
    ("inProgress", "terminatedWithError"),
}
FINAL = {"completed", "failed", "partial", "cancelled", "rejected"}
CANCEL_FINAL = {"done", "terminatedWithError"}


def test_enum_values_are_exactly_the_v41_ones() -> None:
    assert [s.value for s in ServiceOrderState] == ORDER_VALUES
    assert [s.value for s in ServiceOrderItemState] == ITEM_VALUES
    assert [s.value for s in ServiceState] == SERVICE_VALUES
    assert sorted(s.value for s in CancelServiceOrderState) == sorted(CANCEL_VALUES)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ORDER_VALUES, repeat=2)))
def test_order_transition_matrix(source: str, target: str) -> None:
    lifecycle = SERVICE_ORDER_LIFECYCLE
    a, b = ServiceOrderState(source), ServiceOrderState(target)
    expected = source == target or (source, target) in ORDER_MOVES
    assert lifecycle.can(a, b) is expected
    if expected:
        assert lifecycle.transition(a, b) is b
    else:
        with pytest.raises(ForbiddenTransition, match=f"serviceOrder cannot move from '{source}' to '{target}'"):
            lifecycle.transition(a, b)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ITEM_VALUES, repeat=2)))
def test_item_transition_matrix(source: str, target: str) -> None:
    lifecycle = SERVICE_ORDER_ITEM_LIFECYCLE
    a, b = ServiceOrderItemState(source), ServiceOrderItemState(target)
    expected = source == target or (source, target) in ITEM_MOVES
    assert lifecycle.can(a, b) is expected
    if not expected:
        with pytest.raises(ForbiddenTransition, match=f"serviceOrderItem cannot move from '{source}' to '{target}'"):
            lifecycle.transition(a, b)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(CANCEL_VALUES, repeat=2)))
def test_cancel_transition_matrix(source: str, target: str) -> None:
    a, b = CancelServiceOrderState(source), CancelServiceOrderState(target)
    expected = source == target or (source, target) in CANCEL_MOVES
    assert CANCEL_SERVICE_ORDER_LIFECYCLE.can(a, b) is expected


def test_terminal_and_initial_sets() -> None:
    assert {s.value for s in SERVICE_ORDER_LIFECYCLE.terminal} == FINAL
    assert {s.value for s in SERVICE_ORDER_ITEM_LIFECYCLE.terminal} == FINAL
    assert {s.value for s in CANCEL_SERVICE_ORDER_LIFECYCLE.terminal} == CANCEL_FINAL
    assert {s.value for s in SERVICE_ORDER_LIFECYCLE.initial} == {"acknowledged"}
    assert {s.value for s in SERVICE_ORDER_ITEM_LIFECYCLE.initial} == {"acknowledged"}
    assert {s.value for s in CANCEL_SERVICE_ORDER_LIFECYCLE.initial} == {"accepted"}


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_have_no_way_out(final: str) -> None:
    order, item = ServiceOrderState(final), ServiceOrderItemState(final)
    assert SERVICE_ORDER_LIFECYCLE.next_states(order) == frozenset()
    assert not any(SERVICE_ORDER_LIFECYCLE.can(order, other) for other in ServiceOrderState if other != order)
    assert not any(SERVICE_ORDER_ITEM_LIFECYCLE.can(item, other) for other in ServiceOrderItemState if other != item)


@pytest.mark.parametrize("final", sorted(CANCEL_FINAL))
def test_final_cancel_states_have_no_way_out(final: str) -> None:
    state = CancelServiceOrderState(final)
    assert not any(
        CANCEL_SERVICE_ORDER_LIFECYCLE.can(state, other) for other in CancelServiceOrderState if other != state
    )


@pytest.mark.parametrize("value", ["Completed", "done", "acknowledged "])
def test_unknown_order_state(value: str) -> None:
    with pytest.raises(UnknownState) as caught:
        SERVICE_ORDER_LIFECYCLE.parse(value)
    assert caught.value.lifecycle == "serviceOrder"
    assert "pendingCancellation" in str(caught.value)


def test_cancel_request_parses_its_own_values_only() -> None:
    assert CANCEL_SERVICE_ORDER_LIFECYCLE.parse("accepted") is CancelServiceOrderState.ACCEPTED
    with pytest.raises(UnknownState):
        CANCEL_SERVICE_ORDER_LIFECYCLE.parse("acknowledged")


ENTRY_STATES = ["acknowledged", "inProgress", "pending", "held"]


@pytest.mark.parametrize(("previous", "target"), list(itertools.product(ENTRY_STATES, ORDER_VALUES)))
def test_leaving_assessing_cancellation(previous: str, target: str) -> None:
    expected = target in {previous, "pendingCancellation", "assessingCancellation"}
    p, t = ServiceOrderState(previous), ServiceOrderState(target)
    if expected:
        assert check_return_from_assessment(p, t) is t
    else:
        with pytest.raises(ForbiddenTransition):
            check_return_from_assessment(p, t)


@pytest.mark.parametrize("previous", ENTRY_STATES)
def test_deny_cancellation_returns_to_the_previous_state(previous: str) -> None:
    assert deny_cancellation(ServiceOrderState(previous)) == previous


def test_deny_cancellation_refuses_a_final_previous_state() -> None:
    with pytest.raises(ForbiddenTransition):
        deny_cancellation(ServiceOrderState.COMPLETED)


def test_item_return_from_assessment() -> None:
    pending, held = ServiceOrderItemState.PENDING, ServiceOrderItemState.HELD
    assert check_item_return_from_assessment(pending, pending) is pending
    with pytest.raises(ForbiddenTransition):
        check_item_return_from_assessment(pending, held)


# --- roll-up -----------------------------------------------------------------------------------------------

SI = ServiceOrderItemState  # short aliases keep the case table readable
SO = ServiceOrderState

ROLL_UP_CASES = [
    pytest.param([SI.COMPLETED, SI.COMPLETED], SO.IN_PROGRESS, SO.COMPLETED, id="all-completed"),
    pytest.param([SI.FAILED, SI.FAILED], SO.IN_PROGRESS, SO.FAILED, id="all-failed"),
    pytest.param([SI.PARTIAL], SO.IN_PROGRESS, SO.PARTIAL, id="all-partial"),
    pytest.param([SI.COMPLETED, SI.FAILED], SO.IN_PROGRESS, SO.PARTIAL, id="completed-and-failed"),
    pytest.param([SI.COMPLETED, SI.PARTIAL], SO.IN_PROGRESS, SO.PARTIAL, id="completed-and-partial"),
    pytest.param([SI.FAILED, SI.PARTIAL], SO.IN_PROGRESS, SO.PARTIAL, id="failed-and-partial"),
    pytest.param([SI.COMPLETED, SI.CANCELLED], SO.IN_PROGRESS, SO.PARTIAL, id="completed-and-cancelled"),
    pytest.param([SI.FAILED, SI.CANCELLED, SI.REJECTED], SO.IN_PROGRESS, SO.FAILED, id="nothing-delivered"),
    pytest.param([SI.CANCELLED, SI.CANCELLED], SO.IN_PROGRESS, SO.CANCELLED, id="all-cancelled"),
    pytest.param([SI.REJECTED], SO.ACKNOWLEDGED, SO.REJECTED, id="all-rejected-before-start"),
    pytest.param([SI.REJECTED], SO.IN_PROGRESS, SO.FAILED, id="all-rejected-after-start"),
    pytest.param([SI.IN_PROGRESS, SI.ACKNOWLEDGED], SO.ACKNOWLEDGED, SO.IN_PROGRESS, id="one-started"),
    pytest.param([SI.PARTIAL, SI.ACKNOWLEDGED], SO.ACKNOWLEDGED, SO.IN_PROGRESS, id="partial-counts-as-started"),
    pytest.param([SI.ACKNOWLEDGED], SO.ACKNOWLEDGED, SO.ACKNOWLEDGED, id="none-started"),
    pytest.param([SI.COMPLETED, SI.IN_PROGRESS], SO.IN_PROGRESS, SO.IN_PROGRESS, id="still-running"),
    pytest.param([SI.COMPLETED, SI.HELD], SO.HELD, SO.HELD, id="held-stays-held"),
    pytest.param([], SO.IN_PROGRESS, SO.IN_PROGRESS, id="empty-unchanged"),
    pytest.param([SI.IN_PROGRESS], SO.PARTIAL, SO.PARTIAL, id="final-order-never-changes"),
    pytest.param([SI.CANCELLED], SO.PENDING_CANCELLATION, SO.CANCELLED, id="cancellation-done"),
    pytest.param(
        [SI.CANCELLED, SI.IN_PROGRESS],
        SO.PENDING_CANCELLATION,
        SO.PENDING_CANCELLATION,
        id="cancellation-in-progress",
    ),
    pytest.param([SI.COMPLETED], SO.ASSESSING_CANCELLATION, SO.ASSESSING_CANCELLATION, id="assessment-owns-state"),
]


@pytest.mark.parametrize(("items", "current", "expected"), ROLL_UP_CASES)
def test_roll_up(items: list[ServiceOrderItemState], current: ServiceOrderState, expected: ServiceOrderState) -> None:
    assert roll_up_order_state(items, current) is expected


@pytest.mark.parametrize(
    ("items", "current", "expected"),
    [
        pytest.param([SI.COMPLETED], SO.ACKNOWLEDGED, (SO.IN_PROGRESS, SO.COMPLETED), id="through-in-progress"),
        pytest.param([SI.FAILED], SO.PENDING, (SO.IN_PROGRESS, SO.FAILED), id="pending-to-failed"),
        pytest.param([SI.CANCELLED], SO.ACKNOWLEDGED, (SO.CANCELLED,), id="directly-cancelled"),
        pytest.param([SI.CANCELLED], SO.IN_PROGRESS, (SO.CANCELLED,), id="in-progress-cancelled"),
        pytest.param([SI.IN_PROGRESS], SO.IN_PROGRESS, (), id="unchanged"),
    ],
)
def test_roll_up_steps(
    items: list[ServiceOrderItemState], current: ServiceOrderState, expected: tuple[ServiceOrderState, ...]
) -> None:
    steps = roll_up_steps(items, current)
    assert steps == expected
    state = current
    for step in steps:
        state = SERVICE_ORDER_LIFECYCLE.transition(state, step)


def test_every_roll_up_outcome_has_a_legal_path() -> None:
    # Exhaustive over small item mixes: the service order lifecycle can always follow its items.
    for current in ServiceOrderState:
        for size in (1, 2):
            for items in itertools.combinations_with_replacement(list(ServiceOrderItemState), size):
                state = current
                for step in roll_up_steps(list(items), current):
                    state = SERVICE_ORDER_LIFECYCLE.transition(state, step)
                assert state == roll_up_order_state(list(items), current)


# --- patch rules -------------------------------------------------------------------------------------------

FINAL_NOTE_ONLY = {"completed", "failed", "partial", "cancelled", "rejected"}
CANCELLING = {"assessingCancellation", "pendingCancellation"}
NEVER_PATCHABLE = [
    "id",
    "href",
    "orderDate",
    "startDate",
    "completionDate",
    "category",
    "cancellationDate",
    "cancellationReason",
    "@type",
    "@baseType",
    "@schemaLocation",
]
OSS_PROGRESS = [
    "state",
    "serviceOrderItem",
    "errorMessage",
    "jeopardyAlert",
    "milestone",
    "expectedCompletionDate",
]
REQUESTER_ATTRIBUTES = [
    "description",
    "externalId",
    "externalReference",
    "notificationContact",
    "orderRelationship",
    "priority",
    "relatedParty",
    "requestedCompletionDate",
    "requestedStartDate",
]


@pytest.mark.parametrize(
    ("state", "attribute"),
    list(itertools.product(ORDER_VALUES, [*NEVER_PATCHABLE, *OSS_PROGRESS, *REQUESTER_ATTRIBUTES, "note"])),
)
def test_patchable_attributes_by_state(state: str, attribute: str) -> None:
    if attribute == "note":
        expected = True
    elif attribute in NEVER_PATCHABLE or state in FINAL_NOTE_ONLY:
        expected = False
    elif state in CANCELLING:
        expected = attribute in OSS_PROGRESS
    else:
        expected = True
    if expected:
        check_patchable(ServiceOrderState(state), [attribute])
    else:
        with pytest.raises(AttributeNotPatchable) as caught:
            check_patchable(ServiceOrderState(state), [attribute])
        assert caught.value.attribute == attribute
        assert caught.value.read_only is (attribute in NEVER_PATCHABLE)
        assert f"'{attribute}'" in str(caught.value)
        assert f"'{state}'" in str(caught.value)


def test_oss_progress_report_in_progress() -> None:
    check_patchable(ServiceOrderState.IN_PROGRESS, ["state", "serviceOrderItem", "milestone", "note"])


def test_read_only_on_create() -> None:
    assert {
        "id",
        "href",
        "state",
        "orderDate",
        "startDate",
        "completionDate",
        "expectedCompletionDate",
        "cancellationDate",
        "errorMessage",
        "jeopardyAlert",
        "milestone",
    } == READ_ONLY_ON_CREATE
    assert {"state", "errorMessage"} == ITEM_READ_ONLY_ON_CREATE
