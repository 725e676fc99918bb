"""Every serviceOrder and cancelServiceOrder body the API returns validates against the official TMF641 v4.1.0
definitions (reference/tmf-specs/TMF641-ServiceOrdering-v4.1.0.swagger.json), and so do the event envelopes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_service_ordering import (
    SERVICE_ORDERING,
    TASKS,
    TIMEOUT,
    create_order,
    move_items,
    official_errors,
    ok,
    ok_list,
    order_body,
    order_in_state,
    patch_order,
    sim_item,
    stored,
    with_items,
)
from tmf_common.events import RecordedEvent


@pytest.fixture
def service_ordering_url(server, database) -> str:
    return server.url + SERVICE_ORDERING


RICH_ORDER: dict[str, Any] = {
    "externalId": "BSS-SO-2001",
    "category": "mobile",
    "description": "Premium Family Plan: 1 primary and 2 secondary SIMs",
    "priority": "2",
    "notificationContact": "oss-notify@example.com",
    "requestedStartDate": "2025-03-01T09:00:00Z",
    "requestedCompletionDate": "2025-03-03T18:00:00Z",
    "relatedParty": [{"id": "cust-42", "role": "customer", "@referredType": "Individual", "@type": "RelatedParty"}],
    "externalReference": [{"id": "PO-77", "name": "productOrder", "externalReferenceType": "productOrder"}],
    "orderRelationship": [{"id": "so-1", "relationshipType": "dependsOn", "@referredType": "ServiceOrder"}],
    "note": [{"text": "Deliver the primary SIM first", "author": "engine"}],
    "serviceOrderItem": [
        sim_item("1", quantity=1),
        sim_item("2", appointment={"id": "appt-1"}),
        sim_item("3", serviceOrderItem=[sim_item("3.1")]),
    ],
    "@type": "ServiceOrder",
}


def assert_official(definition: str, body: Any) -> None:
    assert official_errors(definition, body) == [], body


def test_official_definitions_catch_bad_bodies():
    """The validator is live: it refuses what the official definitions refuse."""
    assert official_errors("ServiceOrder", {"state": "shipped"}) == [
        "state: 'shipped' is not one of ['acknowledged', 'rejected', 'pending', 'held', 'inProgress', 'cancelled', "
        "'completed', 'failed', 'partial', 'assessingCancellation', 'pendingCancellation']"
    ]
    assert official_errors("ServiceOrder", {"orderDate": "yesterday"}) == [
        "orderDate: 'yesterday' is not a 'date-time'"
    ]
    assert official_errors("ServiceOrder", {"serviceOrderItem": [{"id": "1", "action": "add"}]}) == [
        "serviceOrderItem/0: 'service' is a required property"
    ]
    assert official_errors("CancelServiceOrder", {"state": "cancelled"})


def test_request_bodies_used_here_are_valid_official_create_bodies():
    assert_official("ServiceOrder_Create", RICH_ORDER)
    assert_official("ServiceOrder_Create", order_body("1", "2"))


def test_order_bodies_through_the_whole_oss_flow_are_official(service_ordering_url, http):
    url = service_ordering_url
    response = http.post(f"{url}/serviceOrder", json=RICH_ORDER, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    created = response.json()
    bodies = [created, ok(http.get(f"{url}/serviceOrder/{created['id']}", timeout=TIMEOUT))]
    bodies += ok_list(http.get(f"{url}/serviceOrder", timeout=TIMEOUT), 1)
    bodies += ok_list(http.get(f"{url}/serviceOrder", params={"fields": "state,orderDate"}, timeout=TIMEOUT), 1)

    started = ok(patch_order(http, url, created["id"], {"state": "inProgress"}))
    items_working = with_items(started, {"1": "inProgress", "2": "inProgress", "3": "inProgress"})
    items_working["serviceOrderItem"][2]["serviceOrderItem"][0]["state"] = "inProgress"
    working = ok(
        patch_order(
            http,
            url,
            created["id"],
            {
                **items_working,
                "jeopardyAlert": [
                    {"id": "J1", "name": "stock", "jeopardyType": "Hazard", "alertDate": "2025-03-01T10:00:00Z"}
                ],
                "milestone": [
                    {"id": "M1", "name": "SIMs reserved", "status": "reached", "milestoneDate": "2025-03-01T11:00:00Z"}
                ],
                "errorMessage": [{"code": "W1", "reason": "retrying HLR", "timestamp": "2025-03-01T11:30:00Z"}],
            },
        )
    )
    services = {
        item_id: {
            "id": f"svc-{item_id}",
            "href": f"https://inventory.example.com/service/svc-{item_id}",
            "state": "active",
            "serviceSpecification": {"id": "mobile-sim-cfs"},
            "serviceCharacteristic": [
                {"name": "ICCID", "valueType": "string", "value": f"89440000000000000{item_id}"},
                {"name": "MSISDN", "valueType": "string", "value": f"447700900{item_id}"},
            ],
        }
        for item_id in ("1", "3")
    }
    failed_item = with_items(working, {"1": "completed", "2": "failed", "3": "completed"}, services)
    failed_item["serviceOrderItem"][2]["serviceOrderItem"][0]["state"] = "completed"
    failed_item["serviceOrderItem"][1]["errorMessage"] = [
        {"code": "HLR-17", "reason": "HLR refused the IMSI", "timestamp": "2025-03-01T12:00:00Z"}
    ]
    finished = ok(patch_order(http, url, created["id"], failed_item))
    assert finished["state"] == "partial"
    bodies += [started, working, finished]
    for body in bodies:
        assert_official("ServiceOrder", body)


@pytest.mark.parametrize(
    "state", ["acknowledged", "inProgress", "held", "completed", "failed", "cancelled", "rejected"]
)
def test_order_in_every_reachable_state_is_official(service_ordering_url, http, state):
    order = order_in_state(http, service_ordering_url, state)
    assert_official("ServiceOrder", order)
    assert_official("ServiceOrder", ok(http.get(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=10)))


def test_done_cancellation_task_is_official(service_ordering_url, http):
    order = create_order(http, service_ordering_url)
    response = http.post(
        f"{service_ordering_url}/cancelServiceOrder",
        json={"serviceOrder": {"id": order["id"], "href": order["href"]}, "cancellationReason": "withdrawn"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    assert_official("CancelServiceOrder", response.json())
    cancelled = ok(http.get(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT))
    assert_official("ServiceOrder", cancelled)
    for task in ok_list(http.get(f"{service_ordering_url}/cancelServiceOrder", timeout=TIMEOUT), 1):
        assert_official("CancelServiceOrder", task)


def test_refused_cancellation_task_is_official(service_ordering_url, http):
    order = order_in_state(http, service_ordering_url, "inProgress")
    response = http.post(
        f"{service_ordering_url}/cancelServiceOrder", json={"serviceOrder": {"id": order["id"]}}, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "terminatedWithError"
    assert_official("CancelServiceOrder", task)


def test_event_envelopes_are_official(service_ordering_url, http, database):
    order = order_in_state(http, service_ordering_url, "inProgress")
    move_items(http, service_ordering_url, order["id"], {"1": "completed", "2": "completed"})
    assert http.delete(f"{service_ordering_url}/serviceOrder/{order['id']}", timeout=TIMEOUT).status_code == 204
    other = create_order(http, service_ordering_url)
    task = http.post(
        f"{service_ordering_url}/cancelServiceOrder", json={"serviceOrder": {"id": other["id"]}}, timeout=TIMEOUT
    ).json()

    raw = stored(database, order["id"])["_events"] + stored(database, task["id"], TASKS)["_events"]
    envelopes = [RecordedEvent.from_storage(event).to_envelope() for event in raw]
    seen = set()
    for envelope in envelopes:
        seen.add(envelope["eventType"])
        assert_official(envelope["eventType"], envelope)
    assert seen == {
        "ServiceOrderCreateEvent",
        "ServiceOrderStateChangeEvent",
        "ServiceOrderAttributeValueChangeEvent",
        "ServiceOrderDeleteEvent",
        "CancelServiceOrderCreateEvent",
        "CancelServiceOrderStateChangeEvent",
    }


def test_item_relationships_meet_a_defect_of_the_official_v4_1_definition(service_ordering_url, http):
    """TMF641 v4.1.0's ServiceOrderItemRef says `required: ["id"]` but declares no `id` property (its key is
    `itemId`; v4.0.0 requires `itemId`). Every body with an item relationship is therefore refused by the official
    definition, for that reason alone; the service follows the declared properties and requires itemId."""
    relationship = [{"relationshipType": "dependsOn", "orderItem": {"itemId": "1"}}]
    order = create_order(
        http,
        service_ordering_url,
        {"serviceOrderItem": [sim_item("1"), sim_item("2", serviceOrderItemRelationship=relationship)]},
    )
    assert official_errors("ServiceOrder", order) == [
        "serviceOrderItem/1/serviceOrderItemRelationship/0/orderItem: 'id' is a required property"
    ]


def test_untyped_related_party_is_completed_so_the_order_stays_official(service_ordering_url, http, database):
    """v4.1.0's RelatedParty requires @type besides id and @referredType. The service completes an untyped party
    with "RelatedParty" (docs/ARCHITECTURE.md) instead of refusing it, so every response stays official."""
    body = order_body("1", relatedParty=[{"id": "cust-42", "@referredType": "Individual"}])
    assert official_errors("ServiceOrder_Create", body) == ["relatedParty/0: '@type' is a required property"]
    response = http.post(f"{service_ordering_url}/serviceOrder", json=body, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    expected = [{"@type": "RelatedParty", "id": "cust-42", "@referredType": "Individual"}]
    assert response.json()["relatedParty"] == expected
    assert official_errors("ServiceOrder", response.json()) == []
