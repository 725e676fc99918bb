"""TMF641 serviceOrder through HTTP against the real database: create, retrieve, list, filters and bad input.

The helpers at the top are shared by the other tests/api/test_service_ordering_*.py modules.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests import support

SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
ORDERS = "service_order"
TASKS = "cancel_service_order"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
SPECS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "tmf-specs"
TMF641_SWAGGER = SPECS / "TMF641-ServiceOrdering-v4.1.0.swagger.json"
TIMEOUT = 10

_SWAGGER_URI = "urn:tmf641:v4.1.0:swagger"
_REGISTRY: Registry = Registry().with_resource(
    _SWAGGER_URI, Resource.from_contents(json.loads(TMF641_SWAGGER.read_text()), default_specification=DRAFT4)
)


@pytest.fixture
def service_ordering_url(server, database) -> str:
    return server.url + SERVICE_ORDERING


# ---------------------------------------------------------------------------------------------------------------
# Shared helpers


def official_errors(definition: str, body: Any) -> list[str]:
    """Violations of the official TMF641 v4.1.0 definition, as 'path: message', sorted (empty when valid)."""
    validator = Draft4Validator(
        {"$ref": f"{_SWAGGER_URI}#/definitions/{definition}"},
        registry=_REGISTRY,
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(body)
    )


def sim_item(item_id: str, action: str = "add", spec: str = "mobile-sim-cfs", **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "action": action,
        "service": {"serviceSpecification": {"id": spec, "name": "Mobile SIM CFS"}, "serviceType": "mobile"},
        **extra,
    }


def order_body(*item_ids: str, **extra: Any) -> dict[str, Any]:
    return {"serviceOrderItem": [sim_item(item_id) for item_id in item_ids or ("1",)], **extra}


def create_order(http: requests.Session, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = http.post(f"{url}/serviceOrder", json=body or order_body("1"), timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def get_order(http: requests.Session, url: str, order_id: str) -> dict[str, Any]:
    response = http.get(f"{url}/serviceOrder/{order_id}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def patch_order(
    http: requests.Session,
    url: str,
    order_id: str,
    patch: Any,
    *,
    content_type: str = "application/json",
    if_match: str | None = None,
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if if_match is not None:
        headers["If-Match"] = if_match
    return http.patch(f"{url}/serviceOrder/{order_id}", data=json.dumps(patch), headers=headers, timeout=TIMEOUT)


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def with_items(
    order: dict[str, Any], states: dict[str, str], services: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The order's serviceOrderItem array with the given item states (and services) changed, as an OSS sends it."""
    items = copy.deepcopy(order["serviceOrderItem"])
    for item in items:
        if item["id"] in states:
            item["state"] = states[item["id"]]
        if services and item["id"] in services:
            item["service"] = services[item["id"]]
    return {"serviceOrderItem": items}


def item_state_ops(order: dict[str, Any], states: dict[str, str]) -> list[dict[str, Any]]:
    """JSON Patch operations that set the state of the given top-level items, addressed by position."""
    positions = {item["id"]: index for index, item in enumerate(order["serviceOrderItem"])}
    return [
        {"op": "replace", "path": f"/serviceOrderItem/{positions[item_id]}/state", "value": state}
        for item_id, state in states.items()
    ]


def move_items(http: requests.Session, url: str, order_id: str, states: dict[str, str]) -> dict[str, Any]:
    order = get_order(http, url, order_id)
    return ok(patch_order(http, url, order_id, item_state_ops(order, states), content_type=JSON_PATCH))


def order_in_state(
    http: requests.Session, url: str, state: str, item_ids: tuple[str, ...] = ("1", "2")
) -> dict[str, Any]:
    """A new order driven through the API alone to the given state."""
    order = create_order(http, url, order_body(*item_ids))
    order_id = order["id"]
    if state == "acknowledged":
        return order
    if state in ("rejected", "cancelled"):
        return ok(patch_order(http, url, order_id, {"state": state}))
    order = move_items(http, url, order_id, dict.fromkeys(item_ids, "inProgress"))
    if state == "inProgress":
        return order
    if state in ("held", "pending"):
        return ok(patch_order(http, url, order_id, {"state": state}))
    outcome = {
        "completed": dict.fromkeys(item_ids, "completed"),
        "failed": dict.fromkeys(item_ids, "failed"),
        "partial": {item_ids[0]: "completed", **dict.fromkeys(item_ids[1:], "failed")},
    }[state]
    order = move_items(http, url, order_id, outcome)
    assert order["state"] == state
    return order


def stored(database: Any, order_id: str, collection: str = ORDERS) -> dict[str, Any]:
    document: dict[str, Any] | None = database[collection].find_one({"_id": order_id})
    assert document is not None
    return document


def recorded_events(database: Any, resource_id: str, collection: str = ORDERS) -> list[tuple[str, Any, Any]]:
    """(eventType, state of the resource in the event, fieldPath) of every event in the document's outbox."""
    return [
        (event["eventType"], event["resource"].get("state"), event.get("fieldPath"))
        for event in stored(database, resource_id, collection)["_events"]
    ]


def assert_tmf_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    body = support.assert_tmf_error(response, status, code)
    assert official_errors("Error", body) == []
    return body


def document_counts(database) -> tuple[int, int]:
    return database[ORDERS].count_documents({}), database[TASKS].count_documents({})


# ---------------------------------------------------------------------------------------------------------------
# Create and retrieve


def test_created_order_is_acknowledged_with_server_fields_and_location(service_ordering_url, http, database):
    body = {
        "externalId": "BSS-SO-1001",
        "category": "mobile",
        "description": "Network provisioning for John Doe's Premium Family Plan",
        "requestedStartDate": "2025-03-01T09:00:00Z",
        "requestedCompletionDate": "2025-03-02T18:00:00+02:00",
        "notificationContact": "oss-notify@example.com",
        "relatedParty": [{"id": "cust-42", "role": "customer", "@referredType": "Individual", "@type": "RelatedParty"}],
        "externalReference": [{"id": "PO-77", "name": "productOrder", "externalReferenceType": "productOrder"}],
        "orderRelationship": [{"id": "so-parent", "relationshipType": "dependsOn", "@referredType": "ServiceOrder"}],
        "note": [{"text": "Primary SIM first"}],
        "serviceOrderItem": [
            sim_item("1"),
            sim_item(
                "2",
                serviceOrderItemRelationship=[{"relationshipType": "dependsOn", "orderItem": {"itemId": "1"}}],
            ),
        ],
    }
    response = http.post(f"{service_ordering_url}/serviceOrder", json=body, timeout=TIMEOUT)

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == created["href"]
    assert created["href"] == f"{service_ordering_url}/serviceOrder/{created['id']}"
    assert response.headers["ETag"]
    assert created["state"] == "acknowledged"
    assert [item["state"] for item in created["serviceOrderItem"]] == ["acknowledged", "acknowledged"]
    assert created["orderDate"].endswith("Z")
    assert created["priority"] == "4"
    assert created["@type"] == "ServiceOrder"
    assert "startDate" not in created and "completionDate" not in created
    for attribute in ("externalId", "category", "description", "notificationContact", "note"):
        assert created[attribute] == body[attribute]
    for attribute in ("relatedParty", "externalReference", "orderRelationship"):
        assert created[attribute] == body[attribute]
    assert created["requestedStartDate"] == "2025-03-01T09:00:00.000Z"
    assert created["requestedCompletionDate"] == "2025-03-02T16:00:00.000Z"
    assert created["serviceOrderItem"][1]["serviceOrderItemRelationship"] == [
        {"relationshipType": "dependsOn", "orderItem": {"itemId": "1"}}
    ]
    assert get_order(http, service_ordering_url, created["id"]) == created
    assert recorded_events(database, created["id"]) == [("ServiceOrderCreateEvent", "acknowledged", None)]


def test_given_priority_is_kept(service_ordering_url, http):
    assert create_order(http, service_ordering_url, order_body("1", priority="1"))["priority"] == "1"


def test_nested_items_are_acknowledged_and_may_relate_across_levels(service_ordering_url, http):
    body = {
        "serviceOrderItem": [
            sim_item(
                "bundle",
                serviceOrderItem=[
                    sim_item("sim-1"),
                    sim_item(
                        "sim-2",
                        serviceOrderItemRelationship=[
                            {"relationshipType": "dependsOn", "orderItem": {"itemId": "sim-1"}},
                            {"relationshipType": "dependsOn", "orderItem": {"itemId": "bundle"}},
                        ],
                    ),
                ],
            )
        ]
    }
    created = create_order(http, service_ordering_url, body)
    bundle = created["serviceOrderItem"][0]
    assert bundle["state"] == "acknowledged"
    assert [item["state"] for item in bundle["serviceOrderItem"]] == ["acknowledged", "acknowledged"]


def test_relationship_to_an_item_of_another_order_is_not_checked_here(service_ordering_url, http):
    relationship = {"relationshipType": "dependsOn", "orderItem": {"itemId": "9", "serviceOrderId": "other-order"}}
    created = create_order(
        http, service_ordering_url, {"serviceOrderItem": [sim_item("1", serviceOrderItemRelationship=[relationship])]}
    )
    assert created["serviceOrderItem"][0]["serviceOrderItemRelationship"] == [relationship]


def test_item_may_modify_an_existing_service_by_reference(service_ordering_url, http):
    item = {"id": "1", "action": "modify", "service": {"id": "svc-7", "href": "https://inventory/service/svc-7"}}
    created = create_order(http, service_ordering_url, {"serviceOrderItem": [item]})
    assert created["serviceOrderItem"][0]["service"] == item["service"]


def test_retrieve_with_fields_and_unknown_id(service_ordering_url, http):
    created = create_order(http, service_ordering_url)
    response = http.get(
        f"{service_ordering_url}/serviceOrder/{created['id']}", params={"fields": "state,priority"}, timeout=TIMEOUT
    )
    assert ok(response) == {"id": created["id"], "href": created["href"], "state": "acknowledged", "priority": "4"}
    missing = http.get(f"{service_ordering_url}/serviceOrder/no-such-order", timeout=TIMEOUT)
    assert_tmf_error(missing, 404)


def test_idempotency_key_replays_the_same_order(service_ordering_url, http, database):
    headers = {"Idempotency-Key": "engine-task-17"}
    first = http.post(f"{service_ordering_url}/serviceOrder", json=order_body("1"), headers=headers, timeout=TIMEOUT)
    again = http.post(f"{service_ordering_url}/serviceOrder", json=order_body("1"), headers=headers, timeout=TIMEOUT)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = http.post(f"{service_ordering_url}/serviceOrder", json=order_body("2"), headers=headers, timeout=TIMEOUT)
    assert_tmf_error(other, 409, "IDEMPOTENCY_KEY_REUSED")
    assert database[ORDERS].count_documents({}) == 1


# ---------------------------------------------------------------------------------------------------------------
# Bad input: a TMF Error and nothing stored

_ITEM_WITHOUT_SERVICE = {"id": "1", "action": "add"}
_DANGLING = [{"relationshipType": "dependsOn", "orderItem": {"itemId": "missing"}}]

BAD_CREATES: dict[str, dict[str, Any]] = {
    "missing serviceOrderItem": {"externalId": "X"},
    "empty serviceOrderItem": {"serviceOrderItem": []},
    "serviceOrderItem not an array": {"serviceOrderItem": sim_item("1")},
    "item without service": {"serviceOrderItem": [_ITEM_WITHOUT_SERVICE]},
    "item without id": {"serviceOrderItem": [{"action": "add", "service": {}}]},
    "item without action": {"serviceOrderItem": [{"id": "1", "service": {}}]},
    "serviceSpecification without id": {
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"serviceSpecification": {"name": "SIM"}}}]
    },
    "nested item without service": {"serviceOrderItem": [sim_item("1", serviceOrderItem=[_ITEM_WITHOUT_SERVICE])]},
    "duplicate item ids": {"serviceOrderItem": [sim_item("1"), sim_item("1")]},
    "duplicate nested item id": {"serviceOrderItem": [sim_item("1", serviceOrderItem=[sim_item("1")])]},
    "relationship to a missing item": {"serviceOrderItem": [sim_item("1", serviceOrderItemRelationship=_DANGLING)]},
    "nested relationship to a missing item": {
        "serviceOrderItem": [sim_item("1", serviceOrderItem=[sim_item("2", serviceOrderItemRelationship=_DANGLING)])]
    },
    "unknown action": {"serviceOrderItem": [sim_item("1", action="upgrade")]},
    "priority as a number": order_body("1", priority=1),
    "externalId as a number": order_body("1", externalId=17),
    "requestedStartDate not a date": order_body("1", requestedStartDate="tomorrow"),
    "relatedParty without id": order_body("1", relatedParty=[{"@referredType": "Individual", "role": "customer"}]),
    "orderRelationship without relationshipType": order_body("1", orderRelationship=[{"id": "so-9"}]),
    "item quantity as a string": {"serviceOrderItem": [sim_item("1", quantity="two")]},
    "unknown service state": {
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"id": "s", "state": "switchedOn"}}]
    },
}

SERVER_SET = {
    "id": "my-id",
    "href": "https://example.com/serviceOrder/1",
    "state": "completed",
    "orderDate": "2025-01-01T00:00:00Z",
    "startDate": "2025-01-01T00:00:00Z",
    "completionDate": "2025-01-01T00:00:00Z",
    "expectedCompletionDate": "2025-01-01T00:00:00Z",
    "errorMessage": [{"code": "E", "reason": "r"}],
    "jeopardyAlert": [{"id": "J1", "name": "late"}],
    "milestone": [{"id": "M1", "name": "done"}],
}


@pytest.mark.parametrize("case", sorted(BAD_CREATES))
def test_bad_create_is_refused_and_nothing_is_stored(service_ordering_url, http, database, case):
    before = document_counts(database)
    response = http.post(f"{service_ordering_url}/serviceOrder", json=BAD_CREATES[case], timeout=TIMEOUT)
    assert_tmf_error(response, 400)
    assert document_counts(database) == before


@pytest.mark.parametrize("attribute", sorted(SERVER_SET))
def test_server_set_order_attribute_is_refused_on_create(service_ordering_url, http, database, attribute):
    before = document_counts(database)
    response = http.post(
        f"{service_ordering_url}/serviceOrder", json=order_body("1", **{attribute: SERVER_SET[attribute]}), timeout=10
    )
    body = assert_tmf_error(response, 400)
    assert attribute in body["message"]
    assert document_counts(database) == before


@pytest.mark.parametrize(
    ("attribute", "value"), [("state", "completed"), ("errorMessage", [{"code": "E1", "reason": "bad"}])]
)
def test_server_set_item_attribute_is_refused_on_create(service_ordering_url, http, database, attribute, value):
    before = document_counts(database)
    nested = {"serviceOrderItem": [sim_item("1", serviceOrderItem=[sim_item("2", **{attribute: value})])]}
    for body in ({"serviceOrderItem": [sim_item("1", **{attribute: value})]}, nested):
        response = http.post(f"{service_ordering_url}/serviceOrder", json=body, timeout=TIMEOUT)
        assert attribute in assert_tmf_error(response, 400)["message"]
    assert document_counts(database) == before


@pytest.mark.parametrize(
    "raw", [b"[]", b'"text"', b"{not json", b'{"serviceOrderItem": [' + b"[" * 40 + b"]" * 40 + b"]}"]
)
def test_body_that_is_not_an_order_object_is_refused(service_ordering_url, http, database, raw):
    before = document_counts(database)
    response = http.post(
        f"{service_ordering_url}/serviceOrder",
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_tmf_error(response, 400)
    assert document_counts(database) == before


# ---------------------------------------------------------------------------------------------------------------
# Listing and filters


def test_oss_lists_acknowledged_orders_oldest_first(service_ordering_url, http):
    created = [create_order(http, service_ordering_url, order_body("1", externalId=f"SO-{n}")) for n in range(4)]
    started = created[1]
    ok(patch_order(http, service_ordering_url, started["id"], {"state": "inProgress"}))
    waiting = [order for order in created if order["id"] != started["id"]]

    response = http.get(
        f"{service_ordering_url}/serviceOrder", params={"state": "acknowledged", "sort": "orderDate"}, timeout=10
    )
    listed = ok_list(response, total=3)
    assert {order["id"] for order in listed} == {order["id"] for order in waiting}
    assert [order["orderDate"] for order in listed] == sorted(order["orderDate"] for order in waiting)
    if len({order["orderDate"] for order in waiting}) == len(waiting):
        # Distinct order dates (the usual case: each create takes milliseconds): exactly creation order.
        assert [order["id"] for order in listed] == [order["id"] for order in waiting]
    newest_first = http.get(
        f"{service_ordering_url}/serviceOrder", params={"state": "acknowledged", "sort": "-orderDate"}, timeout=10
    )
    assert [order["orderDate"] for order in ok_list(newest_first, total=3)] == sorted(
        (order["orderDate"] for order in waiting), reverse=True
    )


def ok_list(response: requests.Response, total: int) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    assert response.headers["X-Total-Count"] == str(total)
    assert response.headers["X-Result-Count"] == str(len(listed))
    return listed


def test_list_paging_keeps_the_total(service_ordering_url, http):
    for n in range(5):
        create_order(http, service_ordering_url, order_body("1", externalId=f"P-{n}"))
    page = http.get(
        f"{service_ordering_url}/serviceOrder", params={"sort": "orderDate", "offset": 1, "limit": 2}, timeout=10
    )
    assert len(ok_list(page, total=5)) == 2


@pytest.fixture
def filter_orders(service_ordering_url, http):
    """Five orders that differ in every filterable attribute; one of them started."""
    parties = [
        [{"id": "cust-1", "@referredType": "Individual", "@type": "RelatedParty"}],
        [{"id": "cust-2", "@referredType": "Individual", "@type": "RelatedParty"}],
    ]
    specs = [
        {"externalId": "A-1", "category": "mobile", "priority": "1", "relatedParty": parties[0]},
        {"externalId": "A-2", "category": "mobile", "priority": "4", "relatedParty": parties[1]},
        {"externalId": "A-3", "category": "fixed", "priority": "1", "relatedParty": parties[0] + parties[1]},
        {"externalId": "A-4", "category": "fixed", "externalReference": [{"id": "PO-9", "name": "productOrder"}]},
        {"externalId": "A-5", "category": "iot"},
    ]
    orders = [create_order(http, service_ordering_url, order_body("1", **spec)) for spec in specs]
    orders[2] = ok(patch_order(http, service_ordering_url, orders[2]["id"], {"state": "inProgress"}))
    return orders


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=acknowledged", ["A-1", "A-2", "A-4", "A-5"]),
        ("state=inProgress", ["A-3"]),
        ("externalId=A-2", ["A-2"]),
        ('externalId="A-2"', ["A-2"]),
        ("category=fixed", ["A-3", "A-4"]),
        ("category=mobile,iot", ["A-1", "A-2", "A-5"]),
        ("category=mobile&category=iot", ["A-1", "A-2", "A-5"]),
        ("priority=1", ["A-1", "A-3"]),
        ("priority=4", ["A-2", "A-4", "A-5"]),
        ("relatedParty.id=cust-1", ["A-1", "A-3"]),
        ("relatedParty.id=cust-2", ["A-2", "A-3"]),
        ("externalReference.id=PO-9", ["A-4"]),
        ("category=fixed&state=acknowledged", ["A-4"]),
        ("relatedParty.id=nobody", []),
    ],
)
def test_attribute_filters(service_ordering_url, http, filter_orders, query, expected):
    """TMF630 filters as a client writes them in the query string (a literal comma is an OR)."""
    response = http.get(f"{service_ordering_url}/serviceOrder?{query}&sort=externalId", timeout=TIMEOUT)
    assert [order["externalId"] for order in ok_list(response, total=len(expected))] == expected


def test_order_date_range_filters(service_ordering_url, http, filter_orders):
    dates = sorted(order["orderDate"] for order in filter_orders)
    low, high = dates[1], dates[3]

    def listed(params: dict[str, str]) -> set[str]:
        response = http.get(f"{service_ordering_url}/serviceOrder", params=params, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return {order["id"] for order in response.json()}

    def expected(keep) -> set[str]:
        return {order["id"] for order in filter_orders if keep(order["orderDate"])}

    assert listed({"orderDate.gte": low, "orderDate.lt": high}) == expected(lambda d: low <= d < high)
    assert listed({"orderDate.gt": low}) == expected(lambda d: d > low)
    assert listed({"orderDate.lte": low}) == expected(lambda d: d <= low)
    assert listed({"orderDate": dates[0]}) == expected(lambda d: d == dates[0])
    today = dates[0][:10]
    assert listed({"orderDate": today}) == expected(lambda d: d.startswith(today))


def test_filtered_attributes_are_indexed(service_ordering_url, database):
    indexed = {tuple(name for name, _ in spec["key"]) for spec in database[ORDERS].index_information().values()}
    for leading in (
        "state",
        "externalId",
        "category",
        "priority",
        "relatedParty.id",
        "orderDate",
        "externalReference.id",
    ):
        assert any(keys[0] == leading for keys in indexed), (leading, indexed)
    assert ("state", "orderDate") in indexed  # the OSS's `state=acknowledged&sort=orderDate` in one index


def test_bad_list_queries_are_tmf_errors(service_ordering_url, http):
    for params in ({"limit": "-1"}, {"offset": "-3"}, {"sort": "$where"}, {"_rev": "1"}, {"fields": "a b"}):
        assert_tmf_error(http.get(f"{service_ordering_url}/serviceOrder", params=params, timeout=TIMEOUT), 400)
