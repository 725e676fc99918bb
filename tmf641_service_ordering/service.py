"""Service ordering: order creation, lifecycle-checked OSS progress and cancellation requests, as the shared
ordering service configured with TMF641's resources and rules."""

from __future__ import annotations

from tmf641_service_ordering.domain.rules import (
    CANCEL_SERVICE_ORDER,
    CANCEL_TASK_STATES,
    SERVICE_ORDER,
    SERVICE_ORDER_RULES,
)
from tmf641_service_ordering.repository import CANCEL_SERVICE_ORDERS, SERVICE_ORDERS
from tmf_common.ordering_service import OrderingApi

SERVICE_ORDERING = OrderingApi(
    order_type=SERVICE_ORDER,
    order_collection=SERVICE_ORDERS,
    rules=SERVICE_ORDER_RULES,
    task_type=CANCEL_SERVICE_ORDER,
    task_collection=CANCEL_SERVICE_ORDERS,
    task_states=CANCEL_TASK_STATES,
)
