"""Service ordering use cases: order creation, lifecycle-checked changes, cancellation requests."""

from __future__ import annotations

from pymongo.database import Database

from tmf641_service_ordering.domain.rules import (
    CANCEL_SERVICE_ORDER,
    CANCEL_TASK_STATES,
    SERVICE_ORDER,
    SERVICE_ORDER_RULES,
)
from tmf641_service_ordering.repository import CANCEL_SERVICE_ORDERS, SERVICE_ORDERS
from tmf_common.cancellation import CancellationDecider, accept_unless_started
from tmf_common.ordering_service import OrderingService
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import WriteGuard


def service_ordering_service(
    database: Database,
    validators: SchemaValidators,
    settings: Settings,
    guard: WriteGuard,
    decide_cancellation: CancellationDecider = accept_unless_started,
) -> OrderingService:
    return OrderingService(
        database=database,
        validators=validators,
        settings=settings,
        guard=guard,
        order_type=SERVICE_ORDER,
        order_collection=SERVICE_ORDERS,
        rules=SERVICE_ORDER_RULES,
        task_type=CANCEL_SERVICE_ORDER,
        task_collection=CANCEL_SERVICE_ORDERS,
        task_states=CANCEL_TASK_STATES,
        decide_cancellation=decide_cancellation,
    )
