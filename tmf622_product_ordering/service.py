"""Product ordering use cases: idempotent order creation, lifecycle-checked changes, cancellation requests."""

from __future__ import annotations

from pymongo.database import Database

from tmf622_product_ordering.domain.rules import (
    CANCEL_PRODUCT_ORDER,
    CANCEL_TASK_STATES,
    PRODUCT_ORDER,
    PRODUCT_ORDER_RULES,
)
from tmf622_product_ordering.repository import CANCEL_PRODUCT_ORDERS, PRODUCT_ORDERS
from tmf_common.cancellation import CancellationDecider, accept_unless_started
from tmf_common.ordering_service import OrderingService
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import WriteGuard


def product_ordering_service(
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
        order_type=PRODUCT_ORDER,
        order_collection=PRODUCT_ORDERS,
        rules=PRODUCT_ORDER_RULES,
        task_type=CANCEL_PRODUCT_ORDER,
        task_collection=CANCEL_PRODUCT_ORDERS,
        task_states=CANCEL_TASK_STATES,
        decide_cancellation=decide_cancellation,
    )
