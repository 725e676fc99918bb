"""An ordering API's services: its orders, its cancellation tasks and the flow that joins them."""

from __future__ import annotations

from pymongo.database import Database

from tmf_common.cancellation import CancellationDecider, CancellationFlow, TaskPolicy, TaskStates, accept_unless_started
from tmf_common.ordering import OrderPolicy, OrderRules
from tmf_common.repository import ResourceRepository
from tmf_common.resource_service import ResourceService, ResourceType
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import WriteGuard


class OrderingService:
    def __init__(
        self,
        *,
        database: Database,
        validators: SchemaValidators,
        settings: Settings,
        order_type: ResourceType,
        order_collection: str,
        rules: OrderRules,
        task_type: ResourceType,
        task_collection: str,
        task_states: TaskStates,
        guard: WriteGuard,
        decide_cancellation: CancellationDecider = accept_unless_started,
    ) -> None:
        self.orders = ResourceService(
            order_type, ResourceRepository(database[order_collection], guard), validators, settings, OrderPolicy(rules)
        )
        self.cancellations = ResourceService(
            task_type,
            ResourceRepository(database[task_collection], guard),
            validators,
            settings,
            TaskPolicy(task_states),
        )
        self.cancellation_flow = CancellationFlow(
            tasks=self.cancellations,
            orders=self.orders,
            shape=rules.shape,
            order_lifecycle=rules.order_lifecycle,
            item_lifecycle=rules.item_lifecycle,
            task_states=task_states,
            decide=decide_cancellation,
        )
