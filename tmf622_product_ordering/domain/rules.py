"""How a productOrder behaves: its shape, lifecycles, roll-up and patch rules gathered for the shared order policy."""

from __future__ import annotations

from typing import Any

from tmf622_product_ordering.domain.patch_rules import (
    ITEM_READ_ONLY_ON_CREATE,
    PRODUCT_ORDER_PATCH_POLICY,
    READ_ONLY_ON_CREATE,
)
from tmf622_product_ordering.domain.rollup import roll_up_order_state, roll_up_steps
from tmf622_product_ordering.domain.states import (
    PRODUCT_ORDER_ITEM_LIFECYCLE,
    PRODUCT_ORDER_LIFECYCLE,
)
from tmf_common.cancellation import TaskStates
from tmf_common.ordering import OrderRules, OrderShape
from tmf_common.resource_service import ResourceType

BASE_PATH = "/tmf-api/productOrderingManagement/v4"


def _relationship_target(relationship: dict[str, Any]) -> str | None:
    target = relationship.get("id")
    return None if target is None else str(target)


PRODUCT_ORDER_SHAPE = OrderShape(
    resource_key="productOrder",
    item_key="productOrderItem",
    relationship_key="productOrderItemRelationship",
    relationship_target=_relationship_target,
)

PRODUCT_ORDER = ResourceType(
    "productOrder",
    "ProductOrder",
    BASE_PATH,
    read_only=frozenset({"id", "href", "orderDate", "completionDate"}),
    state_attribute="state",
    event_types=frozenset({"Create", "AttributeValueChange", "StateChange", "Delete"}),
)
CANCEL_PRODUCT_ORDER = ResourceType(
    "cancelProductOrder",
    "CancelProductOrder",
    BASE_PATH,
    read_only=frozenset({"id", "href", "state", "effectiveCancellationDate", "errorMessage"}),
    state_attribute="state",
    event_types=frozenset({"Create", "StateChange"}),
)

PRODUCT_ORDER_RULES = OrderRules(
    shape=PRODUCT_ORDER_SHAPE,
    type_name="ProductOrder",
    order_lifecycle=PRODUCT_ORDER_LIFECYCLE,
    item_lifecycle=PRODUCT_ORDER_ITEM_LIFECYCLE,
    roll_up_state=roll_up_order_state,
    roll_up_steps=roll_up_steps,
    patch_policy=PRODUCT_ORDER_PATCH_POLICY,
    read_only_on_create=READ_ONLY_ON_CREATE,
    item_read_only_on_create=ITEM_READ_ONLY_ON_CREATE,
)

CANCEL_TASK_STATES = TaskStates(initial="acknowledged")
