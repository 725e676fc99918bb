"""Fulfilment tasks and plans: task and plan lifecycles as data, and the pure moves the engine makes on a plan."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tmf_common.lifecycle import Lifecycle


class TaskKind(StrEnum):
    """What a task does. Further kinds (credit check, SIM reservation, shipping, billing, CRM, notification)
    slot in here with a connector each; the plan, its lifecycle and the engine loop do not change."""

    DECOMPOSE = "decompose"
    CREATE_SERVICE_ORDER = "createServiceOrder"
    AWAIT_SERVICE_ORDER = "awaitServiceOrder"
    CANCEL_SERVICE_ORDER = "cancelServiceOrder"


class TaskState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    WAITING_RETRY = "waitingRetry"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # A failed task that resume replaced by a fresh one; kept so the plan shows what happened.
    SUPERSEDED = "superseded"


_T = TaskState
TASK_LIFECYCLE: Lifecycle[TaskState] = Lifecycle(
    name="fulfilment task",
    states=TaskState,
    initial=frozenset({_T.PLANNED}),
    # failed is not final: resume takes a failed task back to planned.
    terminal=frozenset({_T.DONE, _T.CANCELLED, _T.SUPERSEDED}),
    transitions={
        _T.PLANNED: frozenset({_T.RUNNING, _T.CANCELLED}),
        _T.RUNNING: frozenset({_T.DONE, _T.WAITING_RETRY, _T.FAILED, _T.CANCELLED}),
        _T.WAITING_RETRY: frozenset({_T.RUNNING, _T.FAILED, _T.CANCELLED}),
        _T.FAILED: frozenset({_T.PLANNED, _T.SUPERSEDED, _T.CANCELLED}),
    },
)


class PlanState(StrEnum):
    RUNNING = "running"
    HELD = "held"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


_P = PlanState
PLAN_LIFECYCLE: Lifecycle[PlanState] = Lifecycle(
    name="fulfilment plan",
    states=PlanState,
    initial=frozenset({_P.RUNNING, _P.REJECTED}),
    terminal=frozenset({_P.COMPLETED, _P.CANCELLED, _P.REJECTED}),
    transitions={
        _P.RUNNING: frozenset({_P.HELD, _P.CANCELLING, _P.COMPLETED}),
        _P.HELD: frozenset({_P.RUNNING, _P.CANCELLING}),
        _P.CANCELLING: frozenset({_P.CANCELLED}),
    },
)


@dataclass(frozen=True)
class Task:
    """One step of a plan. `generation` counts resumes: a replacement task has a new id, and with it a fresh
    idempotency key for its side effect."""

    id: str
    kind: TaskKind
    state: TaskState = TaskState.PLANNED
    depends_on: tuple[str, ...] = ()
    # The product order items this task fulfils: their states follow the task's.
    order_items: tuple[str, ...] = ()
    attempts: int = 0
    generation: int = 0
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    next_attempt_at: str | None = None
    deadline: str | None = None
    error: str | None = None
    # Kind-specific input (a service order body to create, the group it belongs to) and output (the created ids).
    payload: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    result: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def idempotency_key(self, plan_id: str) -> str:
        return f"{plan_id}/{self.id}"

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "state": str(self.state),
            "dependsOn": list(self.depends_on),
            "orderItems": list(self.order_items),
            "attempts": self.attempts,
            "generation": self.generation,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "nextAttemptAt": self.next_attempt_at,
            "deadline": self.deadline,
            "error": self.error,
            "payload": self.payload,
            "result": self.result,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Task:
        return cls(
            id=document["id"],
            kind=TaskKind(document["kind"]),
            state=TaskState(document["state"]),
            depends_on=tuple(document.get("dependsOn") or ()),
            order_items=tuple(document.get("orderItems") or ()),
            attempts=int(document.get("attempts", 0)),
            generation=int(document.get("generation", 0)),
            created_at=document.get("createdAt"),
            started_at=document.get("startedAt"),
            finished_at=document.get("finishedAt"),
            next_attempt_at=document.get("nextAttemptAt"),
            deadline=document.get("deadline"),
            error=document.get("error"),
            payload=dict(document.get("payload") or {}),
            result=dict(document.get("result") or {}),
        )

    def moved(self, state: TaskState, now: str, **changes: Any) -> Task:
        """The task in `state`, with the time stamps that move records; raises on a move the lifecycle forbids."""
        TASK_LIFECYCLE.transition(self.state, state)
        stamps: dict[str, Any] = {}
        if state == TaskState.RUNNING and self.started_at is None:
            # The first attempt's start: a retry's age limit counts from it.
            stamps["started_at"] = now
        if state in (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED):
            stamps["finished_at"] = now
        return replace(self, state=state, **{**stamps, **changes})


@dataclass(frozen=True)
class Milestone:
    name: str
    date: str
    message: str

    def to_document(self) -> dict[str, Any]:
        return {"name": self.name, "date": self.date, "message": self.message}


@dataclass(frozen=True)
class Plan:
    """A product order's fulfilment: a DAG of tasks (dependencies by task id) and where it stands as a whole."""

    id: str
    state: PlanState
    tasks: tuple[Task, ...]
    created_at: str
    updated_at: str
    milestones: tuple[Milestone, ...] = ()
    # Why the plan is held or rejected; cleared by resume.
    reason: str | None = None
    # The cancelProductOrder request being carried out, if any.
    cancellation_id: str | None = None

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    def with_task(self, task: Task) -> Plan:
        return replace(self, tasks=tuple(task if t.id == task.id else t for t in self.tasks))

    def with_tasks(self, tasks: list[Task]) -> Plan:
        plan = self
        for task in tasks:
            plan = plan.with_task(task)
        return plan

    def marked(self, name: str, now: str, message: str) -> Plan:
        return replace(self, milestones=(*self.milestones, Milestone(name, now, message)))

    def moved(self, state: PlanState, now: str, reason: str | None = None) -> Plan:
        PLAN_LIFECYCLE.transition(self.state, state)
        return replace(self, state=state, updated_at=now, reason=reason)

    def ready_tasks(self) -> list[Task]:
        """Planned tasks whose dependencies are all done: what can start now."""
        done = {task.id for task in self.tasks if task.state == TaskState.DONE}
        return [t for t in self.tasks if t.state == TaskState.PLANNED and set(t.depends_on) <= done]

    def tasks_in(self, *states: TaskState) -> list[Task]:
        return [task for task in self.tasks if task.state in states]

    def service_orders(self) -> list[dict[str, Any]]:
        """Every service order the plan created, across resumes, with the task that created it."""
        found: list[dict[str, Any]] = []
        for task in self.tasks:
            if task.kind != TaskKind.CREATE_SERVICE_ORDER:
                continue
            for created in task.result.get("serviceOrders", []):
                found.append({**created, "taskId": task.id})
        return found

    def to_document(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "tasks": [task.to_document() for task in self.tasks],
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "milestones": [milestone.to_document() for milestone in self.milestones],
            "reason": self.reason,
            "cancellationId": self.cancellation_id,
        }

    @classmethod
    def from_document(cls, plan_id: str, document: dict[str, Any]) -> Plan:
        return cls(
            id=plan_id,
            state=PlanState(document["state"]),
            tasks=tuple(Task.from_document(task) for task in document.get("tasks") or ()),
            created_at=document["createdAt"],
            updated_at=document["updatedAt"],
            milestones=tuple(Milestone(**m) for m in document.get("milestones") or ()),
            reason=document.get("reason"),
            cancellation_id=document.get("cancellationId"),
        )


def item_states(plan: Plan) -> dict[str, str]:
    """The product order item states the plan calls for, for the items its tasks fulfil.

    An item is completed when every task for it is done, held when one of them failed, inProgress once one of
    them started, and left alone otherwise. Cancellation sets item states itself.
    """
    tasks_by_item: dict[str, list[Task]] = {}
    for task in plan.tasks:
        if task.state in (TaskState.CANCELLED, TaskState.SUPERSEDED):
            continue
        for item_id in task.order_items:
            tasks_by_item.setdefault(item_id, []).append(task)
    states: dict[str, str] = {}
    for item_id, tasks in tasks_by_item.items():
        task_states = {task.state for task in tasks}
        if task_states == {TaskState.DONE}:
            states[item_id] = "completed"
        elif TaskState.FAILED in task_states:
            states[item_id] = "held"
        elif task_states & {TaskState.RUNNING, TaskState.WAITING_RETRY, TaskState.DONE}:
            states[item_id] = "inProgress"
    return states


def task_id(kind: TaskKind, group: str, generation: int = 0) -> str:
    return f"{kind}/{group}" if generation == 0 else f"{kind}/{group}/{generation}"


def resume(plan: Plan, now: str) -> Plan:
    """Take a held plan back to running, re-running only what failed and keeping what succeeded.

    A failed wait on a service order means that service order failed: the wait is superseded by a new
    create-and-wait pair of the next generation (so a fresh service order, under a fresh idempotency key, is
    created for that part only). A create that ran out of retries is simply planned again.
    """
    replaced: dict[str, str] = {}
    changed: list[Task] = []
    added: list[Task] = []
    for failed in plan.tasks_in(TaskState.FAILED):
        if failed.kind != TaskKind.AWAIT_SERVICE_ORDER:
            again = failed.moved(TaskState.PLANNED, now)
            changed.append(
                replace(again, error=None, next_attempt_at=None, attempts=0, started_at=None, finished_at=None)
            )
            continue
        creator = plan.task(failed.depends_on[0])
        group = str(creator.payload.get("group", creator.id))
        generation = creator.generation + 1
        new_creator = Task(
            id=task_id(TaskKind.CREATE_SERVICE_ORDER, group, generation),
            kind=TaskKind.CREATE_SERVICE_ORDER,
            depends_on=creator.depends_on,
            order_items=creator.order_items,
            generation=generation,
            created_at=now,
            payload=copy.deepcopy(creator.payload),
        )
        new_wait = Task(
            id=task_id(TaskKind.AWAIT_SERVICE_ORDER, group, generation),
            kind=TaskKind.AWAIT_SERVICE_ORDER,
            depends_on=(new_creator.id,),
            order_items=failed.order_items,
            generation=generation,
            created_at=now,
            payload={"group": group},
        )
        changed.append(failed.moved(TaskState.SUPERSEDED, now))
        added.extend([new_creator, new_wait])
        replaced[failed.id] = new_wait.id
    updated = plan.with_tasks(changed)
    rewired = [
        replace(task, depends_on=tuple(replaced.get(dep, dep) for dep in task.depends_on))
        for task in updated.tasks
        if any(dep in replaced for dep in task.depends_on)
    ]
    resumed = updated.with_tasks(rewired)
    resumed = replace(resumed, tasks=(*resumed.tasks, *added)).moved(PlanState.RUNNING, now)
    what = ", ".join(sorted([t.id for t in changed if t.state == TaskState.PLANNED] + [t.id for t in added]))
    return resumed.marked("resumed", now, f"re-running {what}")


def drop_open_tasks(plan: Plan, now: str) -> Plan:
    """Cancellation: tasks that have not run are dropped; running waits are left to see their orders cancelled."""
    dropped = [
        task.moved(TaskState.CANCELLED, now)
        for task in plan.tasks
        if task.state in (TaskState.PLANNED, TaskState.WAITING_RETRY, TaskState.FAILED)
    ]
    return plan.with_tasks(dropped)
