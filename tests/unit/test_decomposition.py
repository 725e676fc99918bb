"""Catalog-driven decomposition of product orders into products and TMF641 service orders (pure, no server).

The offerings come from the reference example catalog (examples/catalog/*.json, its `{{key}}` placeholders
resolved to the keys themselves) plus hand-made variants, resolved by the real TMF620 resolver.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from orchestration.decomposition import (
    Decomposition,
    DecompositionError,
    ServiceOrderPlan,
    decompose_order,
    offering_ids,
)
from tests.api.test_service_ordering import official_errors
from tests.unit.test_catalog_resolver import Catalog, bundle, child, offering, specification
from tmf_server.example_catalog import DEFAULT_DIRECTORY, read_example_items, resolve_placeholders

EXAMPLE_ORDER_PATH = Path(__file__).resolve().parents[2] / "examples" / "orders" / "family-plan-order.json"
CATALOG_HREF = "https://catalog.example.com/tmf-api/productCatalogManagement/v4"
ORDER_ID = "po-order-0001"
ORDER_HREF = f"https://bss.example.com/tmf-api/productOrderingManagement/v4/productOrder/{ORDER_ID}"

FAMILY_PLAN = "po-premium-family-plan"
SIM = "po-postpaid-mobile-100gb"
SUBSCRIPTION_SERVICE = "ss-mobile-subscription"
SIM_SERVICE = "ss-mobile-data-voice"
# Hand-made offerings added to the example catalog.
DUO = "po-duo"  # a bundle of at least 2 SIMs, no upper limit
PREPAID = "po-prepaid-sim"  # a simple offering that no bundle contains
HOUSEHOLD = "po-household"  # a bundle holding the family plan bundle and one extra SIM
HOUSEHOLD_SERVICE = "ss-household-account"


# ---------------------------------------------------------------------------------------------------------------
# Catalog and orders


def example_catalog() -> Catalog:
    """The example files as catalog entities: each `{{key}}` becomes the key itself, which is also the entity id."""
    items = read_example_items(DEFAULT_DIRECTORY)
    created = {item.key: {"id": item.key, "href": f"{CATALOG_HREF}/{item.resource}/{item.key}"} for item in items}
    return Catalog(*[(item.resource, {**resolve_placeholders(item.body, created), "id": item.key}) for item in items])


def catalog() -> Catalog:
    """The example catalog and the hand-made variants."""
    entities = example_catalog()
    for key, entity in (
        bundle(DUO, child(SIM, default=2, lower=2)),
        offering(PREPAID),
        specification("ps-household", serviceSpecification=[{"id": HOUSEHOLD_SERVICE, "name": "householdAccount"}]),
        bundle(
            HOUSEHOLD,
            child(FAMILY_PLAN, default=1, lower=1, upper=1),
            child(SIM, default=1, lower=0, upper=2),
            productSpecification={"id": "ps-household"},
        ),
    ):
        entities.put(key, entity)
    return entities


def decompose(order: dict[str, Any]) -> Decomposition:
    """What the engine does: resolve each offering the order names once, then decompose."""
    entities = catalog()
    return decompose_order(order, {offering_id: entities.resolve(offering_id) for offering_id in offering_ids(order)})


def example_order() -> dict[str, Any]:
    """examples/orders/family-plan-order.json as stored: with the id and href the server gives it."""
    body: dict[str, Any] = json.loads(EXAMPLE_ORDER_PATH.read_text(encoding="utf-8"))
    return {"id": ORDER_ID, "href": ORDER_HREF, **body}


def bundle_only_order(action: str = "add") -> dict[str, Any]:
    """The example order with the family plan item alone: no SIM items, no relationships."""
    order = example_order()
    [family] = [copy.deepcopy(item) for item in order["productOrderItem"] if item["id"] == "1"]
    family.pop("productOrderItemRelationship")
    family["action"] = action
    order["productOrderItem"] = [family]
    return order


def order_item(
    item_id: str,
    offering_id: str,
    action: str = "add",
    *,
    characteristics: dict[str, Any] | None = None,
    bundled_in: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "action": action, "quantity": 1, "productOffering": {"id": offering_id}}
    if characteristics:
        item["product"] = {"productCharacteristic": [{"name": n, "value": v} for n, v in characteristics.items()]}
    if bundled_in is not None:
        item["productOrderItemRelationship"] = [{"id": bundled_in, "relationshipType": "bundledIn"}]
    return item


def order_of(*items: dict[str, Any]) -> dict[str, Any]:
    return {"id": ORDER_ID, "href": ORDER_HREF, "productOrderItem": list(items)}


def sims(count: int, bundle_id: str = "1", first_id: int = 2, action: str = "add") -> list[dict[str, Any]]:
    return [order_item(str(first_id + n), SIM, action, bundled_in=bundle_id) for n in range(count)]


# ---------------------------------------------------------------------------------------------------------------
# Reading service order bodies


def service_items(plan: ServiceOrderPlan) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = plan.body["serviceOrderItem"]
    return items


def spec_id(item: dict[str, Any]) -> str:
    return str(item["service"]["serviceSpecification"]["id"])


def characteristics(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in item["service"].get("serviceCharacteristic", [])}


def value_of(item: dict[str, Any], name: str) -> Any:
    return characteristics(item)[name]["value"]


def product_order_item_of(item: dict[str, Any]) -> str:
    [entity] = [e for e in item["service"]["relatedEntity"] if e["role"] == "productOrderItem"]
    assert entity["@referredType"] == "ProductOrderItem"
    return str(entity["id"])


def relies_on(item: dict[str, Any]) -> list[str]:
    """The service order items this one relies on, by id (checking both ids the relationship carries agree)."""
    found = []
    for relationship in item.get("serviceOrderItemRelationship", []):
        assert relationship["relationshipType"] == "reliesOn"
        assert relationship["orderItem"]["id"] == relationship["orderItem"]["itemId"]
        found.append(str(relationship["orderItem"]["itemId"]))
    return found


def assert_items_belong_to_order(plan: ServiceOrderPlan) -> None:
    for item in service_items(plan):
        [entity] = [e for e in item["service"]["relatedEntity"] if e["role"] == "productOrder"]
        assert (entity["id"], entity["href"], entity["@referredType"]) == (ORDER_ID, ORDER_HREF, "ProductOrder")
    [reference] = plan.body["externalReference"]
    assert (reference["id"], reference["href"], reference["externalReferenceType"]) == (
        ORDER_ID,
        ORDER_HREF,
        "ProductOrder",
    )


# ---------------------------------------------------------------------------------------------------------------
# The family plan as one bundle item: catalog defaults


def test_family_plan_bundle_alone_expands_to_a_subscription_and_three_sims_by_default() -> None:
    decomposition = decompose(bundle_only_order())

    products = decomposition.products
    assert [p.offering.id for p in products] == [FAMILY_PLAN, SIM, SIM, SIM]
    assert all(p.order_item == "1" and p.action == "add" for p in products)
    assert products[0].parent is None
    assert [p.parent for p in products[1:]] == [products[0].key] * 3
    assert len({p.key for p in products}) == 4

    [plan] = decomposition.service_orders
    assert (plan.group, plan.order_items) == ("1", ("1",))
    assert_items_belong_to_order(plan)
    items = service_items(plan)
    assert [spec_id(item) for item in items] == [SUBSCRIPTION_SERVICE, SIM_SERVICE, SIM_SERVICE, SIM_SERVICE]
    assert len({item["id"] for item in items}) == 4
    assert all(item["action"] == "add" for item in items)
    assert all(product_order_item_of(item) == "1" for item in items)

    subscription, *sim_items = items
    assert relies_on(subscription) == []
    assert all(relies_on(item) == [subscription["id"]] for item in sim_items)
    # The catalog convention: the first SIM of a default expansion is the primary line, the others secondary.
    assert [value_of(item, "simType") for item in sim_items] == ["primary", "secondary", "secondary"]
    for item in sim_items:
        assert characteristics(item)["dataAllowance"]["value"] == {"amount": 100, "units": "GB"}
        assert characteristics(item)["voiceAllowance"]["value"] == "unlimited"
        # No default value in the spec and none in the order: reserved during fulfilment, not sent.
        assert not {"MSISDN", "ICCID"} & characteristics(item).keys()
    assert value_of(subscription, "planTier") == "Premium"


def test_service_order_body_carries_the_product_order_context() -> None:
    order = bundle_only_order()
    [plan] = decompose(order).service_orders
    body = plan.body
    assert body["externalId"] == f"{ORDER_ID}/1"
    assert ORDER_ID in body["description"]
    for attribute in ("category", "priority", "requestedStartDate", "requestedCompletionDate"):
        assert body[attribute] == order[attribute], attribute
    [party] = body["relatedParty"]
    assert (party["id"], party["role"], party["@referredType"]) == ("cust-john-doe", "customer", "Individual")


def test_more_instances_than_non_default_values_all_take_the_first_non_default() -> None:
    [plan] = decompose(order_of(order_item("1", DUO))).service_orders
    # DUO has no specification of its own, so its two SIMs are all there is to provision.
    assert [value_of(item, "simType") for item in service_items(plan)] == ["primary", "secondary"]


# ---------------------------------------------------------------------------------------------------------------
# The family plan with its SIMs as explicit order items


def test_example_order_with_explicit_sim_items_maps_each_service_to_its_order_item() -> None:
    decomposition = decompose(example_order())

    assert [(p.key, p.order_item, p.offering.id, p.parent) for p in decomposition.products] == [
        ("1", "1", FAMILY_PLAN, None),
        ("2", "2", SIM, "1"),
        ("3", "3", SIM, "1"),
        ("4", "4", SIM, "1"),
    ]
    [plan] = decomposition.service_orders
    assert (plan.group, plan.order_items) == ("1", ("1", "2", "3", "4"))
    assert_items_belong_to_order(plan)
    subscription, *sim_items = service_items(plan)
    assert spec_id(subscription) == SUBSCRIPTION_SERVICE
    assert [spec_id(item) for item in sim_items] == [SIM_SERVICE] * 3
    assert [product_order_item_of(item) for item in [subscription, *sim_items]] == ["1", "2", "3", "4"]
    assert all(relies_on(item) == [subscription["id"]] for item in sim_items)
    assert [value_of(item, "simType") for item in sim_items] == ["primary", "secondary", "secondary"]
    assert all(value_of(item, "voiceAllowance") == "unlimited" for item in sim_items)
    # The order's shipping place travels with each SIM.
    assert all(item["service"]["place"][0]["id"] == "addr-john-home" for item in sim_items)


def test_characteristics_given_by_order_items_override_catalog_defaults() -> None:
    order = example_order()
    by_id = {item["id"]: item for item in order["productOrderItem"]}
    by_id["2"]["product"]["productCharacteristic"] = [{"name": "simType", "valueType": "string", "value": "secondary"}]
    by_id["4"]["product"]["productCharacteristic"] = [
        {"name": "simType", "valueType": "string", "value": "primary"},
        {"name": "voiceAllowance", "valueType": "string", "value": "1000 minutes"},
    ]
    by_id["1"]["product"]["productCharacteristic"] = [{"name": "planTier", "valueType": "string", "value": "Gold"}]

    [plan] = decompose(order).service_orders
    items = {product_order_item_of(item): item for item in service_items(plan)}
    assert value_of(items["1"], "planTier") == "Gold"
    assert value_of(items["1"], "maxLines") == 5  # not given: the default stays
    assert [value_of(items[i], "simType") for i in ("2", "3", "4")] == ["secondary", "secondary", "primary"]
    assert [value_of(items[i], "voiceAllowance") for i in ("2", "3", "4")] == ["unlimited", "unlimited", "1000 minutes"]
    assert characteristics(items["4"])["voiceAllowance"]["valueType"] == "string"


def _bundles_only(order: dict[str, Any]) -> dict[str, Any]:
    for item in order["productOrderItem"]:
        if item["id"] != "1":
            item.pop("productOrderItemRelationship")
    return order


def _bundled_in_only(order: dict[str, Any]) -> dict[str, Any]:
    order["productOrderItem"][0].pop("productOrderItemRelationship")
    return order


def _nested(order: dict[str, Any]) -> dict[str, Any]:
    family, *children = order["productOrderItem"]
    family.pop("productOrderItemRelationship")
    for item in children:
        item.pop("productOrderItemRelationship")
    family["productOrderItem"] = children
    order["productOrderItem"] = [family]
    return order


@pytest.mark.parametrize("shape", [_bundles_only, _bundled_in_only, _nested], ids=lambda f: f.__name__.strip("_"))
def test_bundle_structure_may_be_given_by_either_relationship_or_by_nesting(shape: Any) -> None:
    expected = decompose(example_order())
    actual = decompose(shape(example_order()))
    assert [(p.key, p.parent, p.offering.id) for p in actual.products] == [
        (p.key, p.parent, p.offering.id) for p in expected.products
    ]
    assert [plan.body for plan in actual.service_orders] == [plan.body for plan in expected.service_orders]


def test_sim_given_the_default_data_allowance_is_sent_as_the_default_would_be() -> None:
    # Item 2 of the example order gives dataAllowance exactly as _default_value shapes the catalog default.
    [explicit] = decompose(example_order()).service_orders
    [by_default] = decompose(bundle_only_order()).service_orders
    given = characteristics(service_items(explicit)[1])["dataAllowance"]
    default = characteristics(service_items(by_default)[1])["dataAllowance"]
    assert given["value"] == default["value"] == {"amount": 100, "units": "GB"}
    assert given == default


# ---------------------------------------------------------------------------------------------------------------
# Orders the catalog refuses


def test_more_children_than_the_upper_limit_names_bundle_child_and_limits() -> None:
    order = order_of(order_item("1", FAMILY_PLAN), *sims(6))
    with pytest.raises(DecompositionError) as caught:
        decompose(order)
    message = str(caught.value)
    assert f"'{FAMILY_PLAN}'" in message and f"'{SIM}'" in message
    assert "at least 1" in message and "at most 5" in message and "gives 6" in message


def test_up_to_the_upper_limit_is_accepted() -> None:
    decomposition = decompose(order_of(order_item("1", FAMILY_PLAN), *sims(5)))
    assert [p.order_item for p in decomposition.products] == ["1", "2", "3", "4", "5", "6"]


def test_fewer_children_than_the_lower_limit_names_bundle_child_and_limits() -> None:
    with pytest.raises(DecompositionError) as caught:
        decompose(order_of(order_item("1", DUO), *sims(1)))
    message = str(caught.value)
    assert f"'{DUO}'" in message and f"'{SIM}'" in message
    assert "at least 2" in message and "no upper limit" in message and "gives 1" in message


def test_without_an_upper_limit_any_number_from_the_lower_limit_is_accepted() -> None:
    decomposition = decompose(order_of(order_item("1", DUO), *sims(7)))
    assert len(decomposition.products) == 8


def test_child_whose_offering_is_not_in_the_bundle_is_refused_by_name() -> None:
    order = order_of(order_item("1", FAMILY_PLAN), *sims(1), order_item("3", PREPAID, bundled_in="1"))
    with pytest.raises(DecompositionError) as caught:
        decompose(order)
    message = str(caught.value)
    assert "'3'" in message and f"'{PREPAID}'" in message and f"'{FAMILY_PLAN}'" in message


def test_non_bundle_offering_with_child_items_is_refused() -> None:
    order = order_of(order_item("1", SIM), order_item("2", SIM, bundled_in="1"))
    with pytest.raises(DecompositionError) as caught:
        decompose(order)
    message = str(caught.value)
    assert "'1'" in message and f"'{SIM}'" in message and "not a bundle" in message


def test_item_without_an_offering_or_with_an_unresolved_one_is_refused() -> None:
    with pytest.raises(DecompositionError, match="'1' names no productOffering"):
        decompose_order(order_of({"id": "1", "action": "add"}), {})
    with pytest.raises(DecompositionError, match=f"'{SIM}' was not resolved"):
        decompose_order(order_of(order_item("1", SIM)), {})


# ---------------------------------------------------------------------------------------------------------------
# Nested bundles, other actions, several root items


def test_nested_bundle_expands_recursively_with_default_counts() -> None:
    decomposition = decompose(order_of(order_item("1", HOUSEHOLD)))

    products = decomposition.products
    assert [p.offering.id for p in products] == [HOUSEHOLD, FAMILY_PLAN, SIM, SIM, SIM, SIM]
    household, family, *family_sims, extra_sim = products
    assert family.parent == household.key and extra_sim.parent == household.key
    assert all(sim.parent == family.key for sim in family_sims)
    assert all(p.order_item == "1" for p in products)

    [plan] = decomposition.service_orders
    assert plan.order_items == ("1",)
    items = service_items(plan)
    assert [spec_id(item) for item in items] == [HOUSEHOLD_SERVICE, SUBSCRIPTION_SERVICE, *[SIM_SERVICE] * 4]
    household_item, family_item, *family_sim_items, extra_sim_item = items
    assert relies_on(family_item) == [household_item["id"]]
    assert all(relies_on(item) == [family_item["id"]] for item in family_sim_items)
    assert relies_on(extra_sim_item) == [household_item["id"]]
    assert [value_of(item, "simType") for item in family_sim_items] == ["primary", "secondary", "secondary"]


def test_nested_bundle_given_explicitly_expands_its_inner_bundle_by_default() -> None:
    order = order_of(order_item("1", HOUSEHOLD), order_item("2", FAMILY_PLAN, bundled_in="1"))
    products = decompose(order).products
    assert [(p.order_item, p.offering.id) for p in products] == [
        ("1", HOUSEHOLD),
        ("2", FAMILY_PLAN),
        ("2", SIM),
        ("2", SIM),
        ("2", SIM),
    ]
    assert [p.parent for p in products[2:]] == ["2"] * 3


@pytest.mark.parametrize("action", ["modify", "delete"])
def test_modify_or_delete_of_a_bundle_alone_does_not_expand_defaults(action: str) -> None:
    decomposition = decompose(bundle_only_order(action))
    assert [(p.offering.id, p.action) for p in decomposition.products] == [(FAMILY_PLAN, action)]
    [plan] = decomposition.service_orders
    [item] = service_items(plan)
    assert (item["action"], spec_id(item), relies_on(item)) == (action, SUBSCRIPTION_SERVICE, [])


def test_service_item_action_mirrors_each_product_item_and_no_change_items_get_none() -> None:
    order = order_of(
        order_item("1", FAMILY_PLAN, "modify"),
        order_item("2", SIM, "modify", characteristics={"simType": "secondary"}, bundled_in="1"),
        order_item("3", SIM, "noChange", bundled_in="1"),
        order_item("4", SIM, "delete", bundled_in="1"),
        order_item("5", SIM, "add", bundled_in="1"),
    )
    [plan] = decompose(order).service_orders
    items = service_items(plan)
    assert [(product_order_item_of(item), item["action"]) for item in items] == [
        ("1", "modify"),
        ("2", "modify"),
        ("4", "delete"),
        ("5", "add"),
    ]
    assert all(relies_on(item) == [items[0]["id"]] for item in items[1:])
    assert value_of(items[1], "simType") == "secondary"


def test_root_item_with_no_change_gets_no_service_order() -> None:
    order = order_of(order_item("1", FAMILY_PLAN, "noChange"), order_item("2", SIM))
    decomposition = decompose(order)
    assert [p.order_item for p in decomposition.products] == ["1", "2"]
    assert [(plan.group, plan.order_items) for plan in decomposition.service_orders] == [("2", ("2",))]


def test_each_root_item_gets_its_own_service_order() -> None:
    order = bundle_only_order()
    order["productOrderItem"].append(order_item("5", SIM, characteristics={"simType": "secondary"}))

    decomposition = decompose(order)
    family, standalone = decomposition.service_orders
    assert (family.group, family.order_items) == ("1", ("1",))
    assert (standalone.group, standalone.order_items) == ("5", ("5",))
    assert [spec_id(item) for item in service_items(family)] == [SUBSCRIPTION_SERVICE, *[SIM_SERVICE] * 3]
    [sim_item] = service_items(standalone)
    assert (spec_id(sim_item), product_order_item_of(sim_item), relies_on(sim_item)) == (SIM_SERVICE, "5", [])
    assert value_of(sim_item, "simType") == "secondary"
    assert family.body["externalId"] != standalone.body["externalId"]
    for plan in (family, standalone):
        assert_items_belong_to_order(plan)


# ---------------------------------------------------------------------------------------------------------------
# Characteristics and offering ids


def test_undeclared_characteristics_pass_through_and_unvalued_ones_are_omitted() -> None:
    order = order_of(order_item("1", SIM, characteristics={"MSISDN": "15415550101", "portIn": True}))
    [plan] = decompose(order).service_orders
    [item] = service_items(plan)
    found = characteristics(item)
    assert found["MSISDN"]["value"] == "15415550101"
    assert found["MSISDN"]["valueType"] == "string"
    assert found["portIn"]["value"] is True
    assert "ICCID" not in found
    assert set(found) == {"dataAllowance", "voiceAllowance", "simType", "MSISDN", "portIn"}


def test_offering_without_service_specification_gets_no_service_order() -> None:
    decomposition = decompose(order_of(order_item("1", PREPAID), order_item("2", SIM)))
    assert [p.offering.id for p in decomposition.products] == [PREPAID, SIM]
    assert [plan.group for plan in decomposition.service_orders] == ["2"]


def test_offering_ids_lists_each_offering_once_in_order_of_appearance() -> None:
    assert offering_ids(example_order()) == [FAMILY_PLAN, SIM]
    nested = order_item("4", HOUSEHOLD)
    nested["productOrderItem"] = [order_item("5", PREPAID)]
    order = order_of(
        order_item("1", SIM), {"id": "2", "action": "add"}, order_item("3", FAMILY_PLAN), order_item("6", SIM), nested
    )
    assert offering_ids(order) == [SIM, FAMILY_PLAN, HOUSEHOLD, PREPAID]
    assert offering_ids({"productOrderItem": []}) == []


# ---------------------------------------------------------------------------------------------------------------
# Conformance of the generated service orders


CONFORMANCE_ORDERS = {
    "family-plan-by-default": bundle_only_order,
    "family-plan-explicit": example_order,
    "family-plan-modify": lambda: bundle_only_order("modify"),
    "household-nested": lambda: order_of(order_item("1", HOUSEHOLD)),
    "two-roots": lambda: order_of(order_item("1", FAMILY_PLAN), order_item("2", SIM, characteristics={"x": [1]})),
}


@pytest.mark.parametrize("name", sorted(CONFORMANCE_ORDERS))
def test_every_service_order_body_is_an_official_tmf641_create_body(name: str) -> None:
    service_orders = decompose(CONFORMANCE_ORDERS[name]()).service_orders
    assert service_orders
    for plan in service_orders:
        assert official_errors("ServiceOrder_Create", plan.body) == [], plan.body


def test_conformance_check_can_fail() -> None:
    [plan] = decompose(bundle_only_order()).service_orders
    broken = copy.deepcopy(plan.body)
    broken["serviceOrderItem"][0]["action"] = "upgrade"
    assert official_errors("ServiceOrder_Create", broken)
