"""How a serviceOrder behaves: its shape, lifecycles, roll-up and patch rules gathered for the shared order policy."""

from __future__ import annotations

from typing import Any

from tmf641_service_ordering.domain.patch_rules import (
    ITEM_READ_ONLY_ON_CREATE,
    READ_ONLY_ON_CREATE,
    SERVICE_ORDER_PATCH_POLICY,
)
from tmf641_service_ordering.domain.rollup import roll_up_order_state, roll_up_steps
from tmf641_service_ordering.domain.states import SERVICE_ORDER_ITEM_LIFECYCLE, SERVICE_ORDER_LIFECYCLE
from tmf_common.cancellation import TaskStates
from tmf_common.ordering import OrderRules, OrderShape
from tmf_common.resource_service import ResourceType

BASE_PATH = "/tmf-api/serviceOrdering/v4"
DEFAULT_PRIORITY = "4"


def _relationship_target(relationship: dict[str, Any]) -> str | None:
    reference = relationship.get("orderItem") or {}
    if reference.get("serviceOrderId") or reference.get("serviceOrderHref"):
        return None  # a line of another service order: not checked against this order's items
    target = reference.get("itemId")
    return None if target is None else str(target)


SERVICE_ORDER_SHAPE = OrderShape(
    resource_key="serviceOrder",
    item_key="serviceOrderItem",
    relationship_key="serviceOrderItemRelationship",
    relationship_target=_relationship_target,
)

SERVICE_ORDER = ResourceType(
    "serviceOrder",
    "ServiceOrder",
    BASE_PATH,
    read_only=frozenset({"id", "href", "orderDate", "startDate", "completionDate"}),
    state_attribute="state",
)
CANCEL_SERVICE_ORDER = ResourceType(
    "cancelServiceOrder",
    "CancelServiceOrder",
    BASE_PATH,
    read_only=frozenset({"id", "href", "state", "effectiveCancellationDate", "errorMessage"}),
    state_attribute="state",
    event_types=frozenset({"Create", "StateChange"}),
)

SERVICE_ORDER_RULES = OrderRules(
    shape=SERVICE_ORDER_SHAPE,
    type_name="ServiceOrder",
    order_lifecycle=SERVICE_ORDER_LIFECYCLE,
    item_lifecycle=SERVICE_ORDER_ITEM_LIFECYCLE,
    roll_up_state=roll_up_order_state,
    roll_up_steps=roll_up_steps,
    patch_policy=SERVICE_ORDER_PATCH_POLICY,
    read_only_on_create=READ_ONLY_ON_CREATE,
    item_read_only_on_create=ITEM_READ_ONLY_ON_CREATE,
    defaults=(("priority", DEFAULT_PRIORITY),),
    start_date_attribute="startDate",
    item_progress_attributes=frozenset({"state", "service", "errorMessage"}),
    related_party_type="RelatedParty",
)

CANCEL_TASK_STATES = TaskStates(initial="accepted")
