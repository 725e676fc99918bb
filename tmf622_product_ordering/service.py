"""Product ordering: idempotent order creation, lifecycle-checked changes and cancellation requests, as the
shared ordering service configured with TMF622's resources and rules."""

from __future__ import annotations

from tmf622_product_ordering.domain.rules import (
    CANCEL_PRODUCT_ORDER,
    CANCEL_TASK_STATES,
    PRODUCT_ORDER,
    PRODUCT_ORDER_RULES,
)
from tmf622_product_ordering.repository import CANCEL_PRODUCT_ORDERS, PRODUCT_ORDERS
from tmf_common.ordering_service import OrderingApi

PRODUCT_ORDERING = OrderingApi(
    order_type=PRODUCT_ORDER,
    order_collection=PRODUCT_ORDERS,
    rules=PRODUCT_ORDER_RULES,
    task_type=CANCEL_PRODUCT_ORDER,
    task_collection=CANCEL_PRODUCT_ORDERS,
    task_states=CANCEL_TASK_STATES,
)
