"""Building a product order's plan from its decomposition: a pure function, like the decomposition itself."""

from __future__ import annotations

from typing import Any

from orchestration.decomposition import Decomposition
from orchestration.tasks import Milestone, Plan, PlanState, Task, TaskKind, TaskState, task_id
from tmf622_product_ordering.domain.rules import PRODUCT_ORDER_SHAPE

DECOMPOSE_TASK = "decompose"


def order_item_ids(order: dict[str, Any]) -> tuple[str, ...]:
    return tuple(PRODUCT_ORDER_SHAPE.items_by_id(order))


def build_plan(order: dict[str, Any], decomposition: Decomposition, now: str) -> Plan:
    """Decompose (done), then per service order a create task and a wait that depends on it.

    The decompose task covers every item, so an item that needs no service order completes as soon as the
    plan starts, and the others follow their service-order tasks.
    """
    items = order_item_ids(order)
    products = [
        {"key": p.key, "orderItem": p.order_item, "productOffering": p.offering.id, "action": p.action}
        for p in decomposition.products
    ]
    tasks: list[Task] = [
        Task(
            id=DECOMPOSE_TASK,
            kind=TaskKind.DECOMPOSE,
            state=TaskState.DONE,
            order_items=items,
            attempts=1,
            created_at=now,
            started_at=now,
            finished_at=now,
            result={"products": products},
        )
    ]
    for planned in decomposition.service_orders:
        create = Task(
            id=task_id(TaskKind.CREATE_SERVICE_ORDER, planned.group),
            kind=TaskKind.CREATE_SERVICE_ORDER,
            depends_on=(DECOMPOSE_TASK,),
            order_items=planned.order_items,
            created_at=now,
            payload={"group": planned.group, "serviceOrder": planned.body},
        )
        wait = Task(
            id=task_id(TaskKind.AWAIT_SERVICE_ORDER, planned.group),
            kind=TaskKind.AWAIT_SERVICE_ORDER,
            depends_on=(create.id,),
            order_items=planned.order_items,
            created_at=now,
            payload={"group": planned.group},
        )
        tasks.extend([create, wait])
    message = f"{len(products)} products, {len(decomposition.service_orders)} service orders"
    return Plan(
        id=str(order["id"]),
        state=PlanState.RUNNING,
        tasks=tuple(tasks),
        created_at=now,
        updated_at=now,
        milestones=(Milestone("decomposed", now, message),),
    )


def rejected_plan(order: dict[str, Any], reason: str, now: str) -> Plan:
    task = Task(
        id=DECOMPOSE_TASK,
        kind=TaskKind.DECOMPOSE,
        state=TaskState.FAILED,
        order_items=order_item_ids(order),
        attempts=1,
        created_at=now,
        started_at=now,
        finished_at=now,
        error=reason,
    )
    return Plan(
        id=str(order["id"]),
        state=PlanState.REJECTED,
        tasks=(task,),
        created_at=now,
        updated_at=now,
        milestones=(Milestone("rejected", now, reason),),
        reason=reason,
    )
