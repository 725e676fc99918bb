"""TMF622 productOrder through real HTTP and the real database: create, retrieve, list, filters, idempotent create,
the full portal payload, and conformance of every response with the official TMF622 v4.0.0 definitions.

The helpers at the top are shared by the other test_product_ordering_*.py modules."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.payloads import (
    BUNDLE_ITEM_ID,
    JOHN_DOE_ID,
    POSTPAID_MOBILE_OFFERING,
    PREMIUM_FAMILY_PLAN_OFFERING,
    SIM_ITEM_IDS,
    family_plan_order,
    sim_item,
)
from tests.support import assert_tmf_error, parse_instant
from tmf622_product_ordering.domain.states import PRODUCT_ORDER_LIFECYCLE, ProductOrderState

TIMEOUT = 10
BASE_PATH = "/tmf-api/productOrderingManagement/v4"
ORDERS = "product_order"
CANCELLATIONS = "cancel_product_order"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
OFFICIAL_SPEC = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "tmf-specs"
    / "TMF622-ProductOrder-v4.0.0.swagger.json"
)


@pytest.fixture
def product_ordering_url(server, database) -> str:  # type: ignore[no-untyped-def]
    return server.url + BASE_PATH


# ----------------------------------------------------------------------------------------------- shared helpers


@functools.cache
def official_validator(definition: str) -> Draft4Validator:
    """A validator for `#/definitions/<definition>` of the official swagger, its `$ref`s resolved in that document."""
    spec = json.loads(OFFICIAL_SPEC.read_text(encoding="utf-8"))
    uri = OFFICIAL_SPEC.as_uri()
    registry: Registry = Registry().with_resource(uri, DRAFT4.create_resource(spec))
    return Draft4Validator(
        {"$ref": f"{uri}#/definitions/{definition}"},
        registry=registry,
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )


def assert_conforms(definition: str, body: Any) -> None:
    errors = sorted(official_validator(definition).iter_errors(body), key=lambda error: list(error.absolute_path))
    assert not errors, f"Response is not a valid official {definition}:\n" + "\n".join(
        f"  {'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}" for error in errors
    )


def post_order(http: requests.Session, url: str, body: Any, **headers: str) -> requests.Response:
    return http.post(
        f"{url}/productOrder",
        data=body if isinstance(body, str | bytes) else json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
        timeout=TIMEOUT,
    )


def create_order(
    http: requests.Session, url: str, body: dict[str, Any] | None = None, **headers: str
) -> dict[str, Any]:
    """POST an order (the family plan by default); asserts 201 and conformance, returns the body."""
    response = post_order(http, url, family_plan_order() if body is None else body, **headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert_conforms("ProductOrder", created)
    return created


def get_order(http: requests.Session, url: str, order_id: str) -> dict[str, Any]:
    response = http.get(f"{url}/productOrder/{order_id}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert_conforms("ProductOrder", body)
    return body


def list_orders(http: requests.Session, url: str, query: str = "") -> list[dict[str, Any]]:
    response = http.get(f"{url}/productOrder{'?' + query if query else ''}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    assert response.headers["X-Result-Count"] == str(len(items))
    assert int(response.headers["X-Total-Count"]) >= len(items)
    for item in items:
        assert_conforms("ProductOrder", item)
    return items


def patch_order(
    http: requests.Session, url: str, order_id: str, body: Any, content_type: str = MERGE_PATCH, **headers: str
) -> requests.Response:
    """PATCH and return the response; a 200 body is checked against the official ProductOrder."""
    response = http.patch(
        f"{url}/productOrder/{order_id}",
        data=body if isinstance(body, str | bytes) else json.dumps(body),
        headers={"Content-Type": content_type, **headers},
        timeout=TIMEOUT,
    )
    if response.status_code == 200:
        assert_conforms("ProductOrder", response.json())
    return response


def patched(
    http: requests.Session, url: str, order_id: str, body: Any, content_type: str = MERGE_PATCH
) -> dict[str, Any]:
    response = patch_order(http, url, order_id, body, content_type)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def item_pointer(order: dict[str, Any], item_id: str) -> str:
    """The JSON pointer of an item (nested ones included) in an order body."""
    pending: list[tuple[str, list[dict[str, Any]]]] = [("/productOrderItem", order["productOrderItem"])]
    while pending:
        prefix, items = pending.pop(0)
        for index, item in enumerate(items):
            if item["id"] == item_id:
                return f"{prefix}/{index}"
            if item.get("productOrderItem"):
                pending.append((f"{prefix}/{index}/productOrderItem", item["productOrderItem"]))
    raise KeyError(item_id)


def item_state_patch(order: dict[str, Any], states: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"op": "replace", "path": f"{item_pointer(order, item_id)}/state", "value": state}
        for item_id, state in states.items()
    ]


def move_items(http: requests.Session, url: str, order: dict[str, Any], states: dict[str, str]) -> dict[str, Any]:
    """Set item states with one JSON patch (the fulfilment side reporting progress); asserts 200."""
    return patched(http, url, order["id"], item_state_patch(order, states), JSON_PATCH)


def all_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending = list(order.get("productOrderItem") or [])
    while pending:
        item = pending.pop(0)
        found.append(item)
        pending.extend(item.get("productOrderItem") or [])
    return found


def item_states(order: dict[str, Any]) -> dict[str, str]:
    return {item["id"]: item["state"] for item in all_items(order)}


def stored_order(database: Any, order_id: str) -> dict[str, Any]:
    document: dict[str, Any] | None = database[ORDERS].find_one({"_id": order_id})
    assert document is not None, f"no stored productOrder {order_id}"
    return document


def stored_events(database: Any, order_id: str, collection: str = ORDERS) -> list[dict[str, Any]]:
    document = database[collection].find_one({"_id": order_id})
    assert document is not None
    events: list[dict[str, Any]] = document["_events"]
    return events


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["eventType"] for event in events]


def state_path(events: list[dict[str, Any]]) -> list[str]:
    """The order states the outbox shows: the created state, then each state change."""
    return [
        event["resource"]["state"]
        for event in events
        if event["eventType"] in ("ProductOrderCreateEvent", "ProductOrderStateChangeEvent")
    ]


def assert_valid_path(states: list[str]) -> None:
    """Every consecutive pair of states is a move the productOrder lifecycle allows."""
    for before, after in itertools.pairwise(states):
        assert PRODUCT_ORDER_LIFECYCLE.can(ProductOrderState(before), ProductOrderState(after)), states


def cancellation_error(task: dict[str, Any]) -> dict[str, Any]:
    """The reason a cancelProductOrder ended terminatedWithError (the `errorMessage` extension).

    TMF622 v4 defines no errorMessage on CancelProductOrder; the project borrows TMF641 v4.1's, one ErrorMessage
    object. A list of them is accepted too, as long as there is exactly one.
    """
    error = task["errorMessage"]
    if isinstance(error, list):
        assert len(error) == 1, error
        error = error[0]
    assert isinstance(error, dict), error
    for attribute in ("code", "reason", "message"):
        assert isinstance(error.get(attribute), str) and error[attribute], error
    return error


def without_server_fields(order: dict[str, Any]) -> dict[str, Any]:
    """An order body without what the server adds (id, href, state, orderDate, item states, ...)."""
    body = copy.deepcopy(order)
    for attribute in ("id", "href", "state", "orderDate", "completionDate", "cancellationDate"):
        body.pop(attribute, None)
    for item in all_items(body):
        item.pop("state", None)
    return body


# ----------------------------------------------------------------------------------------------- create


def test_create_acknowledges_the_order_and_every_item(product_ordering_url, http, database):
    before = datetime.now(UTC)
    response = post_order(http, product_ordering_url, family_plan_order())

    assert response.status_code == 201, response.text
    body = response.json()
    assert_conforms("ProductOrder", body)
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["href"] == f"{product_ordering_url}/productOrder/{body['id']}"
    assert response.headers["Location"] == body["href"]
    assert re.fullmatch(r'(W/)?"[^"]+"', response.headers["ETag"])
    assert body["@type"] == "ProductOrder"
    assert body["state"] == "acknowledged"
    assert item_states(body) == {BUNDLE_ITEM_ID: "acknowledged", **dict.fromkeys(SIM_ITEM_IDS, "acknowledged")}
    ordered = parse_instant(body["orderDate"])
    assert before - timedelta(seconds=1) <= ordered <= datetime.now(UTC) + timedelta(seconds=1)
    assert "completionDate" not in body
    assert "cancellationDate" not in body

    document = stored_order(database, body["id"])
    assert document["state"] == "acknowledged"
    assert database[ORDERS].count_documents({}) == 1


def test_create_keeps_the_full_portal_payload(product_ordering_url, http):
    payload = family_plan_order()
    created = create_order(http, product_ordering_url, payload)
    fetched = get_order(http, product_ordering_url, created["id"])

    assert without_server_fields(created) == payload
    assert fetched == created
    sim = next(item for item in fetched["productOrderItem"] if item["id"] == SIM_ITEM_IDS[0])
    characteristics = {c["name"]: c["value"] for c in sim["product"]["productCharacteristic"]}
    assert characteristics == {
        "simRole": "primary",
        "simFormat": "eSIM",
        "dataAllowanceGB": 100,
        "unlimitedCalls": True,
        "roamingZones": ["EU", "UK", "CH"],
        "numberSelection": {"msisdn": "+15415550101", "portIn": False, "reservedUntil": None},
        "monthlySpendCap": 49.5,
    }
    assert sim["product"]["place"][0]["role"] == "shippingAddress"
    assert sim["productOrderItemRelationship"] == [{"id": BUNDLE_ITEM_ID, "relationshipType": "bundled"}]
    assert fetched["relatedParty"][0]["id"] == JOHN_DOE_ID


def test_create_accepts_nested_items_and_relationships_to_them(product_ordering_url, http):
    bundle = family_plan_order()["productOrderItem"][0]
    bundle["productOrderItem"] = [sim_item("1.1", "primary", "+15415550111"), sim_item("1.2", "secondary", "+1541")]
    addon = {
        "id": "9",
        "action": "add",
        "productOffering": {"id": "po-roaming-pack"},
        "productOrderItemRelationship": [{"id": "1.2", "relationshipType": "reliesOn"}],
    }
    payload = family_plan_order(productOrderItem=[bundle, addon])

    created = create_order(http, product_ordering_url, payload)

    assert item_states(created) == dict.fromkeys(["1", "9", "1.1", "1.2"], "acknowledged")
    assert without_server_fields(created) == payload


def test_minimal_order_with_each_action_is_accepted(product_ordering_url, http):
    items = [
        {"id": str(index), "action": action, "productOffering": {"id": POSTPAID_MOBILE_OFFERING}}
        for index, action in enumerate(["add", "modify", "delete", "noChange"], start=1)
    ]
    created = create_order(http, product_ordering_url, {"productOrderItem": items})

    assert [item["action"] for item in created["productOrderItem"]] == ["add", "modify", "delete", "noChange"]
    assert created["state"] == "acknowledged"
    assert created["@type"] == "ProductOrder"


# ----------------------------------------------------------------------------------------------- retrieve and list


def test_retrieve_unknown_order_is_404(product_ordering_url, http):
    assert_tmf_error(http.get(f"{product_ordering_url}/productOrder/{uuid.uuid4()}", timeout=TIMEOUT), 404)


def test_retrieve_returns_etag_matching_the_revision(product_ordering_url, http, database):
    created = create_order(http, product_ordering_url)
    response = http.get(f"{product_ordering_url}/productOrder/{created['id']}", timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.headers["ETag"].strip('W/"') == str(stored_order(database, created["id"])["_rev"])


def test_retrieve_with_fields_returns_only_those(product_ordering_url, http):
    created = create_order(http, product_ordering_url)
    response = http.get(f"{product_ordering_url}/productOrder/{created['id']}?fields=state,externalId", timeout=TIMEOUT)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": created["id"],
        "href": created["href"],
        "state": "acknowledged",
        "externalId": "PORTAL-2030-000123",
    }


def test_list_returns_every_order_with_counts(product_ordering_url, http):
    ids = [create_order(http, product_ordering_url, family_plan_order(externalId=f"EXT-{n}"))["id"] for n in range(3)]

    listed = list_orders(http, product_ordering_url)
    assert [order["id"] for order in listed] == ids

    response = http.get(f"{product_ordering_url}/productOrder?offset=1&limit=1", timeout=TIMEOUT)
    assert response.status_code == 200
    assert [order["id"] for order in response.json()] == ids[1:2]
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Result-Count"] == "1"


@pytest.fixture
def three_orders(product_ordering_url, http) -> list[dict[str, Any]]:
    """Orders of three customers: one left acknowledged, one in progress, one completed."""
    orders = []
    for n, customer in enumerate(["cust-a", "cust-b", "cust-c"]):
        party = [{"id": customer, "name": customer, "role": "customer", "@referredType": "Individual"}]
        items = family_plan_order()["productOrderItem"]
        if n == 2:
            items = [
                {"id": "1", "action": "add", "productOffering": {"id": "po-home-fibre-1g"}},
            ]
        orders.append(
            create_order(
                http,
                product_ordering_url,
                family_plan_order(externalId=f"EXT-{n}", relatedParty=party, productOrderItem=items),
            )
        )
    orders[1] = move_items(http, product_ordering_url, orders[1], {BUNDLE_ITEM_ID: "inProgress"})
    move_items(http, product_ordering_url, orders[2], {"1": "inProgress"})
    orders[2] = move_items(http, product_ordering_url, orders[2], {"1": "completed"})
    assert [order["state"] for order in orders] == ["acknowledged", "inProgress", "completed"]
    return orders


def listed_ids(http: requests.Session, url: str, query: str) -> set[str]:
    return {order["id"] for order in list_orders(http, url, query)}


def test_list_filters_on_state(product_ordering_url, http, three_orders):
    a, b, c = (order["id"] for order in three_orders)
    assert listed_ids(http, product_ordering_url, "state=inProgress") == {b}
    assert listed_ids(http, product_ordering_url, "state=acknowledged,completed") == {a, c}
    assert listed_ids(http, product_ordering_url, "state=cancelled") == set()


def test_list_filters_on_related_party_external_id_and_offering(product_ordering_url, http, three_orders):
    a, b, c = (order["id"] for order in three_orders)
    assert listed_ids(http, product_ordering_url, "relatedParty.id=cust-b") == {b}
    assert listed_ids(http, product_ordering_url, "externalId=EXT-2") == {c}
    offering = f"productOrderItem.productOffering.id={PREMIUM_FAMILY_PLAN_OFFERING}"
    assert listed_ids(http, product_ordering_url, offering) == {a, b}
    assert listed_ids(http, product_ordering_url, "productOrderItem.productOffering.id=po-home-fibre-1g") == {c}
    assert listed_ids(http, product_ordering_url, f"{offering}&relatedParty.id=cust-a") == {a}


def test_list_filters_on_order_date_ranges(product_ordering_url, http, three_orders):
    dates = {order["id"]: order["orderDate"] for order in three_orders}
    middle = three_orders[1]["orderDate"]

    def expected(keep: Any) -> set[str]:
        return {order_id for order_id, date in dates.items() if keep(date)}

    assert listed_ids(http, product_ordering_url, f"orderDate.gte={middle}") == expected(lambda d: d >= middle)
    assert listed_ids(http, product_ordering_url, f"orderDate.lt={middle}") == expected(lambda d: d < middle)
    assert listed_ids(http, product_ordering_url, f"orderDate={middle}") == expected(lambda d: d == middle)
    first, last = min(dates.values()), max(dates.values())
    both = f"orderDate.gte={first}&orderDate.lte={last}"
    assert listed_ids(http, product_ordering_url, both) == set(dates)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert listed_ids(http, product_ordering_url, f"orderDate.gt={tomorrow}") == set()
    assert listed_ids(http, product_ordering_url, f"orderDate.lt={tomorrow}") == set(dates)


def test_list_filters_on_completion_date(product_ordering_url, http, three_orders):
    completed = three_orders[2]
    completion = completed["completionDate"]
    parse_instant(completion)
    assert listed_ids(http, product_ordering_url, f"completionDate={completion}") == {completed["id"]}
    assert listed_ids(http, product_ordering_url, f"completionDate.gte={completed['orderDate']}") == {completed["id"]}
    assert listed_ids(http, product_ordering_url, f"completionDate.lt={completed['orderDate']}") == set()


# ----------------------------------------------------------------------------------------------- idempotent create


def test_repeated_post_with_same_idempotency_key_returns_the_original(product_ordering_url, http, database):
    key = f"portal-checkout-{uuid.uuid4()}"
    first = post_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})
    again = post_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"] == first.json()["href"]
    assert_conforms("ProductOrder", again.json())
    assert database[ORDERS].count_documents({}) == 1
    assert event_types(stored_events(database, first.json()["id"])) == ["ProductOrderCreateEvent"]


def test_replay_returns_the_order_as_it_is_now(product_ordering_url, http):
    key = f"portal-checkout-{uuid.uuid4()}"
    created = create_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})
    changed = move_items(http, product_ordering_url, created, {BUNDLE_ITEM_ID: "inProgress"})

    replay = post_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})

    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == changed


def test_same_idempotency_key_with_another_body_is_409(product_ordering_url, http, database):
    key = f"portal-checkout-{uuid.uuid4()}"
    created = create_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})
    other = post_order(http, product_ordering_url, family_plan_order(priority="4"), **{"Idempotency-Key": key})

    error = assert_tmf_error(other, 409)
    assert key in error["message"]
    assert database[ORDERS].count_documents({}) == 1
    assert get_order(http, product_ordering_url, created["id"])["priority"] == "1"


def test_different_idempotency_keys_create_different_orders(product_ordering_url, http, database):
    first = create_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": "k-1"})
    second = create_order(http, product_ordering_url, family_plan_order(), **{"Idempotency-Key": "k-2"})
    plain = create_order(http, product_ordering_url, family_plan_order())

    assert len({first["id"], second["id"], plain["id"]}) == 3
    assert database[ORDERS].count_documents({}) == 3


def test_concurrent_posts_with_one_idempotency_key_create_one_order(product_ordering_url, database):
    key = f"portal-double-click-{uuid.uuid4()}"
    threads = 8
    barrier = threading.Barrier(threads)
    responses: list[requests.Response] = []
    lock = threading.Lock()

    def post() -> None:
        with requests.Session() as session:
            barrier.wait(timeout=TIMEOUT)
            response = post_order(session, product_ordering_url, family_plan_order(), **{"Idempotency-Key": key})
        with lock:
            responses.append(response)

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(responses) == threads
    assert all(response.status_code == 201 for response in responses), [r.text for r in responses]
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum(response.headers.get("Idempotent-Replayed") == "true" for response in responses) == threads - 1
    assert database[ORDERS].count_documents({}) == 1


# ----------------------------------------------------------------------------------------------- conformance


def test_official_definitions_are_loaded_and_strict_enough():
    """The validator really checks: a body with a wrong state or a missing required attribute is refused."""
    body = {"id": "1", "href": "x", "state": "acknowledged", "productOrderItem": [{"id": "1", "action": "add"}]}
    assert_conforms("ProductOrder", body)
    assert not official_validator("ProductOrder").is_valid({**body, "state": "draft"})
    assert not official_validator("ProductOrder").is_valid({**body, "productOrderItem": []})
    assert not official_validator("ProductOrder").is_valid({**body, "orderDate": "yesterday"})
    assert not official_validator("ProductOrder").is_valid(
        {**body, "relatedParty": [{"id": "p"}]}  # @referredType is required
    )
    assert not official_validator("CancelProductOrder").is_valid({"id": "1", "state": "cancelled"})


def test_every_response_body_of_a_full_order_life_conforms(product_ordering_url, http):
    """Create, retrieve, list, several PATCHes and a cancellation: each body validates (helpers assert it too)."""
    url = product_ordering_url
    order = create_order(http, url, family_plan_order())
    assert_conforms("ProductOrder", get_order(http, url, order["id"]))
    order = patched(http, url, order["id"], {"description": "Family plan, updated by care"})
    order = move_items(http, url, order, {BUNDLE_ITEM_ID: "inProgress", SIM_ITEM_IDS[0]: "inProgress"})
    order = patched(
        http, url, order["id"], [{"op": "add", "path": "/note/-", "value": {"text": "Shipping booked"}}], JSON_PATCH
    )
    order = move_items(http, url, order, {BUNDLE_ITEM_ID: "completed", SIM_ITEM_IDS[0]: "completed"})
    order = move_items(http, url, order, dict.fromkeys(SIM_ITEM_IDS[1:], "inProgress"))
    order = move_items(http, url, order, {SIM_ITEM_IDS[1]: "completed", SIM_ITEM_IDS[2]: "failed"})
    assert order["state"] == "partial"
    assert_conforms("ProductOrder", order)
    for listed in list_orders(http, url):
        assert_conforms("ProductOrder", listed)

    to_cancel = create_order(http, url, family_plan_order(externalId="EXT-cancel"))
    response = http.post(
        f"{url}/cancelProductOrder",
        json={"productOrder": {"id": to_cancel["id"], "href": to_cancel["href"]}, "cancellationReason": "Changed mind"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    assert_conforms("CancelProductOrder", response.json())
    refused = http.post(f"{url}/cancelProductOrder", json={"productOrder": {"id": order["id"]}}, timeout=TIMEOUT)
    assert refused.status_code == 201, refused.text
    assert refused.json()["state"] == "terminatedWithError"
    assert_conforms("CancelProductOrder", refused.json())
    for task in (response.json(), refused.json()):
        fetched = http.get(f"{url}/cancelProductOrder/{task['id']}", timeout=TIMEOUT)
        assert fetched.status_code == 200
        assert_conforms("CancelProductOrder", fetched.json())
    listed_tasks = http.get(f"{url}/cancelProductOrder", timeout=TIMEOUT)
    assert listed_tasks.status_code == 200
    assert len(listed_tasks.json()) == 2
    for task in listed_tasks.json():
        assert_conforms("CancelProductOrder", task)
    assert_conforms("ProductOrder", get_order(http, url, to_cancel["id"]))
