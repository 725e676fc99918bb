"""Fulfilment plans: task and plan lifecycles, building a plan from a decomposition, and the pure moves on it."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

import pytest

from orchestration.decomposition import DecomposedProduct, Decomposition, ServiceOrderPlan
from orchestration.planning import DECOMPOSE_TASK, build_plan, rejected_plan
from orchestration.tasks import (
    PLAN_LIFECYCLE,
    TASK_LIFECYCLE,
    Milestone,
    Plan,
    PlanState,
    Task,
    TaskKind,
    TaskState,
    drop_open_tasks,
    item_states,
    resume,
    task_id,
)
from tmf620_catalog.domain import ResolvedOffering
from tmf_common.lifecycle import ForbiddenTransition

T0 = "2030-03-01T08:00:00.000Z"
T1 = "2030-03-01T08:00:01.000Z"
T2 = "2030-03-01T08:00:02.000Z"
T3 = "2030-03-01T08:00:03.000Z"
T4 = "2030-03-01T08:00:04.000Z"
ORDER_ID = "po-order-0001"

_T = TaskState
_P = PlanState

# Every allowed move, written out here rather than read from the code: (from, to) besides staying put.
TASK_MOVES = {
    (_T.PLANNED, _T.RUNNING),
    (_T.PLANNED, _T.CANCELLED),
    (_T.RUNNING, _T.DONE),
    (_T.RUNNING, _T.WAITING_RETRY),
    (_T.RUNNING, _T.FAILED),
    (_T.RUNNING, _T.CANCELLED),
    (_T.WAITING_RETRY, _T.RUNNING),
    (_T.WAITING_RETRY, _T.FAILED),
    (_T.WAITING_RETRY, _T.CANCELLED),
    (_T.FAILED, _T.PLANNED),
    (_T.FAILED, _T.SUPERSEDED),
    (_T.FAILED, _T.CANCELLED),
}
PLAN_MOVES = {
    (_P.RUNNING, _P.HELD),
    (_P.RUNNING, _P.CANCELLING),
    (_P.RUNNING, _P.COMPLETED),
    (_P.HELD, _P.RUNNING),
    (_P.HELD, _P.CANCELLING),
    (_P.CANCELLING, _P.CANCELLED),
}


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def resolved(offering_id: str) -> ResolvedOffering:
    return ResolvedOffering(offering={"id": offering_id}, specification=None, prices=())


def order(*item_ids: str) -> dict[str, Any]:
    return {"id": ORDER_ID, "productOrderItem": [{"id": item_id, "action": "add"} for item_id in item_ids]}


def service_order_body(group: str) -> dict[str, Any]:
    return {"externalId": f"{ORDER_ID}/{group}", "serviceOrderItem": [{"id": "1", "action": "add"}]}


def decomposition() -> Decomposition:
    """Item 1 bundles item 2 (one service order, group 1); item 5 alone (group 5); item 6 needs no service order."""
    products = (
        DecomposedProduct("1", "1", resolved("po-family"), "add", ()),
        DecomposedProduct("2", "2", resolved("po-sim"), "add", (), parent="1"),
        DecomposedProduct("5", "5", resolved("po-sim"), "add", ()),
        DecomposedProduct("6", "6", resolved("po-sim"), "noChange", ()),
    )
    service_orders = (
        ServiceOrderPlan("1", ("1", "2"), service_order_body("1")),
        ServiceOrderPlan("5", ("5",), service_order_body("5")),
    )
    return Decomposition(products, service_orders)


def new_plan() -> Plan:
    return build_plan(order("1", "2", "5", "6"), decomposition(), T0)


def run(plan: Plan, task: str, to: TaskState, now: str = T1, **changes: Any) -> Plan:
    """Start a planned task and move it on to `to`."""
    started = plan.task(task).moved(TaskState.RUNNING, now, attempts=plan.task(task).attempts + 1)
    return plan.with_task(started if to == TaskState.RUNNING else started.moved(to, now, **changes))


def created(plan: Plan, group: str, service_order_id: str) -> Plan:
    plan = run(plan, task_id(TaskKind.CREATE_SERVICE_ORDER, group), TaskState.DONE)
    task = plan.task(task_id(TaskKind.CREATE_SERVICE_ORDER, group))
    return plan.with_task(replace(task, result={"serviceOrders": [{"id": service_order_id, "group": group}]}))


def held_plan_with_failed_wait() -> Plan:
    """Group 1's service order failed (its wait failed); group 5's service order is still being waited for."""
    plan = created(created(new_plan(), "1", "so-1"), "5", "so-5")
    plan = run(plan, "awaitServiceOrder/1", TaskState.FAILED, T2, error="serviceOrder so-1 is failed")
    plan = run(plan, "awaitServiceOrder/5", TaskState.RUNNING, T2)
    return plan.moved(PlanState.HELD, T2, reason="serviceOrder so-1 is failed")


def plan_of(*tasks: Task, state: PlanState = PlanState.RUNNING) -> Plan:
    return Plan(id=ORDER_ID, state=state, tasks=tasks, created_at=T0, updated_at=T0)


def task(name: str, state: TaskState, *items: str, kind: TaskKind = TaskKind.CREATE_SERVICE_ORDER) -> Task:
    return Task(id=name, kind=kind, state=state, order_items=items)


# ---------------------------------------------------------------------------------------------------------------
# Lifecycles


@pytest.mark.parametrize(("source", "target"), list(itertools.product(TaskState, TaskState)))
def test_task_lifecycle_allows_exactly_the_expected_moves(source: TaskState, target: TaskState) -> None:
    allowed = source == target or (source, target) in TASK_MOVES
    assert TASK_LIFECYCLE.can(source, target) is allowed
    if allowed:
        assert TASK_LIFECYCLE.transition(source, target) is target
    else:
        with pytest.raises(ForbiddenTransition):
            TASK_LIFECYCLE.transition(source, target)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(PlanState, PlanState)))
def test_plan_lifecycle_allows_exactly_the_expected_moves(source: PlanState, target: PlanState) -> None:
    allowed = source == target or (source, target) in PLAN_MOVES
    assert PLAN_LIFECYCLE.can(source, target) is allowed
    plan = plan_of(state=source)
    if allowed:
        assert plan.moved(target, T1, reason="why").state is target
    else:
        with pytest.raises(ForbiddenTransition):
            plan.moved(target, T1)


def test_initial_and_terminal_states() -> None:
    assert {s for s in TaskState if TASK_LIFECYCLE.is_initial(s)} == {_T.PLANNED}
    assert {s for s in TaskState if TASK_LIFECYCLE.is_terminal(s)} == {_T.DONE, _T.CANCELLED, _T.SUPERSEDED}
    assert {s for s in PlanState if PLAN_LIFECYCLE.is_initial(s)} == {_P.RUNNING, _P.REJECTED}
    assert {s for s in PlanState if PLAN_LIFECYCLE.is_terminal(s)} == {_P.COMPLETED, _P.CANCELLED, _P.REJECTED}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(TaskState, TaskState)))
def test_task_moved_follows_the_lifecycle(source: TaskState, target: TaskState) -> None:
    before = Task(id="t", kind=TaskKind.CREATE_SERVICE_ORDER, state=source)
    if source == target or (source, target) in TASK_MOVES:
        assert before.moved(target, T1).state is target
    else:
        with pytest.raises(ForbiddenTransition) as caught:
            before.moved(target, T1)
        assert (caught.value.from_state, caught.value.to_state) == (str(source), str(target))
        assert before.state is source


def test_task_moved_stamps_start_and_finish_and_applies_changes() -> None:
    planned = Task(id="t", kind=TaskKind.CREATE_SERVICE_ORDER, created_at=T0)
    running = planned.moved(TaskState.RUNNING, T1, attempts=1)
    assert (running.state, running.started_at, running.finished_at, running.attempts) == (_T.RUNNING, T1, None, 1)
    assert running.moved(TaskState.RUNNING, T2).started_at == T1  # staying put is no new start

    waiting = running.moved(TaskState.WAITING_RETRY, T2, error="timeout", next_attempt_at=T3)
    assert (waiting.finished_at, waiting.error, waiting.next_attempt_at) == (None, "timeout", T3)

    for final in (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED):
        assert running.moved(final, T2).finished_at == T2
        assert running.moved(final, T2).started_at == T1
    assert planned.moved(TaskState.CANCELLED, T2).started_at is None
    assert planned.state is TaskState.PLANNED and planned.started_at is None  # moved returns a new task


def test_retrying_a_task_keeps_the_start_of_its_first_attempt() -> None:
    first = Task(id="t", kind=TaskKind.CREATE_SERVICE_ORDER).moved(TaskState.RUNNING, T1, attempts=1)
    retried = first.moved(TaskState.WAITING_RETRY, T2).moved(TaskState.RUNNING, T3, attempts=2)
    assert retried.started_at == T1


# ---------------------------------------------------------------------------------------------------------------
# Building a plan


def test_decompose_task_is_done_and_covers_every_order_item() -> None:
    plan = new_plan()
    decompose = plan.task(DECOMPOSE_TASK)
    assert (decompose.kind, decompose.state, decompose.attempts) == (TaskKind.DECOMPOSE, _T.DONE, 1)
    assert decompose.order_items == ("1", "2", "5", "6")
    assert (decompose.started_at, decompose.finished_at) == (T0, T0)
    assert [(p["key"], p["orderItem"], p["productOffering"], p["action"]) for p in decompose.result["products"]] == [
        ("1", "1", "po-family", "add"),
        ("2", "2", "po-sim", "add"),
        ("5", "5", "po-sim", "add"),
        ("6", "6", "po-sim", "noChange"),
    ]
    assert (plan.id, plan.state, plan.created_at, plan.updated_at) == (ORDER_ID, _P.RUNNING, T0, T0)
    [milestone] = plan.milestones
    assert (milestone.name, milestone.date) == ("decomposed", T0)
    assert "4 products" in milestone.message and "2 service orders" in milestone.message


def test_nested_order_items_are_covered_by_the_decompose_task() -> None:
    nested = {"id": ORDER_ID, "productOrderItem": [{"id": "1", "productOrderItem": [{"id": "2"}]}, {"id": "5"}]}
    plan = build_plan(nested, Decomposition((), ()), T0)
    assert set(plan.task(DECOMPOSE_TASK).order_items) == {"1", "2", "5"}
    assert [t.id for t in plan.tasks] == [DECOMPOSE_TASK]


def test_each_service_order_gets_a_create_then_an_await() -> None:
    plan = new_plan()
    assert [t.id for t in plan.tasks] == [
        DECOMPOSE_TASK,
        "createServiceOrder/1",
        "awaitServiceOrder/1",
        "createServiceOrder/5",
        "awaitServiceOrder/5",
    ]
    for group, items in (("1", ("1", "2")), ("5", ("5",))):
        create = plan.task(f"createServiceOrder/{group}")
        wait = plan.task(f"awaitServiceOrder/{group}")
        assert (create.kind, create.state, create.depends_on, create.order_items) == (
            TaskKind.CREATE_SERVICE_ORDER,
            _T.PLANNED,
            (DECOMPOSE_TASK,),
            items,
        )
        assert create.payload == {"group": group, "serviceOrder": service_order_body(group)}
        assert (wait.kind, wait.state, wait.depends_on, wait.order_items) == (
            TaskKind.AWAIT_SERVICE_ORDER,
            _T.PLANNED,
            (create.id,),
            items,
        )
        assert wait.payload == {"group": group}
        assert create.generation == wait.generation == 0


def test_ready_tasks_are_the_creates_first_then_each_await_once_its_create_is_done() -> None:
    plan = new_plan()
    assert [t.id for t in plan.ready_tasks()] == ["createServiceOrder/1", "createServiceOrder/5"]
    plan = run(plan, "createServiceOrder/1", TaskState.RUNNING)
    assert [t.id for t in plan.ready_tasks()] == ["createServiceOrder/5"]
    plan = run(plan, "createServiceOrder/5", TaskState.WAITING_RETRY)
    assert plan.ready_tasks() == []
    plan = plan.with_task(plan.task("createServiceOrder/1").moved(TaskState.DONE, T2))
    assert [t.id for t in plan.ready_tasks()] == ["awaitServiceOrder/1"]


def test_service_orders_lists_what_each_create_task_made() -> None:
    plan = created(created(new_plan(), "5", "so-5"), "1", "so-1")
    assert plan.service_orders() == [
        {"id": "so-1", "group": "1", "taskId": "createServiceOrder/1"},
        {"id": "so-5", "group": "5", "taskId": "createServiceOrder/5"},
    ]


# ---------------------------------------------------------------------------------------------------------------
# Item states


def test_item_states_after_building_a_plan() -> None:
    # The decompose task is done for every item: an item without a service order is complete at once, and
    # the others are in progress.
    assert item_states(new_plan()) == {"1": "inProgress", "2": "inProgress", "5": "inProgress", "6": "completed"}


def test_item_states_follow_the_tasks_of_each_item() -> None:
    plan = plan_of(
        task("a", _T.DONE, "done", "held", "progress", "running", "retrying"),
        task("b", _T.DONE, "done"),
        task("c", _T.FAILED, "held"),
        task("d", _T.PLANNED, "progress", "untouched", "held"),
        task("e", _T.RUNNING, "running"),
        task("f", _T.WAITING_RETRY, "retrying"),
        task("g", _T.PLANNED, "untouched"),
    )
    assert item_states(plan) == {
        "done": "completed",
        "held": "held",
        "progress": "inProgress",
        "running": "inProgress",
        "retrying": "inProgress",
    }


def test_item_states_ignore_cancelled_and_superseded_tasks() -> None:
    plan = plan_of(
        task("a", _T.DONE, "1", "2", "3"),
        task("old", _T.SUPERSEDED, "1"),
        task("new", _T.DONE, "1"),
        task("dropped", _T.CANCELLED, "2"),
        task("gone", _T.CANCELLED, "4"),
        task("failed-then-superseded", _T.SUPERSEDED, "3"),
        task("retry", _T.RUNNING, "3"),
    )
    assert item_states(plan) == {"1": "completed", "2": "completed", "3": "inProgress"}


def test_item_states_through_a_plan_run() -> None:
    plan = created(new_plan(), "1", "so-1")
    plan = run(plan, "awaitServiceOrder/1", TaskState.DONE, T2)
    assert item_states(plan) == {"1": "completed", "2": "completed", "5": "inProgress", "6": "completed"}
    plan = run(plan, "createServiceOrder/5", TaskState.FAILED, T2)
    assert item_states(plan)["5"] == "held"


# ---------------------------------------------------------------------------------------------------------------
# Resume


def test_resume_replaces_a_failed_wait_with_a_new_create_and_wait() -> None:
    held = held_plan_with_failed_wait()
    follow_up = Task(
        id="followUp/1", kind=TaskKind.CANCEL_SERVICE_ORDER, depends_on=("awaitServiceOrder/1", DECOMPOSE_TASK)
    )
    held = replace(held, tasks=(*held.tasks, follow_up))

    resumed = resume(held, T3)

    old_create, old_wait = held.task("createServiceOrder/1"), held.task("awaitServiceOrder/1")
    superseded = resumed.task("awaitServiceOrder/1")
    assert superseded.state is _T.SUPERSEDED
    assert superseded.error == old_wait.error  # kept, so the plan shows what happened

    new_create = resumed.task("createServiceOrder/1/1")
    new_wait = resumed.task("awaitServiceOrder/1/1")
    assert resumed.tasks[-2:] == (new_create, new_wait)
    assert (new_create.kind, new_create.state, new_create.generation, new_create.attempts) == (
        TaskKind.CREATE_SERVICE_ORDER,
        _T.PLANNED,
        1,
        0,
    )
    assert new_create.depends_on == old_create.depends_on == (DECOMPOSE_TASK,)
    assert new_create.order_items == old_create.order_items == ("1", "2")
    assert new_create.payload == old_create.payload == {"group": "1", "serviceOrder": service_order_body("1")}
    assert new_create.result == {} and new_create.created_at == T3
    assert new_create.idempotency_key(ORDER_ID) != old_create.idempotency_key(ORDER_ID)
    assert (new_wait.kind, new_wait.state, new_wait.generation) == (TaskKind.AWAIT_SERVICE_ORDER, _T.PLANNED, 1)
    assert new_wait.depends_on == (new_create.id,)
    assert new_wait.order_items == ("1", "2")
    assert new_wait.payload == {"group": "1"}

    assert resumed.task("followUp/1").depends_on == ("awaitServiceOrder/1/1", DECOMPOSE_TASK)
    for untouched in (DECOMPOSE_TASK, "createServiceOrder/1", "createServiceOrder/5", "awaitServiceOrder/5"):
        assert resumed.task(untouched) == held.task(untouched)
        assert resumed.task(untouched).result == held.task(untouched).result

    assert (resumed.state, resumed.reason, resumed.updated_at) == (_P.RUNNING, None, T3)
    last = resumed.milestones[-1]
    assert (last.name, last.date) == ("resumed", T3)
    assert "createServiceOrder/1/1" in last.message and "awaitServiceOrder/1/1" in last.message
    assert [t.id for t in resumed.ready_tasks()] == ["createServiceOrder/1/1"]
    # The superseded wait no longer holds its items; the new pair keeps them in progress.
    assert item_states(resumed)["1"] == "inProgress"


def test_a_second_resume_makes_the_next_generation() -> None:
    resumed = resume(held_plan_with_failed_wait(), T3)
    resumed = run(resumed, "createServiceOrder/1/1", TaskState.DONE, T3)
    resumed = run(resumed, "awaitServiceOrder/1/1", TaskState.FAILED, T3).moved(PlanState.HELD, T3, reason="again")

    again = resume(resumed, T4)
    assert again.task("awaitServiceOrder/1/1").state is _T.SUPERSEDED
    assert again.task("createServiceOrder/1/2").generation == 2
    assert again.task("awaitServiceOrder/1/2").depends_on == ("createServiceOrder/1/2",)
    assert again.task("awaitServiceOrder/1").state is _T.SUPERSEDED
    assert again.task("createServiceOrder/1/1").state is _T.DONE
    assert len({t.idempotency_key(ORDER_ID) for t in again.tasks}) == len(again.tasks)


def test_resume_plans_a_failed_create_again_with_attempts_reset() -> None:
    plan = created(new_plan(), "1", "so-1")
    failure = {"attempts": 5, "error": "database down", "next_attempt_at": T3}
    plan = run(plan, "createServiceOrder/5", TaskState.FAILED, T2, **failure)
    held = plan.moved(PlanState.HELD, T2, reason="createServiceOrder/5 failed")

    resumed = resume(held, T3)

    again = resumed.task("createServiceOrder/5")
    assert (again.state, again.attempts, again.error, again.next_attempt_at, again.generation) == (
        _T.PLANNED,
        0,
        None,
        None,
        0,
    )
    assert again.payload == held.task("createServiceOrder/5").payload
    assert [t.id for t in resumed.tasks] == [t.id for t in held.tasks]  # nothing added
    assert resumed.task("awaitServiceOrder/5") == held.task("awaitServiceOrder/5")
    assert (resumed.state, resumed.reason) == (_P.RUNNING, None)
    assert resumed.milestones[-1].name == "resumed" and "createServiceOrder/5" in resumed.milestones[-1].message
    assert [t.id for t in resumed.ready_tasks()] == ["awaitServiceOrder/1", "createServiceOrder/5"]


def test_resume_re_plans_a_failed_task_that_depended_on_a_failed_wait() -> None:
    held = held_plan_with_failed_wait()
    follow_up = Task(id="followUp/1", kind=TaskKind.CANCEL_SERVICE_ORDER, depends_on=("awaitServiceOrder/1",))
    follow_up = follow_up.moved(TaskState.RUNNING, T2).moved(TaskState.FAILED, T2, error="nothing to follow up")
    resumed = resume(replace(held, tasks=(*held.tasks, follow_up)), T3)
    assert "followUp/1" in resumed.milestones[-1].message
    assert resumed.task("followUp/1").depends_on == ("awaitServiceOrder/1/1",)
    assert resumed.task("followUp/1").state is _T.PLANNED


def test_resume_refuses_a_plan_that_cannot_run_again() -> None:
    plan = new_plan().moved(PlanState.COMPLETED, T1)
    with pytest.raises(ForbiddenTransition):
        resume(plan, T2)


# ---------------------------------------------------------------------------------------------------------------
# Cancellation


def test_drop_open_tasks_cancels_what_has_not_run_and_leaves_the_rest() -> None:
    states = list(TaskState)
    plan = plan_of(*[task(str(state), state, "1") for state in states])

    dropped = drop_open_tasks(plan, T2)

    dropped_states = {t.id: t.state for t in dropped.tasks}
    for state in (_T.PLANNED, _T.WAITING_RETRY, _T.FAILED):
        assert dropped_states[str(state)] is _T.CANCELLED
        assert dropped.task(str(state)).finished_at == T2
    for state in (_T.RUNNING, _T.DONE, _T.CANCELLED, _T.SUPERSEDED):
        assert dropped.task(str(state)) == plan.task(str(state))
    assert [t.id for t in dropped.tasks] == [str(state) for state in states]
    assert dropped.state is plan.state


# ---------------------------------------------------------------------------------------------------------------
# Persistence and rejection


def test_plan_document_round_trip_keeps_everything() -> None:
    plan = resume(held_plan_with_failed_wait(), T3)
    plan = plan.with_task(replace(plan.task("awaitServiceOrder/5"), deadline=T4, result={"watching": [{"id": "x"}]}))
    plan = replace(plan, cancellation_id="cancel-7", reason="kept")

    document = json.loads(json.dumps(plan.to_document()))
    restored = Plan.from_document(plan.id, document)

    assert restored == plan
    # Payload and result are not part of task equality: compare them explicitly.
    assert [(t.payload, t.result) for t in restored.tasks] == [(t.payload, t.result) for t in plan.tasks]
    assert restored.to_document() == plan.to_document()
    assert document["tasks"][0]["kind"] == "decompose" and document["state"] == "running"
    assert restored.milestones[-1] == Milestone("resumed", T3, plan.milestones[-1].message)
    assert (restored.reason, restored.cancellation_id) == ("kept", "cancel-7")


def test_rejected_plan_keeps_the_reason_on_a_failed_decompose_task() -> None:
    reason = "productOrderItem '1': productOffering 'po-gone' was not resolved"
    plan = rejected_plan(order("1", "2"), reason, T0)
    assert (plan.id, plan.state, plan.reason) == (ORDER_ID, _P.REJECTED, reason)
    [decompose] = plan.tasks
    assert (decompose.id, decompose.kind, decompose.state, decompose.error) == (
        DECOMPOSE_TASK,
        TaskKind.DECOMPOSE,
        _T.FAILED,
        reason,
    )
    assert decompose.order_items == ("1", "2")
    assert plan.milestones == (Milestone("rejected", T0, reason),)
    assert PLAN_LIFECYCLE.is_terminal(plan.state)
    assert plan.ready_tasks() == []
