"""The engine: advances one product order's plan a persisted step at a time, so a crash anywhere resumes cleanly.

Each step reads the order and its plan, makes one change, and writes it conditionally on the plan's revision;
a side effect (a service order created or cancelled) carries a key derived from the plan and task ids, so a
step repeated after a crash, or by a second process, creates nothing twice.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from orchestration.decomposition import DecompositionError, decompose_order, offering_ids
from orchestration.planning import build_plan, rejected_plan
from orchestration.store import LeaseTable, PlanRepository, SignalQueue, StoredPlan
from orchestration.tasks import (
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
from tmf620_catalog.domain import CatalogResolutionError
from tmf620_catalog.service import CatalogService
from tmf_common.cancellation import CANCELLATION
from tmf_common.clock import format_instant, parse_instant
from tmf_common.errors import Conflict, NotFound, TmfError
from tmf_common.events import RecordedEvent, new_event
from tmf_common.http import RequestContext
from tmf_common.idempotency import create_idempotent
from tmf_common.ordering_service import OrderingService
from tmf_common.repository import StoredResource
from tmf_common.retry import RetryPolicy

log = logging.getLogger("tmf.orchestration")

PRODUCT_ORDERING_API = "productOrderingManagement"
SERVICE_ORDERING_API = "serviceOrdering"
# Product order states whose StateChange makes the engine look again: a cancellation it has to carry out, and an
# operator moving a held order back to inProgress.
WAKING_ORDER_STATES = frozenset({"inProgress", "pendingCancellation", "cancelled"})
ORDER_HELD = "orderHeld"
FINAL_SERVICE_ORDER_STATES = frozenset({"completed", "failed", "partial", "cancelled", "rejected"})
NOTE_AUTHOR = "orchestration engine"
MAX_STEPS = 100
CANCELLATION_STATES = frozenset({"assessingCancellation", "pendingCancellation"})

TASK_RETRY_POLICY = RetryPolicy(
    max_attempts=5,
    first_delay=timedelta(seconds=1),
    multiplier=2.0,
    max_delay=timedelta(seconds=60),
    jitter=0.2,
    max_age=timedelta(hours=1),
)


@dataclass(frozen=True)
class EngineSettings:
    # How long the OSS has to bring a service order to an outcome before the order is held for care.
    service_order_deadline: timedelta = timedelta(days=7)
    lease: timedelta = timedelta(seconds=30)
    retry_policy: RetryPolicy = TASK_RETRY_POLICY
    public_url: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class FulfilmentEngine:
    def __init__(
        self,
        plans: PlanRepository,
        signals: SignalQueue,
        leases: LeaseTable,
        product_ordering: OrderingService,
        service_ordering: OrderingService,
        catalog: CatalogService,
        settings: EngineSettings | None = None,
    ) -> None:
        self.plans = plans
        self.signals = signals
        self.leases = leases
        self.product_ordering = product_ordering
        self.service_ordering = service_ordering
        self.catalog = catalog
        self.settings = settings or EngineSettings()
        # Told the order id of every signal recorded, so that the engine job runs at once.
        self.on_signal: Callable[[str, str], None] | None = None

    # -- inputs ------------------------------------------------------------------------------------------------

    def on_events(self, api: str, envelopes: list[dict[str, Any]]) -> None:
        """The event relay's internal consumer: record a durable signal for each event the engine acts on."""
        now = _now()
        wanted: list[tuple[str, str, datetime]] = []
        for envelope in envelopes:
            order_id = self._order_of_event(api, envelope)
            if order_id is not None:
                wanted.append((f"{order_id}|{envelope['eventId']}", order_id, now))
        for signal in self.signals.record(wanted):
            if self.on_signal is not None:
                self.on_signal(signal.order_id, signal.id)

    @staticmethod
    def _order_of_event(api: str, envelope: dict[str, Any]) -> str | None:
        event_type = envelope.get("eventType")
        event = envelope.get("event") or {}
        if api == PRODUCT_ORDERING_API:
            order = event.get("productOrder") or {}
            if event_type == "ProductOrderCreateEvent" or (
                event_type == "ProductOrderStateChangeEvent" and order.get("state") in WAKING_ORDER_STATES
            ):
                return str(order["id"]) if order.get("id") else None
        if api == SERVICE_ORDERING_API and event_type == "ServiceOrderStateChangeEvent":
            service_order = event.get("serviceOrder") or {}
            if service_order.get("state") not in FINAL_SERVICE_ORDER_STATES:
                return None  # the engine acts on outcomes only; an OSS starting work changes nothing for it
            for reference in service_order.get("externalReference") or []:
                if reference.get("externalReferenceType") == "ProductOrder" and reference.get("id"):
                    return str(reference["id"])
        return None

    def advance(self, order_id: str) -> bool:
        """Take the order as far as it can go now; False when another process holds it (its signals stay)."""
        token = self.leases.acquire(order_id, _now(), self.settings.lease)
        if token is None:
            return False
        try:
            known = _Known()
            for _ in range(MAX_STEPS):
                if not self._step(order_id, known):
                    return True
            log.warning(
                "productOrder %s: still changing after %d steps; the next signal continues", order_id, MAX_STEPS
            )
            return True
        finally:
            self.leases.release(order_id, token)

    def plan(self, order_id: str) -> StoredPlan:
        stored = self.plans.get(order_id)
        if stored is None:
            if self.product_ordering.orders.repository.get(order_id, {"_id": 1}) is None:
                raise NotFound(f"No productOrder with id '{order_id}'")
            raise NotFound(f"productOrder '{order_id}' has no fulfilment plan yet")
        return stored

    def resume(self, order_id: str, note: str | None) -> StoredPlan:
        """The operator's action on a held order: re-run what failed, keep what succeeded."""
        for _ in range(20):
            stored = self.plan(order_id)
            if stored.plan.state != PlanState.HELD:
                raise Conflict(
                    f"the plan of productOrder '{order_id}' is '{stored.plan.state}'; only a held plan can be resumed",
                    code="NOT_HELD",
                )
            written = self.plans.replace(stored, resume(stored.plan, format_instant(_now())))
            if written is not None:
                self._resume_order(order_id, note)
                self.signals.record([(f"{order_id}|resume|{uuid.uuid4().hex}", order_id, _now())])
                if self.on_signal is not None:
                    self.on_signal(order_id, "")
                return written
        raise Conflict(f"the plan of productOrder '{order_id}' is changing; retry", code="CONCURRENT_CHANGE")

    def _resume_order(self, order_id: str, note: str | None) -> None:
        """held -> inProgress with the held items, and the operator's note, in one write."""

        def change(current: StoredResource, stamp: str) -> dict[str, Any] | None:
            if current.body.get("state") != "held":
                return None
            after = copy.deepcopy(current.body)
            after["state"] = "inProgress"
            for item in self.product_ordering.rules.shape.items_by_id(after).values():
                if item.get("state") == "held":
                    item["state"] = "inProgress"
            if note:
                after.setdefault("note", []).append(
                    {"author": "operator", "date": stamp, "text": note, "@type": "Note"}
                )
            return after

        self.product_ordering.orders.update(order_id, change)

    def decide_cancellation(self, order: dict[str, Any]) -> str | None:
        """The cancelProductOrder seam: accepted unless fulfilment has already completed."""
        stored = self.plans.get(str(order.get("id")))
        if stored is not None and stored.plan.state == PlanState.COMPLETED:
            return "fulfilment of this order has completed; it can no longer be cancelled"
        return None

    def confirm_cancellation(self, order: dict[str, Any]) -> bool:
        """The order may become cancelled once no service order of it is left open."""
        stored = self.plans.get(str(order.get("id")))
        if stored is None or stored.plan.state in (PlanState.CANCELLED, PlanState.REJECTED):
            return True
        return stored.plan.state != PlanState.CANCELLING and not stored.plan.service_orders()

    # -- one step ----------------------------------------------------------------------------------------------

    def _step(self, order_id: str, known: _Known) -> bool:
        """One persisted change; False when there is nothing to do until something else happens.

        What this advance wrote itself is carried in `known` instead of being read back; anything else (and
        everything after a lost race) is read from the database.
        """
        if not known.order_is_known:
            known.remember_order(self.product_ordering.orders.repository.get_with_internal(order_id))
        if not known.plan_is_known:
            known.remember_plan(self.plans.get(order_id))
        order, stored = known.order, known.plan
        now = _now()
        if stored is None:
            if order is None or order.body.get("state") != "acknowledged":
                return False
            return self._decompose(order, now, known)
        plan = stored.plan
        if order is None:
            return False  # deleted (only possible in a final state): nothing left to follow
        state = order.body.get("state")
        if plan.state in (PlanState.COMPLETED, PlanState.REJECTED):
            return self._sync_order(known, order, plan, now)
        if plan.state == PlanState.CANCELLED:
            return self._finish_cancellation(known, order)
        if state in ("pendingCancellation", "cancelled") and plan.state != PlanState.CANCELLING:
            return self._save(known, stored, self._begin_cancellation(plan, order, now), now)
        if plan.state == PlanState.CANCELLING:
            return self._cancel_step(known, stored, now)
        if state == "assessingCancellation":
            return False  # the cancellation request decides first
        if plan.state == PlanState.HELD:
            # Nothing proceeds while held; only an operator moves it on: the resume action, or a PATCH of the
            # order back to inProgress once the engine had put it in held (told apart from "not held yet" by
            # the orderHeld milestone the engine records after holding the order).
            stamp = format_instant(now)
            if state == "held" and not _order_held_recorded(plan):
                return self._save(known, stored, plan.marked(ORDER_HELD, stamp, "the product order is held"), now)
            if state == "inProgress" and _order_held_recorded(plan):
                return self._save(known, stored, resume(plan, stamp), now)
            return self._sync_order(known, order, plan, now)
        observed = self._observe(plan, now)
        if observed != plan:
            return self._save(known, stored, observed, now)
        failed = plan.tasks_in(TaskState.FAILED)
        if failed:
            reason = "; ".join(f"{task.id}: {task.error}" for task in failed)
            held = plan.moved(PlanState.HELD, format_instant(now), reason).marked("held", format_instant(now), reason)
            return self._save(known, stored, held, now)
        runnable = plan.ready_tasks() + [
            task
            for task in plan.tasks_in(TaskState.WAITING_RETRY)
            if task.next_attempt_at is None or parse_instant(task.next_attempt_at) <= now
        ]
        if runnable:
            return self._save(known, stored, self._run(plan, runnable[0], order, now), now)
        if all(task.state == TaskState.DONE for task in plan.tasks if task.state != TaskState.SUPERSEDED):
            stamp = format_instant(now)
            completed = plan.moved(PlanState.COMPLETED, stamp).marked("completed", stamp, "every task done")
            return self._save(known, stored, completed, now)
        return self._sync_order(known, order, plan, now)

    def _save(self, known: _Known, stored: StoredPlan, plan: Plan, now: datetime) -> bool:
        if plan == stored.plan:
            return False
        plan = replace(plan, updated_at=format_instant(now))
        timer, previous = _next_timer(plan), _next_timer(stored.plan)
        if timer is not None and timer != previous:
            # Before the plan write, so a crash between the two cannot leave a plan waiting on a timer that does
            # not exist; a timer left by a lost race just fires once for nothing.
            self.signals.record([(_timer_signal(plan.id, timer), plan.id, timer)])
        written = self.plans.replace(stored, plan)
        if written is None:
            known.forget()  # another writer changed it: the next step reads both again
            return True
        known.remember_plan(written)
        if previous is not None and previous != timer:
            # A timer nobody needs would otherwise sit in the poll's scan until it falls due (days, for a deadline).
            self.signals.done([_timer_signal(plan.id, previous)])
        return True

    def _decompose(self, order: StoredResource, now: datetime, known: _Known) -> bool:
        stamp = format_instant(now)
        try:
            offerings = {
                offering_id: self.catalog.resolve_offering(offering_id, stamp)
                for offering_id in offering_ids(order.body)
            }
            plan = build_plan(order.body, decompose_order(order.body, offerings), stamp)
        except (CatalogResolutionError, DecompositionError) as error:
            plan = rejected_plan(order.body, str(error), stamp)
        if self.plans.insert(plan):
            known.remember_plan(StoredPlan(plan, 1))
        else:
            known.forget()  # another process decomposed it first
        return True

    # -- running tasks -----------------------------------------------------------------------------------------

    def _run(self, plan: Plan, task: Task, order: StoredResource, now: datetime) -> Plan:
        stamp = format_instant(now)
        running = task.moved(TaskState.RUNNING, stamp, attempts=task.attempts + 1, next_attempt_at=None)
        if task.kind == TaskKind.AWAIT_SERVICE_ORDER:
            deadline = format_instant(now + self.settings.service_order_deadline)
            creator = plan.task(task.depends_on[0])
            watched = creator.result.get("serviceOrders", [])
            return plan.with_task(replace(running, deadline=deadline, result={"watching": watched}))
        if task.kind == TaskKind.CREATE_SERVICE_ORDER:
            try:
                created = self._create_service_order(plan, running, order)
            except TmfError as error:  # our own API refused the body: retrying cannot help
                return plan.with_task(running.moved(TaskState.FAILED, stamp, error=f"refused: {error}"))
            except Exception as error:  # the database or the network: worth another attempt
                log.warning("productOrder %s: %s failed", plan.id, task.id, exc_info=True)
                return plan.with_task(self._retry_or_fail(running, now, str(error)))
            done = running.moved(TaskState.DONE, stamp, result={"serviceOrders": [created]})
            return plan.with_task(done).marked("serviceOrderCreated", stamp, f"serviceOrder {created['id']}")
        return plan.with_task(running.moved(TaskState.FAILED, stamp, error=f"no runner for task kind {task.kind}"))

    def _retry_or_fail(self, task: Task, now: datetime, error: str) -> Task:
        started = parse_instant(task.started_at) if task.started_at else now
        at = self.settings.retry_policy.next_attempt_at(task.attempts, started, now, random.random())
        stamp = format_instant(now)
        if at is None:
            return task.moved(TaskState.FAILED, stamp, error=f"{error} (after {task.attempts} attempts)")
        return task.moved(TaskState.WAITING_RETRY, stamp, error=error, next_attempt_at=format_instant(at))

    def _context(self, order: StoredResource, key: str | None = None) -> RequestContext:
        href = str(order.body.get("href") or "")
        parts = urlsplit(href)
        base = self.settings.public_url or (f"{parts.scheme}://{parts.netloc}" if parts.netloc else "")
        return RequestContext(base_url=base, idempotency_key=key)

    def _create_service_order(self, plan: Plan, task: Task, order: StoredResource) -> dict[str, Any]:
        body = copy.deepcopy(task.payload["serviceOrder"])
        context = self._context(order, task.idempotency_key(plan.id))
        created = create_idempotent(self.service_ordering.orders, body, context).resource.body
        return {"id": created["id"], "href": created.get("href"), "group": task.payload.get("group")}

    def _observe(self, plan: Plan, now: datetime) -> Plan:
        """Waits whose service order reached an outcome (or whose deadline passed) finish."""
        stamp = format_instant(now)
        changed: list[Task] = []
        for task in plan.tasks_in(TaskState.RUNNING):
            if task.kind != TaskKind.AWAIT_SERVICE_ORDER:
                continue
            for reference in task.result.get("watching", []):
                found = self.service_ordering.orders.repository.get(reference["id"], {"state": 1, "errorMessage": 1})
                state = None if found is None else found.body.get("state")
                if state == "completed":
                    changed.append(task.moved(TaskState.DONE, stamp))
                elif state in FINAL_SERVICE_ORDER_STATES or found is None:
                    changed.append(task.moved(TaskState.FAILED, stamp, error=_service_order_failure(reference, found)))
                elif task.deadline is not None and task.deadline < stamp:
                    error = f"serviceOrder {reference['id']} had no outcome by its deadline {task.deadline}"
                    changed.append(task.moved(TaskState.FAILED, stamp, error=error))
        observed = plan.with_tasks(changed)
        for task in changed:
            name = "serviceOrderCompleted" if task.state == TaskState.DONE else "serviceOrderFailed"
            observed = observed.marked(name, stamp, task.error or task.id)
        return observed

    # -- cancellation ------------------------------------------------------------------------------------------

    def _begin_cancellation(self, plan: Plan, order: StoredResource, now: datetime) -> Plan:
        stamp = format_instant(now)
        cancels = [
            Task(
                id=task_id(TaskKind.CANCEL_SERVICE_ORDER, str(wait.payload.get("group", wait.id)), wait.generation),
                kind=TaskKind.CANCEL_SERVICE_ORDER,
                order_items=wait.order_items,
                created_at=stamp,
                payload={"serviceOrders": wait.result.get("watching", [])},
            )
            for wait in plan.tasks_in(TaskState.RUNNING)
            if wait.kind == TaskKind.AWAIT_SERVICE_ORDER
        ]
        memory = order.internal.get(CANCELLATION) or {}
        dropped = drop_open_tasks(plan, stamp)
        cancelling = replace(
            dropped,
            tasks=(*dropped.tasks, *cancels),
            cancellation_id=memory.get("taskId"),
        ).moved(PlanState.CANCELLING, stamp)
        return cancelling.marked("cancellationStarted", stamp, f"{len(cancels)} service orders to cancel")

    def _cancel_step(self, known: _Known, stored: StoredPlan, now: datetime) -> bool:
        plan = stored.plan
        stamp = format_instant(now)
        for task in plan.tasks_in(TaskState.PLANNED):
            if task.kind == TaskKind.CANCEL_SERVICE_ORDER:
                return self._save(known, stored, plan.with_task(self._cancel_service_orders(plan, task, stamp)), now)
        observed = self._observe(plan, now)
        # A cancelled service order ends its wait as cancelled, not failed: that is what was asked for.
        observed = observed.with_tasks(
            [
                replace(task, state=TaskState.CANCELLED, error=None)
                for task in observed.tasks_in(TaskState.FAILED)
                if task.kind == TaskKind.AWAIT_SERVICE_ORDER and "is cancelled" in (task.error or "")
            ]
        )
        if observed != plan:
            return self._save(known, stored, observed, now)
        open_states = (TaskState.PLANNED, TaskState.RUNNING, TaskState.WAITING_RETRY)
        if not plan.tasks_in(*open_states):
            return self._save(
                known, stored, plan.moved(PlanState.CANCELLED, stamp).marked("cancelled", stamp, "done"), now
            )
        return False

    def _cancel_service_orders(self, plan: Plan, task: Task, stamp: str) -> Task:
        flow = self.service_ordering.cancellation_flow
        outcomes: list[str] = []
        for reference in task.payload.get("serviceOrders", []):
            request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{plan.id}/{task.id}/{reference['id']}"))
            body: dict[str, Any] = {
                "serviceOrder": {"id": reference["id"], "href": reference.get("href")},
                "cancellationReason": "The product order was cancelled",
            }
            with contextlib.suppress(Conflict):  # created before a crash: carry on with it
                flow.tasks.create(body, RequestContext(base_url=_base_of(reference.get("href"))), request_id)
            result = flow.run(request_id).body
            outcomes.append(f"{reference['id']}: {result.get('state')}")
        running = task.moved(TaskState.RUNNING, stamp, attempts=task.attempts + 1)
        return running.moved(TaskState.DONE, stamp, result={"cancellations": outcomes})

    def _finish_cancellation(self, known: _Known, order: StoredResource) -> bool:
        if order.body.get("state") != "pendingCancellation":
            return False
        memory = order.internal.get(CANCELLATION) or {}
        if memory.get("taskId"):
            self.product_ordering.cancellation_flow.run(str(memory["taskId"]))
            known.forget()  # the flow wrote the order
            return True
        return False

    # -- the product order follows the plan --------------------------------------------------------------------

    def _sync_order(self, known: _Known, order: StoredResource, plan: Plan, now: datetime) -> bool:
        orders = self.product_ordering.orders
        lifecycle = self.product_ordering.rules.order_lifecycle
        rules = self.product_ordering.rules

        decided_on = order.body.get("state")

        def change(current: StoredResource, stamp: str) -> dict[str, Any] | None:
            state = str(current.body.get("state"))
            if state != decided_on:
                return None  # moved meanwhile (an operator's resume, a cancellation): the next step decides again
            if lifecycle.is_terminal(lifecycle.parse(state)) or state in CANCELLATION_STATES:
                return None
            after = copy.deepcopy(current.body)
            _apply_plan_to_items(after, plan, rules)
            target = _order_state_for(plan, state, after, rules)
            if target is not None and target != state:
                after["state"] = target
                if lifecycle.is_terminal(lifecycle.parse(target)):
                    after["completionDate"] = stamp
            if plan.state in (PlanState.HELD, PlanState.REJECTED) and plan.reason and target == after["state"]:
                notes = after.setdefault("note", [])
                text = f"{'Held' if plan.state == PlanState.HELD else 'Rejected'}: {plan.reason}"
                if not any(note.get("text") == text for note in notes):
                    notes.append({"author": NOTE_AUTHOR, "date": stamp, "text": text, "@type": "Note"})
            return after

        def information_required(before: dict[str, Any], after: dict[str, Any], stamp: str) -> list[RecordedEvent]:
            if after.get("state") == "held" and before.get("state") != "held":
                return [new_event("ProductOrderInformationRequiredEvent", "productOrder", after, stamp, "note")]
            return []

        written = orders.update(str(order.body["id"]), change, extra_events=information_required)
        known.remember_order(written)
        return written.revision != order.revision


class _Known:
    """The order and plan as one advance last wrote them, valid for the next step only."""

    def __init__(self) -> None:
        self.order: StoredResource | None = None
        self.plan: StoredPlan | None = None
        self.order_is_known = False
        self.plan_is_known = False

    def forget(self) -> None:
        self.order_is_known = self.plan_is_known = False

    def remember_order(self, order: StoredResource | None) -> None:
        self.order, self.order_is_known = order, True

    def remember_plan(self, plan: StoredPlan | None) -> None:
        self.plan, self.plan_is_known = plan, True


def _apply_plan_to_items(order: dict[str, Any], plan: Plan, rules: Any) -> None:
    """Item states from the plan (where the item lifecycle allows the move), and the service orders realising each."""
    lifecycle = rules.item_lifecycle
    wanted = item_states(plan)
    if plan.state == PlanState.REJECTED:
        wanted = {item_id: "rejected" for item_id in rules.shape.items_by_id(order)}
    realising: dict[str, list[dict[str, Any]]] = {}
    for created in plan.service_orders():
        task = plan.task(created["taskId"])
        for item_id in task.order_items:
            realising.setdefault(item_id, []).append(
                {"id": created["id"], "href": created.get("href"), "@referredType": "ServiceOrder"}
            )
    for item_id, item in rules.shape.items_by_id(order).items():
        target = wanted.get(item_id)
        current = lifecycle.parse(str(item.get("state")))
        if target is not None and lifecycle.can(current, lifecycle.parse(target)):
            item["state"] = target
        elif target == "completed" and lifecycle.can(current, lifecycle.parse("inProgress")):
            item["state"] = "inProgress"  # one move per write; the next sync completes it
        if item_id in realising:
            # An extension attribute: TMF622 v4 has no place for the service orders that realise an item.
            item["serviceOrder"] = [{k: v for k, v in ref.items() if v is not None} for ref in realising[item_id]]


def _order_state_for(plan: Plan, current: str, order: dict[str, Any], rules: Any) -> str | None:
    lifecycle = rules.order_lifecycle
    if plan.state == PlanState.HELD:
        target = "held"
    elif plan.state == PlanState.REJECTED:
        target = "rejected"
    else:
        counted = [item for _, item in rules.shape.walk(order) if item.get("action") != "noChange"]
        states = [rules.item_lifecycle.parse(str(item.get("state"))) for item in counted]
        steps = rules.roll_up_steps(states, lifecycle.parse(current)) if states else ()
        return str(steps[0]) if steps else None
    if lifecycle.can(lifecycle.parse(current), lifecycle.parse(target)):
        return target
    return "inProgress" if lifecycle.can(lifecycle.parse(current), lifecycle.parse("inProgress")) else None


def _order_held_recorded(plan: Plan) -> bool:
    """Whether the engine saw the order held since the plan was last held."""
    names = [milestone.name for milestone in plan.milestones]
    last_held = max((i for i, name in enumerate(names) if name == "held"), default=-1)
    return ORDER_HELD in names[last_held + 1 :]


def _service_order_failure(reference: dict[str, Any], found: StoredResource | None) -> str:
    if found is None:
        return f"serviceOrder {reference['id']} no longer exists"
    messages = found.body.get("errorMessage") or []
    if isinstance(messages, dict):
        messages = [messages]
    detail = "; ".join(
        str(m.get("message") or m.get("reason") or m.get("code")) for m in messages if isinstance(m, dict)
    )
    state = found.body.get("state")
    return f"serviceOrder {reference['id']} is {state}" + (f": {detail}" if detail else "")


def _base_of(href: str | None) -> str:
    parts = urlsplit(href or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def _timer_signal(plan_id: str, at: datetime) -> str:
    return f"{plan_id}|timer|{format_instant(at)}"


def _next_timer(plan: Plan) -> datetime | None:
    """When the plan needs a look without any event: a retry falling due, or a wait's deadline."""
    moments = [
        parse_instant(task.next_attempt_at)
        for task in plan.tasks_in(TaskState.WAITING_RETRY)
        if task.next_attempt_at is not None
    ] + [parse_instant(task.deadline) for task in plan.tasks_in(TaskState.RUNNING) if task.deadline is not None]
    return min(moments) if moments else None
