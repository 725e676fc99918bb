"""The settings of the engine-running test server, and helpers of the orchestration tests: orders naming the
loaded example catalog, the plan API, and waiting on product orders, plans and service orders."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import requests

from tests.api.delivering import DELIVERING_SETTINGS
from tests.payloads import family_plan_order, sim_item
from tests.support import wait_for

T = TypeVar("T")

# The delivering server's settings (fast retries, loopback callbacks) with the engine running and polling often.
ORCHESTRATING_SETTINGS = replace(DELIVERING_SETTINGS, run_engine=True, engine_poll_seconds=0.2)

TIMEOUT = 10
# Each engine step is a few database round trips; a whole order takes well under a second on a quiet machine.
SETTLE = 20.0
PRODUCT_ORDERING = "/tmf-api/productOrderingManagement/v4"
CATALOG = "/tmf-api/productCatalogManagement/v4"
PLANS = "/operations/orchestration/v1/plan"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}

FAMILY_PLAN_KEY = "po-premium-family-plan"
MOBILE_LINE_KEY = "po-postpaid-mobile-100gb"
SUBSCRIPTION_SPEC = "ss-mobile-subscription"
DATA_VOICE_SPEC = "ss-mobile-data-voice"
ENGINE_NOTE_AUTHOR = "orchestration engine"
# TMF622 leaves relationshipType free text. The portal payload (tests/payloads.py) writes "bundled"; the engine's
# decomposition reads "bundledIn" (child -> bundle) and "bundles" (bundle -> child).
BUNDLED_IN = "bundledIn"
PORTAL_BUNDLE_RELATIONSHIP = "bundled"


# ----------------------------------------------------------------------------------------------- order bodies


def with_offerings(order: dict[str, Any], bundle_offering: str, line_offering: str) -> dict[str, Any]:
    """The order with each item's productOffering id replaced: bundles by `bundle_offering`, lines by the other."""
    changed = copy.deepcopy(order)
    for item in changed["productOrderItem"]:
        is_bundle = (item.get("product") or {}).get("isBundle")
        item["productOffering"]["id"] = bundle_offering if is_bundle else line_offering
    return changed


def with_bundle_relationship(order: dict[str, Any], relationship_type: str) -> dict[str, Any]:
    """The order with the relationshipType of every item's relationships set to `relationship_type`."""
    changed = copy.deepcopy(order)
    for item in changed["productOrderItem"]:
        for relationship in item.get("productOrderItemRelationship") or []:
            relationship["relationshipType"] = relationship_type
    return changed


def catalog_family_plan(
    catalog: dict[str, dict[str, Any]], relationship_type: str | None = BUNDLED_IN, **overrides: Any
) -> dict[str, Any]:
    """John Doe's family-plan order (bundle item 1, SIM items 2-4 bundled in it) naming the loaded catalog.

    The SIM items name the bundle with `relationship_type` (None: as tests/payloads.py writes it, 'bundled').
    """
    order = with_offerings(
        family_plan_order(**overrides), catalog[FAMILY_PLAN_KEY]["id"], catalog[MOBILE_LINE_KEY]["id"]
    )
    return order if relationship_type is None else with_bundle_relationship(order, relationship_type)


def standalone_sim(catalog: dict[str, dict[str, Any]], item_id: str = "5") -> dict[str, Any]:
    """A SIM item of the mobile-line offering on its own: no relationship to any bundle."""
    item = sim_item(item_id, "primary", "+15415550105")
    item.pop("productOrderItemRelationship")
    item["productOffering"]["id"] = catalog[MOBILE_LINE_KEY]["id"]
    return item


def family_plan_with_standalone_sim(catalog: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Two root items: the family-plan bundle (items 1-4) and a standalone SIM (item 5)."""
    order = catalog_family_plan(catalog)
    order["productOrderItem"].append(standalone_sim(catalog))
    return order


def family_plan_with_sims(catalog: dict[str, dict[str, Any]], count: int) -> dict[str, Any]:
    """The family plan with `count` explicit SIM items bundled in it (items 2 .. count + 1)."""
    order = catalog_family_plan(catalog)
    bundle = order["productOrderItem"][0]
    sims = [
        sim_item(str(index + 2), "primary" if index == 0 else "secondary", f"+1541555{index + 101:04d}")
        for index in range(count)
    ]
    for sim in sims:
        sim["productOffering"]["id"] = catalog[MOBILE_LINE_KEY]["id"]
    order["productOrderItem"] = [bundle, *sims]
    return with_bundle_relationship(order, BUNDLED_IN)


# ----------------------------------------------------------------------------------------------- HTTP


def ok_json(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.text}"
    return response.json()


def post_order(base: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = ok_json(
        requests.post(f"{base}{PRODUCT_ORDERING}/productOrder", json=body, timeout=TIMEOUT), 201
    )
    return created


def get_order(base: str, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = ok_json(requests.get(f"{base}{PRODUCT_ORDERING}/productOrder/{order_id}", timeout=TIMEOUT))
    return order


def get_plan_response(base: str, order_id: str) -> requests.Response:
    return requests.get(f"{base}{PLANS}/{order_id}", timeout=TIMEOUT)


def get_plan(base: str, order_id: str) -> dict[str, Any]:
    plan: dict[str, Any] = ok_json(get_plan_response(base, order_id))
    return plan


def resume_plan(base: str, order_id: str, note: str | None = None) -> requests.Response:
    body = {} if note is None else {"note": note}
    return requests.post(f"{base}{PLANS}/{order_id}/resume", json=body, timeout=TIMEOUT)


def request_cancellation(base: str, order_id: str) -> dict[str, Any]:
    response = requests.post(
        f"{base}{PRODUCT_ORDERING}/cancelProductOrder", json={"productOrder": {"id": order_id}}, timeout=TIMEOUT
    )
    task: dict[str, Any] = ok_json(response, 201)
    return task


def get_cancellation(base: str, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = ok_json(
        requests.get(f"{base}{PRODUCT_ORDERING}/cancelProductOrder/{task_id}", timeout=TIMEOUT)
    )
    return task


def item_states(order: dict[str, Any]) -> dict[str, str]:
    return {str(item["id"]): item.get("state") for item in order["productOrderItem"]}


def engine_notes(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [note for note in order.get("note") or [] if note.get("author") == ENGINE_NOTE_AUTHOR]


# ----------------------------------------------------------------------------------------------- waiting


def wait_until(condition: Callable[[], T | None], timeout: float = SETTLE, what: str = "condition") -> T:
    """tests.support.wait_for for a condition that answers None until it holds, typed as what it then returns."""
    found = wait_for(condition, timeout=timeout, what=what)
    assert found is not None
    return found


def wait_for_order_state(base: str, order_id: str, state: str, timeout: float = SETTLE) -> dict[str, Any]:
    """The product order once it is in `state` (and the last one seen in the failure message otherwise)."""
    seen: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        seen["order"] = get_order(base, order_id)
        return seen["order"] if seen["order"].get("state") == state else None

    try:
        found: dict[str, Any] = wait_until(reached, timeout=timeout, what=f"productOrder {order_id} to be {state}")
    except AssertionError as error:
        last = seen.get("order") or {}
        raise AssertionError(f"{error}; last state {last.get('state')!r}, items {item_states(last)}") from None
    return found


def wait_for_plan_state(base: str, order_id: str, state: str, timeout: float = SETTLE) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        response = get_plan_response(base, order_id)
        if response.status_code != 200:
            return None
        seen["plan"] = response.json()
        return seen["plan"] if seen["plan"]["state"] == state else None

    try:
        found: dict[str, Any] = wait_until(reached, timeout=timeout, what=f"the plan of {order_id} to be {state}")
    except AssertionError as error:
        last = seen.get("plan") or {}
        tasks = [(task["id"], task["state"], task.get("error")) for task in last.get("tasks", [])]
        raise AssertionError(f"{error}; last plan state {last.get('state')!r}, tasks {tasks}") from None
    return found


def wait_for_service_orders(oss: Any, order_id: str, count: int, timeout: float = SETTLE) -> list[dict[str, Any]]:
    """At least `count` service orders referring to the product order."""

    def found() -> list[dict[str, Any]] | None:
        orders: list[dict[str, Any]] = oss.for_product_order(order_id)
        return orders if len(orders) >= count else None

    orders: list[dict[str, Any]] = wait_until(found, timeout=timeout, what=f"{count} service orders of {order_id}")
    return orders


def wait_for_service_order_state(
    oss: Any, service_order_id: str, state: str, timeout: float = SETTLE
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        order: dict[str, Any] = oss.get(service_order_id)
        return order if order.get("state") == state else None

    found: dict[str, Any] = wait_until(reached, timeout=timeout, what=f"serviceOrder {service_order_id} to be {state}")
    return found


def specification_ids(service_order: dict[str, Any]) -> list[str]:
    return [item["service"]["serviceSpecification"]["id"] for item in service_order["serviceOrderItem"]]


def realised_items(service_order: dict[str, Any]) -> set[str]:
    """The product order item ids the service order's items say they realise."""
    found: set[str] = set()
    for item in service_order["serviceOrderItem"]:
        for entity in item["service"].get("relatedEntity") or []:
            if entity.get("@referredType") == "ProductOrderItem":
                found.add(str(entity["id"]))
    return found
