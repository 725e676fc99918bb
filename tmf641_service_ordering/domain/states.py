"""TMF641 v4.1 serviceOrder, serviceOrderItem, service and cancelServiceOrder states and their lifecycles.

The serviceOrder lifecycle is TM Forum's Lifecycle_ServiceOrder diagram as transcribed in
reference/TMF-FACTS.md section 4. Project decisions beyond it:
- serviceOrderItem follows the order's graph: the spec draws no item diagram, and the item enum has the same
  11 values (partial included), so an item moves the way the order it belongs to does.
- "assessingCancellation -> back to the state it came from" is a table entry to every state that may enter it,
  narrowed by `check_return_from_assessment` to the one it was entered from (the caller remembers that state).
- cancelServiceOrder follows TMF622's cancel diagram with TMF641's first state: accepted -> inProgress ->
  done | terminatedWithError.
- ServiceStateType is the state of the service an item acts on (TMF638's lifecycle); it is carried, not
  driven, here, so it has no transition table.
"""

from __future__ import annotations

from enum import StrEnum

from tmf_common.lifecycle import Lifecycle


class ServiceOrderState(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    ASSESSING_CANCELLATION = "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation"


class ServiceOrderItemState(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    PENDING = "pending"
    HELD = "held"
    IN_PROGRESS = "inProgress"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    ASSESSING_CANCELLATION = "assessingCancellation"
    PENDING_CANCELLATION = "pendingCancellation"
    PARTIAL = "partial"


class ServiceState(StrEnum):
    FEASIBILITY_CHECKED = "feasibilityChecked"
    DESIGNED = "designed"
    RESERVED = "reserved"
    INACTIVE = "inactive"
    ACTIVE = "active"
    TERMINATED = "terminated"


class CancelServiceOrderState(StrEnum):
    """TMF641 v4 TaskStateType, the states of a cancelServiceOrder request."""

    ACCEPTED = "accepted"
    IN_PROGRESS = "inProgress"
    DONE = "done"
    TERMINATED_WITH_ERROR = "terminatedWithError"


_O = ServiceOrderState
_I = ServiceOrderItemState
_C = CancelServiceOrderState

SERVICE_ORDER_LIFECYCLE: Lifecycle[ServiceOrderState] = Lifecycle(
    name="serviceOrder",
    states=ServiceOrderState,
    initial=frozenset({_O.ACKNOWLEDGED}),
    terminal=frozenset({_O.COMPLETED, _O.FAILED, _O.PARTIAL, _O.CANCELLED, _O.REJECTED}),
    transitions={
        _O.ACKNOWLEDGED: frozenset({_O.IN_PROGRESS, _O.REJECTED, _O.ASSESSING_CANCELLATION, _O.CANCELLED}),
        _O.IN_PROGRESS: frozenset(
            {
                _O.COMPLETED,
                _O.FAILED,
                _O.PARTIAL,
                _O.PENDING,
                _O.HELD,
                _O.CANCELLED,
                _O.ASSESSING_CANCELLATION,
            }
        ),
        _O.PENDING: frozenset({_O.IN_PROGRESS, _O.CANCELLED, _O.ASSESSING_CANCELLATION}),
        _O.HELD: frozenset({_O.IN_PROGRESS, _O.CANCELLED, _O.ASSESSING_CANCELLATION}),
        _O.ASSESSING_CANCELLATION: frozenset(
            {_O.ACKNOWLEDGED, _O.IN_PROGRESS, _O.PENDING, _O.HELD, _O.PENDING_CANCELLATION}
        ),
        _O.PENDING_CANCELLATION: frozenset({_O.CANCELLED}),
    },
)

SERVICE_ORDER_ITEM_LIFECYCLE: Lifecycle[ServiceOrderItemState] = Lifecycle(
    name="serviceOrderItem",
    states=ServiceOrderItemState,
    initial=frozenset({_I.ACKNOWLEDGED}),
    terminal=frozenset({_I.COMPLETED, _I.FAILED, _I.PARTIAL, _I.CANCELLED, _I.REJECTED}),
    transitions={
        _I.ACKNOWLEDGED: frozenset({_I.IN_PROGRESS, _I.REJECTED, _I.ASSESSING_CANCELLATION, _I.CANCELLED}),
        _I.IN_PROGRESS: frozenset(
            {
                _I.COMPLETED,
                _I.FAILED,
                _I.PARTIAL,
                _I.PENDING,
                _I.HELD,
                _I.CANCELLED,
                _I.ASSESSING_CANCELLATION,
            }
        ),
        _I.PENDING: frozenset({_I.IN_PROGRESS, _I.CANCELLED, _I.ASSESSING_CANCELLATION}),
        _I.HELD: frozenset({_I.IN_PROGRESS, _I.CANCELLED, _I.ASSESSING_CANCELLATION}),
        _I.ASSESSING_CANCELLATION: frozenset(
            {_I.ACKNOWLEDGED, _I.IN_PROGRESS, _I.PENDING, _I.HELD, _I.PENDING_CANCELLATION}
        ),
        _I.PENDING_CANCELLATION: frozenset({_I.CANCELLED}),
    },
)

CANCEL_SERVICE_ORDER_LIFECYCLE: Lifecycle[CancelServiceOrderState] = Lifecycle(
    name="cancelServiceOrder",
    states=CancelServiceOrderState,
    initial=frozenset({_C.ACCEPTED}),
    terminal=frozenset({_C.DONE, _C.TERMINATED_WITH_ERROR}),
    transitions={
        _C.ACCEPTED: frozenset({_C.IN_PROGRESS}),
        _C.IN_PROGRESS: frozenset({_C.DONE, _C.TERMINATED_WITH_ERROR}),
    },
)


def check_return_from_assessment(previous: ServiceOrderState, target: ServiceOrderState) -> ServiceOrderState:
    """Check a move out of assessingCancellation: to pendingCancellation, or back to `previous` only."""
    return SERVICE_ORDER_LIFECYCLE.return_transition(_O.ASSESSING_CANCELLATION, previous, target)


def deny_cancellation(previous: ServiceOrderState) -> ServiceOrderState:
    """The state an order returns to when its cancellation is denied: the one it was in before assessment."""
    return check_return_from_assessment(previous, previous)


def check_item_return_from_assessment(
    previous: ServiceOrderItemState, target: ServiceOrderItemState
) -> ServiceOrderItemState:
    """The item counterpart of `check_return_from_assessment`."""
    return SERVICE_ORDER_ITEM_LIFECYCLE.return_transition(_I.ASSESSING_CANCELLATION, previous, target)
