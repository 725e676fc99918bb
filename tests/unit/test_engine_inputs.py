"""Which relayed events wake the engine for which product order."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration.engine import PRODUCT_ORDERING_API, SERVICE_ORDERING_API, FulfilmentEngine


def _service_order_event(state: str, references: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "eventId": "e1",
        "eventType": "ServiceOrderStateChangeEvent",
        "event": {"serviceOrder": {"id": "so-1", "state": state, "externalReference": references}},
    }


PRODUCT_ORDER_REFERENCE = [{"externalReferenceType": "ProductOrder", "id": "po-1"}]


@pytest.mark.parametrize("state", ["completed", "failed", "partial", "cancelled", "rejected"])
def test_a_service_order_outcome_wakes_its_product_order(state: str) -> None:
    event = _service_order_event(state, PRODUCT_ORDER_REFERENCE)
    assert FulfilmentEngine._order_of_event(SERVICE_ORDERING_API, event) == "po-1"


@pytest.mark.parametrize("state", ["acknowledged", "inProgress", "held", "pending", "assessingCancellation"])
def test_a_service_order_still_under_way_wakes_nothing(state: str) -> None:
    event = _service_order_event(state, PRODUCT_ORDER_REFERENCE)
    assert FulfilmentEngine._order_of_event(SERVICE_ORDERING_API, event) is None


def test_a_service_order_of_no_product_order_wakes_nothing() -> None:
    event = _service_order_event("completed", [{"externalReferenceType": "CRM", "id": "x"}])
    assert FulfilmentEngine._order_of_event(SERVICE_ORDERING_API, event) is None


@pytest.mark.parametrize(
    ("event_type", "state", "wakes"),
    [
        ("ProductOrderCreateEvent", "acknowledged", True),
        ("ProductOrderStateChangeEvent", "inProgress", True),  # an operator's resume by PATCH from held
        ("ProductOrderStateChangeEvent", "pendingCancellation", True),
        ("ProductOrderStateChangeEvent", "completed", False),
        ("ProductOrderAttributeValueChangeEvent", "inProgress", False),
    ],
)
def test_product_order_events_that_wake_the_engine(event_type: str, state: str, wakes: bool) -> None:
    event = {"eventId": "e2", "eventType": event_type, "event": {"productOrder": {"id": "po-2", "state": state}}}
    assert FulfilmentEngine._order_of_event(PRODUCT_ORDERING_API, event) == ("po-2" if wakes else None)
