"""An ordering API's services: its orders, its cancellation tasks and the flow that joins them."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.database import Database

from tmf_common.cancellation import CancellationDecider, CancellationFlow, TaskPolicy, TaskStates, accept_unless_started
from tmf_common.ordering import OrderPolicy, OrderRules
from tmf_common.repository import ResourceRepository
from tmf_common.resource_service import ResourceService, ResourceType
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import WriteGuard


@dataclass(frozen=True)
class OrderingApi:
    """What makes an ordering API itself: its two resource types, their collections and the order rules."""

    order_type: ResourceType
    order_collection: str
    rules: OrderRules
    task_type: ResourceType
    task_collection: str
    task_states: TaskStates


class OrderingService:
    def __init__(
        self,
        database: Database,
        validators: SchemaValidators,
        settings: Settings,
        guard: WriteGuard,
        api: OrderingApi,
        decide_cancellation: CancellationDecider = accept_unless_started,
    ) -> None:
        self.rules = api.rules
        self.orders = ResourceService(
            api.order_type,
            ResourceRepository(database[api.order_collection], guard),
            validators,
            settings,
            OrderPolicy(api.rules),
        )
        self.cancellations = ResourceService(
            api.task_type,
            ResourceRepository(database[api.task_collection], guard),
            validators,
            settings,
            TaskPolicy(api.task_states),
        )
        self.cancellation_flow = CancellationFlow(
            tasks=self.cancellations,
            orders=self.orders,
            shape=api.rules.shape,
            order_lifecycle=api.rules.order_lifecycle,
            item_lifecycle=api.rules.item_lifecycle,
            task_states=api.task_states,
            decide=decide_cancellation,
        )
