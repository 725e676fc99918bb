"""TMF622 v4 productOrder, productOrderItem and cancelProductOrder states and their lifecycles.

Transcribed from TM Forum's LifeCycle_ProductOrder / _ProductOrderItem / _CancelProductOrder diagrams
(see reference/TMF-FACTS.md section 4). Project decisions beyond the diagrams:
- acknowledged -> rejected: the diagram rejects only at creation, but business validation (credit,
  eligibility) runs in the orchestration engine after the order has been acknowledged and stored; its refusal
  is the same business outcome, so it may reject an acknowledged order that has not started.
- acknowledged -> assessingCancellation: a customer may ask to cancel an order that has not started yet; the
  diagram draws the request only from inProgress, pending and held, which would leave such an order
  uncancellable.
- assessingCancellation -> "back to the state it came from" is a table entry to every state that may enter it,
  narrowed by `check_return_from_assessment` to the one it was entered from (the caller remembers that state).
- A new order is created acknowledged, or rejected when the creation-time consistency check fails.
- Items follow the same graph and decisions, without partial (the diagram's "same graph without partial").
"""

from __future__ import annotations

from enum import StrEnum

from tmf_common.lifecycle import Lifecycle


class ProductOrderState(StrEnum):
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


class ProductOrderItemState(StrEnum):
    """v4 item states: the order's states without `partial` (v5 adds it)."""

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


class CancelProductOrderState(StrEnum):
    """TMF622 v4 TaskStateType, the states of a cancelProductOrder request."""

    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "inProgress"
    DONE = "done"
    TERMINATED_WITH_ERROR = "terminatedWithError"


_O = ProductOrderState
_I = ProductOrderItemState
_C = CancelProductOrderState

PRODUCT_ORDER_LIFECYCLE: Lifecycle[ProductOrderState] = Lifecycle(
    name="productOrder",
    states=ProductOrderState,
    initial=frozenset({_O.ACKNOWLEDGED, _O.REJECTED}),
    terminal=frozenset({_O.COMPLETED, _O.FAILED, _O.PARTIAL, _O.CANCELLED, _O.REJECTED}),
    transitions={
        _O.ACKNOWLEDGED: frozenset({_O.IN_PROGRESS, _O.PENDING, _O.REJECTED, _O.ASSESSING_CANCELLATION}),
        _O.IN_PROGRESS: frozenset(
            {_O.PENDING, _O.HELD, _O.ASSESSING_CANCELLATION, _O.COMPLETED, _O.FAILED, _O.PARTIAL}
        ),
        _O.PENDING: frozenset({_O.IN_PROGRESS, _O.CANCELLED, _O.ASSESSING_CANCELLATION}),
        _O.HELD: frozenset({_O.IN_PROGRESS, _O.CANCELLED, _O.ASSESSING_CANCELLATION}),
        _O.ASSESSING_CANCELLATION: frozenset(
            {_O.ACKNOWLEDGED, _O.IN_PROGRESS, _O.PENDING, _O.HELD, _O.PENDING_CANCELLATION}
        ),
        _O.PENDING_CANCELLATION: frozenset({_O.CANCELLED}),
    },
)

PRODUCT_ORDER_ITEM_LIFECYCLE: Lifecycle[ProductOrderItemState] = Lifecycle(
    name="productOrderItem",
    states=ProductOrderItemState,
    initial=frozenset({_I.ACKNOWLEDGED, _I.REJECTED}),
    terminal=frozenset({_I.COMPLETED, _I.FAILED, _I.CANCELLED, _I.REJECTED}),
    transitions={
        _I.ACKNOWLEDGED: frozenset({_I.IN_PROGRESS, _I.PENDING, _I.REJECTED, _I.ASSESSING_CANCELLATION}),
        _I.IN_PROGRESS: frozenset({_I.PENDING, _I.HELD, _I.ASSESSING_CANCELLATION, _I.COMPLETED, _I.FAILED}),
        _I.PENDING: frozenset({_I.IN_PROGRESS, _I.CANCELLED, _I.ASSESSING_CANCELLATION}),
        _I.HELD: frozenset({_I.IN_PROGRESS, _I.CANCELLED, _I.ASSESSING_CANCELLATION}),
        _I.ASSESSING_CANCELLATION: frozenset(
            {_I.ACKNOWLEDGED, _I.IN_PROGRESS, _I.PENDING, _I.HELD, _I.PENDING_CANCELLATION}
        ),
        _I.PENDING_CANCELLATION: frozenset({_I.CANCELLED}),
    },
)

CANCEL_PRODUCT_ORDER_LIFECYCLE: Lifecycle[CancelProductOrderState] = Lifecycle(
    name="cancelProductOrder",
    states=CancelProductOrderState,
    initial=frozenset({_C.ACKNOWLEDGED}),
    terminal=frozenset({_C.DONE, _C.TERMINATED_WITH_ERROR}),
    transitions={
        _C.ACKNOWLEDGED: frozenset({_C.IN_PROGRESS}),
        _C.IN_PROGRESS: frozenset({_C.DONE, _C.TERMINATED_WITH_ERROR}),
    },
)


def check_return_from_assessment(previous: ProductOrderState, target: ProductOrderState) -> ProductOrderState:
    """Check a move out of assessingCancellation: to pendingCancellation, or back to `previous` only."""
    return PRODUCT_ORDER_LIFECYCLE.return_transition(_O.ASSESSING_CANCELLATION, previous, target)


def deny_cancellation(previous: ProductOrderState) -> ProductOrderState:
    """The state an order returns to when its cancellation is denied: the one it was in before assessment."""
    return check_return_from_assessment(previous, previous)


def check_item_return_from_assessment(
    previous: ProductOrderItemState, target: ProductOrderItemState
) -> ProductOrderItemState:
    """The item counterpart of `check_return_from_assessment`."""
    return PRODUCT_ORDER_ITEM_LIFECYCLE.return_transition(_I.ASSESSING_CANCELLATION, previous, target)
