"""Cancellation requests (cancelProductOrder, cancelServiceOrder): tasks that walk an order through its
cancellation states one conditional write at a time, so a crash between two writes is resumed, not lost."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tmf_common.errors import BadRequest
from tmf_common.http import RequestContext
from tmf_common.lifecycle import Lifecycle
from tmf_common.ordering import OrderShape, item_states
from tmf_common.repository import StoredResource
from tmf_common.resource_service import PlainPolicy, ResourceService

CANCELLATION = "_cancellation"
ASSESSING = "assessingCancellation"
PENDING = "pendingCancellation"
CANCELLED = "cancelled"

CancellationDecider = Callable[[dict[str, Any]], "str | None"]
"""order (in the state it was in before the request) -> None to accept the cancellation, or why it is refused.

This is the seam where the orchestration engine decides and unwinds fulfilment. The default refuses once
fulfilment has started, because nothing can undo fulfilment yet.
"""


CancellationConfirmation = Callable[[dict[str, Any]], bool]
"""order (pendingCancellation) -> True once whatever fulfilment started has been unwound, so it can be cancelled.

While it answers False the request stays inProgress; whoever unwinds the fulfilment (the orchestration engine)
calls `CancellationFlow.run` again when it is done.
"""


def nothing_to_unwind(_order: dict[str, Any]) -> bool:
    return True


def accept_unless_started(order: dict[str, Any]) -> str | None:
    state = order.get("state")
    if state == "acknowledged":
        return None
    return f"fulfilment of this order has started (state '{state}'); it can no longer be cancelled"


@dataclass(frozen=True)
class TaskStates:
    """The task-state names: TMF622 starts `acknowledged`, TMF641 `accepted`."""

    initial: str
    in_progress: str = "inProgress"
    done: str = "done"
    failed: str = "terminatedWithError"


class TaskPolicy(PlainPolicy):
    """A new cancellation task starts in the initial state; clients never set task states."""

    def __init__(self, states: TaskStates) -> None:
        self.states = states

    def prepare_create(self, body: dict[str, Any], now: str) -> dict[str, Any]:
        body["state"] = self.states.initial
        return body


@dataclass(frozen=True)
class CancellationFlow:
    tasks: ResourceService
    orders: ResourceService
    shape: OrderShape
    order_lifecycle: Lifecycle[Any]
    item_lifecycle: Lifecycle[Any]
    task_states: TaskStates
    decide: CancellationDecider = accept_unless_started
    confirm: CancellationConfirmation = nothing_to_unwind

    @property
    def order_key(self) -> str:
        return self.shape.resource_key

    def create(self, body: dict[str, Any], context: RequestContext) -> StoredResource:
        """Record the request, then run it; the returned task shows where it ended."""
        order_id = str(body[self.order_key]["id"])
        if self.orders.repository.get(order_id, {"_id": 1}) is None:
            raise BadRequest(f"{self.order_key} '{order_id}' does not exist", code="UNKNOWN_ORDER")
        task = self.tasks.create(body, context)
        return self.run(str(task.body["id"]))

    def run(self, task_id: str) -> StoredResource:
        """Advance the task as far as it can go; calling it again after a crash continues where it stopped."""
        task = self.tasks.retrieve(task_id)
        if task.body["state"] == self.task_states.initial:
            task = self._set_task(task_id, self.task_states.in_progress)
        order_id = str(task.body[self.order_key]["id"])
        while task.body["state"] == self.task_states.in_progress:
            order = self.orders.repository.get_with_internal(order_id)
            if order is None:
                return self._set_task(task_id, self.task_states.failed, f"{self.order_key} '{order_id}' was deleted")
            memory = order.internal.get(CANCELLATION) or {}
            mine = memory.get("taskId") == task_id
            state = order.body.get("state")
            if mine and state == CANCELLED:
                return self._set_task(task_id, self.task_states.done)
            if mine and state == PENDING:
                if not self.confirm(order.body):
                    return task  # fulfilment is being unwound; its owner runs this task again when done
                self._move(order_id, task_id, PENDING, CANCELLED, task.body)
            elif mine and state == ASSESSING:
                refusal = self.decide({**order.body, "state": memory["previousState"]})
                if refusal is not None:
                    self._restore(order_id, task_id)
                    return self._set_task(task_id, self.task_states.failed, refusal)
                self._move(order_id, task_id, ASSESSING, PENDING, task.body)
            elif state in (ASSESSING, PENDING):
                other = memory.get("taskId")
                reason = f"another cancellation request ('{other}') of this {self.order_key} is in progress"
                return self._set_task(task_id, self.task_states.failed, reason)
            else:
                current = self.order_lifecycle.parse(str(state))
                if not self.order_lifecycle.can(current, self.order_lifecycle.parse(ASSESSING)):
                    reason = f"a {self.order_key} in state '{state}' cannot be cancelled"
                    return self._set_task(task_id, self.task_states.failed, reason)
                self._assess(order_id, task_id)
        return task

    def _set_task(self, task_id: str, state: str, reason: str | None = None) -> StoredResource:
        def change(current: StoredResource, now: str) -> dict[str, Any]:
            body = {**current.body, "state": state}
            if state == self.task_states.done:
                body["effectiveCancellationDate"] = now
            if reason is not None:
                # One ErrorMessage object, as TMF641 v4.1 CancelServiceOrder defines it.
                body["errorMessage"] = {
                    "code": "CANCELLATION_REFUSED",
                    "reason": "Cancellation refused",
                    "message": reason,
                }
            return body

        return self.tasks.update(task_id, change)

    def _with_items(self, body: dict[str, Any], state: str) -> dict[str, Any]:
        """The order in `state`, with every item that can follow it moved along."""
        after = copy.deepcopy(body)
        after["state"] = state
        target = self.item_lifecycle.parse(state)
        for _, item in self.shape.walk(after):
            if self.item_lifecycle.can(self.item_lifecycle.parse(str(item.get("state"))), target):
                item["state"] = state
        return after

    def _assess(self, order_id: str, task_id: str) -> None:
        def change(current: StoredResource, _now: str) -> dict[str, Any] | None:
            state = self.order_lifecycle.parse(str(current.body.get("state")))
            if state == ASSESSING or not self.order_lifecycle.can(state, self.order_lifecycle.parse(ASSESSING)):
                return None  # moved meanwhile; run() looks again
            return self._with_items(current.body, ASSESSING)

        def remember(current: StoredResource, _after: dict[str, Any]) -> dict[str, Any]:
            return {
                CANCELLATION: {
                    "taskId": task_id,
                    "previousState": current.body.get("state"),
                    "previousItemStates": item_states(current.body, self.shape),
                }
            }

        self.orders.update(order_id, change, internal=remember)

    def _restore(self, order_id: str, task_id: str) -> None:
        def change(current: StoredResource, _now: str) -> dict[str, Any] | None:
            memory = current.internal.get(CANCELLATION) or {}
            if current.body.get("state") != ASSESSING or memory.get("taskId") != task_id:
                return None
            after = copy.deepcopy(current.body)
            after["state"] = memory["previousState"]
            previous_items = memory.get("previousItemStates", {})
            for item_id, item in self.shape.items_by_id(after).items():
                item["state"] = previous_items.get(item_id, item.get("state"))
            return after

        self.orders.update(order_id, change, internal=lambda *_: {CANCELLATION: None})

    def _move(self, order_id: str, task_id: str, from_state: str, to_state: str, task: dict[str, Any]) -> None:
        def change(current: StoredResource, now: str) -> dict[str, Any] | None:
            memory = current.internal.get(CANCELLATION) or {}
            if current.body.get("state") != from_state or memory.get("taskId") != task_id:
                return None
            after = self._with_items(current.body, to_state)
            if to_state == CANCELLED:
                after["cancellationDate"] = now
                after["completionDate"] = now
                if task.get("cancellationReason"):
                    after["cancellationReason"] = task["cancellationReason"]
            return after

        self.orders.update(order_id, change)
