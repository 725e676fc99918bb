"""Derive a serviceOrder's state from the states of its items."""

from __future__ import annotations

from collections.abc import Sequence

from tmf641_service_ordering.domain.states import (
    SERVICE_ORDER_LIFECYCLE,
    ServiceOrderItemState,
    ServiceOrderState,
)
from tmf_common.lifecycle import ForbiddenTransition

_O = ServiceOrderState
_I = ServiceOrderItemState

_FINAL_ITEM_STATES = frozenset({_I.COMPLETED, _I.FAILED, _I.PARTIAL, _I.CANCELLED, _I.REJECTED})
_STARTED_ITEM_STATES = frozenset({_I.IN_PROGRESS, _I.PENDING, _I.HELD, _I.COMPLETED, _I.FAILED, _I.PARTIAL})
_CANCELLATION_STATES = frozenset({_O.ASSESSING_CANCELLATION, _O.PENDING_CANCELLATION})


def roll_up_order_state(item_states: Sequence[ServiceOrderItemState], current: ServiceOrderState) -> ServiceOrderState:
    """The order state the item states call for; the first rule that applies wins.

    1. A final order never changes. Neither does an order with no items: the caller leaves out items whose
       action is noChange and decides itself what an order with nothing to do becomes.
    2. While a cancellation is assessed or pending, the cancellation flow owns the order state: the order
       becomes cancelled when it is pendingCancellation and every item is cancelled, else it is unchanged.
    3. Every item final (completed, failed, partial, cancelled, rejected):
       - all completed -> completed; all failed -> failed; all partial -> partial; all cancelled -> cancelled;
       - all rejected -> rejected while the order is still acknowledged (validation refused every item before
         treatment began), else failed;
       - a mix with at least one completed or partial -> partial (part of the order was delivered);
       - a mix without either -> failed (nothing was delivered).
    4. The order is acknowledged and some item has started (inProgress, pending, held, completed, failed,
       partial) -> inProgress.
    5. Otherwise the order is unchanged.

    The result may not be reachable in one move (acknowledged or held cannot jump to completed): use
    `roll_up_steps` to get the moves to apply.
    """
    if SERVICE_ORDER_LIFECYCLE.is_terminal(current) or not item_states:
        return current
    items = frozenset(item_states)
    if current in _CANCELLATION_STATES:
        if current == _O.PENDING_CANCELLATION and items == {_I.CANCELLED}:
            return _O.CANCELLED
        return current
    if items <= _FINAL_ITEM_STATES:
        if len(items) == 1:
            (only,) = items
            if only == _I.REJECTED:
                return _O.REJECTED if current == _O.ACKNOWLEDGED else _O.FAILED
            return ServiceOrderState(only.value)
        return _O.PARTIAL if items & {_I.COMPLETED, _I.PARTIAL} else _O.FAILED
    if current == _O.ACKNOWLEDGED and items & _STARTED_ITEM_STATES:
        return _O.IN_PROGRESS
    return current


def roll_up_steps(
    item_states: Sequence[ServiceOrderItemState], current: ServiceOrderState
) -> tuple[ServiceOrderState, ...]:
    """The moves that take the order to its rolled-up state, each one allowed; empty if it is unchanged.

    A final outcome not reachable directly is reached through inProgress (acknowledged -> inProgress ->
    completed), so every move is a visible state change with its own event. Every outcome of the rules has
    such a path; `ForbiddenTransition` guards a future rule that would not, a bug to surface, not hide.
    """
    target = roll_up_order_state(item_states, current)
    if target == current:
        return ()
    if SERVICE_ORDER_LIFECYCLE.can(current, target):
        return (target,)
    if SERVICE_ORDER_LIFECYCLE.can(current, _O.IN_PROGRESS) and SERVICE_ORDER_LIFECYCLE.can(_O.IN_PROGRESS, target):
        return (_O.IN_PROGRESS, target)
    raise ForbiddenTransition(SERVICE_ORDER_LIFECYCLE.name, current, target, "no path through inProgress either")
