"""Consistency and TMF620 v4.1.0 conformance of the reference example catalog files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tmf_server.example_catalog import (
    DEFAULT_DIRECTORY,
    KEY_PROPERTY,
    RESOURCE_BY_FILE,
    ExampleCatalogError,
    ExampleItem,
    creation_order,
    placeholder_keys,
    read_example_items,
    resolve_placeholders,
)

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "reference"
    / "tmf-specs"
    / "TMF620-ProductCatalog-v4.1.0.swagger.json"
)
SPEC_URI = "urn:tmf:tmf620:v4.1.0"
EXAMPLE_FILES = sorted(DEFAULT_DIRECTORY.glob("*.json"))
ITEMS = read_example_items(DEFAULT_DIRECTORY)
ITEMS_BY_KEY = {item.key: item for item in ITEMS}
START = "2026-01-01T00:00:00Z"


def _item_named(resource: str, name: str) -> ExampleItem:
    matches = [item for item in ITEMS if item.resource == resource and item.body.get("name") == name]
    assert len(matches) == 1, f"expected exactly one {resource} named {name!r}, found {len(matches)}"
    return matches[0]


def _referenced_key(placeholder: str) -> str:
    keys = placeholder_keys(placeholder)
    assert len(keys) == 1 and placeholder == "{{" + next(iter(keys)) + "}}", placeholder
    return next(iter(keys))


def _load_spec() -> dict[str, Any]:
    assert SPEC_PATH.is_file(), f"official TMF620 spec not found at {SPEC_PATH}"
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def _validator(spec: dict[str, Any], resource: str) -> Draft4Validator:
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4)
    )
    definition = resource[0].upper() + resource[1:] + "_Create"
    assert definition in spec["definitions"], definition
    return Draft4Validator(
        {"$ref": f"{SPEC_URI}#/definitions/{definition}"},
        registry=registry,
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )


def _closed(spec: dict[str, Any]) -> dict[str, Any]:
    # The official definitions allow any extra property, so a misspelt name would pass; closing every
    # object definition makes the schema check catch typos too.
    closed = copy.deepcopy(spec)
    for definition in closed["definitions"].values():
        if "properties" in definition:
            definition["additionalProperties"] = False
    return closed


def test_every_file_is_a_json_array_of_objects_of_a_known_kind() -> None:
    assert {path.name for path in EXAMPLE_FILES} == set(RESOURCE_BY_FILE)
    for path in EXAMPLE_FILES:
        content = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(content, list) and content, path.name
        assert all(isinstance(entry, dict) for entry in content), path.name


def test_every_item_has_a_unique_x_key() -> None:
    keys = []
    for path in EXAMPLE_FILES:
        for entry in json.loads(path.read_text(encoding="utf-8")):
            assert isinstance(entry.get(KEY_PROPERTY), str) and entry[KEY_PROPERTY], (path.name, entry)
            keys.append(entry[KEY_PROPERTY])
    assert len(keys) == len(set(keys)), sorted(keys)
    assert set(keys) == set(ITEMS_BY_KEY)
    assert all(KEY_PROPERTY not in item.body for item in ITEMS)


def test_every_placeholder_refers_to_an_existing_key() -> None:
    referenced = set()
    for item in ITEMS:
        keys = placeholder_keys(item.body)
        assert keys <= ITEMS_BY_KEY.keys(), (item.key, sorted(keys - ITEMS_BY_KEY.keys()))
        assert item.key not in keys, item.key
        referenced |= keys
    # Only the catalog is a root: everything else is reachable from it, so nothing in the files is dead.
    assert ITEMS_BY_KEY.keys() - referenced == {item.key for item in ITEMS if item.resource == "catalog"}


def test_creation_order_puts_every_referenced_item_before_its_referrer() -> None:
    order = creation_order(ITEMS)
    assert sorted(order) == sorted(ITEMS_BY_KEY)
    position = {key: index for index, key in enumerate(order)}
    for item in ITEMS:
        for dependency in placeholder_keys(item.body):
            assert position[dependency] < position[item.key], (dependency, item.key)


def test_creation_order_creates_the_simple_offering_before_the_bundle() -> None:
    order = creation_order(ITEMS)
    bundle = _item_named("productOffering", "Premium Family Plan")
    sim = _item_named("productOffering", "Postpaid Mobile 100 GB + unlimited calls")
    # The file lists the bundle first on purpose: the order must come from the references, not the files.
    assert ITEMS.index(bundle) < ITEMS.index(sim)
    assert order.index(sim.key) < order.index(bundle.key)
    assert order[-1] == _item_named("catalog", "Consumer Mobile Catalog").key


def _item(key: str, body: dict[str, Any]) -> ExampleItem:
    return ExampleItem(key=key, resource="productOffering", body=body, source=f"test:{key}")


def test_creation_order_keeps_input_order_between_independent_items() -> None:
    items = [_item("b", {}), _item("c", {"x": ["{{a}}"]}), _item("a", {})]
    assert creation_order(items) == ["b", "a", "c"]


def test_creation_order_refuses_a_cycle() -> None:
    items = [_item("a", {"r": {"id": "{{b}}"}}), _item("b", {"r": {"href": "{{a.href}}"}})]
    with pytest.raises(ExampleCatalogError, match="cycle"):
        creation_order(items)


def test_creation_order_refuses_a_self_reference() -> None:
    with pytest.raises(ExampleCatalogError, match="cycle"):
        creation_order([_item("a", {"r": {"id": "{{a}}"}})])


def test_creation_order_refuses_an_unknown_key() -> None:
    with pytest.raises(ExampleCatalogError, match=r"unknown key.*'missing'"):
        creation_order([_item("a", {"r": [{"id": "{{missing}}"}]})])


def test_creation_order_refuses_a_duplicate_key() -> None:
    with pytest.raises(ExampleCatalogError, match="duplicate"):
        creation_order([_item("a", {}), _item("a", {})])


def test_malformed_placeholder_is_refused() -> None:
    with pytest.raises(ExampleCatalogError, match="malformed placeholder"):
        placeholder_keys({"r": {"id": "{{po.id}}"}})


def test_resolve_placeholders_substitutes_ids_and_hrefs() -> None:
    created = {"spec": {"id": "42", "href": "http://h/tmf-api/productCatalogManagement/v4/productSpecification/42"}}
    body = {
        "productSpecification": {"id": "{{spec}}", "href": "{{spec.href}}", "name": "keep {braces}"},
        "n": 1,
    }
    assert resolve_placeholders(body, created) == {
        "productSpecification": {"id": "42", "href": created["spec"]["href"], "name": "keep {braces}"},
        "n": 1,
    }
    with pytest.raises(ExampleCatalogError, match="not been created"):
        resolve_placeholders({"id": "{{other}}"}, created)


def test_premium_family_plan_is_a_bundle_of_three_postpaid_sims_by_default() -> None:
    bundle = _item_named("productOffering", "Premium Family Plan").body
    sim = _item_named("productOffering", "Postpaid Mobile 100 GB + unlimited calls")
    assert bundle["isBundle"] is True
    [bundled] = bundle["bundledProductOffering"]
    assert _referenced_key(bundled["id"]) == sim.key
    assert bundled["bundledProductOfferingOption"] == {
        "numberRelOfferDefault": 3,
        "numberRelOfferLowerLimit": 1,
        "numberRelOfferUpperLimit": 5,
    }
    subscription = ITEMS_BY_KEY[_referenced_key(bundle["productSpecification"]["id"])]
    assert subscription.resource == "productSpecification"
    prices = [ITEMS_BY_KEY[_referenced_key(ref["id"])].body for ref in bundle["productOfferingPrice"]]
    assert sorted(price["priceType"] for price in prices) == ["oneTime", "recurring"]


def test_postpaid_offering_is_a_priced_simple_offering_of_the_mobile_line_spec() -> None:
    sim = _item_named("productOffering", "Postpaid Mobile 100 GB + unlimited calls").body
    assert sim["isBundle"] is False
    spec = ITEMS_BY_KEY[_referenced_key(sim["productSpecification"]["id"])]
    assert spec.resource == "productSpecification"
    [price_ref] = sim["productOfferingPrice"]
    price = ITEMS_BY_KEY[_referenced_key(price_ref["id"])]
    assert price.resource == "productOfferingPrice"
    assert price.body["priceType"] == "recurring" and price.body["recurringChargePeriodType"] == "month"

    characteristics = {char["name"]: char for char in spec.body["productSpecCharacteristic"]}
    assert set(characteristics) >= {"dataAllowance", "voiceAllowance", "simType", "MSISDN", "ICCID"}
    for char in characteristics.values():
        assert char["valueType"] and char["productSpecCharacteristicValue"], char["name"]

    def default(name: str) -> dict[str, Any]:
        [value] = [v for v in characteristics[name]["productSpecCharacteristicValue"] if v.get("isDefault")]
        return value

    assert (default("dataAllowance")["value"], default("dataAllowance")["unitOfMeasure"]) == (100, "GB")
    assert default("voiceAllowance")["value"] == "unlimited"
    assert default("simType")["value"] == "primary"
    assert {v["value"] for v in characteristics["simType"]["productSpecCharacteristicValue"]} == {
        "primary",
        "secondary",
    }
    assert {ref["id"] for ref in spec.body["resourceSpecification"]} == {"rs-sim-card", "rs-msisdn"}
    assert spec.body["serviceSpecification"]


def test_catalog_contains_the_mobile_category_which_contains_both_offerings() -> None:
    catalog = _item_named("catalog", "Consumer Mobile Catalog").body
    [category_ref] = catalog["category"]
    category = ITEMS_BY_KEY[_referenced_key(category_ref["id"])]
    assert category.body["name"] == "Mobile"
    offerings = {_referenced_key(ref["id"]) for ref in category.body["productOffering"]}
    assert offerings == {item.key for item in ITEMS if item.resource == "productOffering"}


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.key)
def test_item_is_active_typed_and_valid_from_2026(item: ExampleItem) -> None:
    assert item.body["@type"] == item.resource[0].upper() + item.resource[1:]
    assert item.body["lifecycleStatus"] == "Active"
    assert item.body["validFor"] == {"startDateTime": START}
    assert not {"id", "href", "lastUpdate"} & item.body.keys()


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.key)
def test_item_validates_against_the_official_tmf620_create_definition(item: ExampleItem) -> None:
    spec = _load_spec()
    errors = [error.message for error in _validator(spec, item.resource).iter_errors(item.body)]
    assert not errors, errors
    closed_errors = [error.message for error in _validator(_closed(spec), item.resource).iter_errors(item.body)]
    assert not closed_errors, closed_errors


def test_schema_check_can_fail() -> None:
    spec = _load_spec()
    bundle = copy.deepcopy(_item_named("productOffering", "Premium Family Plan").body)
    bundle["bundledProductOffering"][0]["bundledProductOfferingOption"]["numberRelOfferDefault"] = "3"
    assert list(_validator(spec, "productOffering").iter_errors(bundle))
    bundle = copy.deepcopy(_item_named("productOffering", "Premium Family Plan").body)
    bundle["validFor"]["startDateTime"] = "1 January 2026"
    assert list(_validator(spec, "productOffering").iter_errors(bundle))
    bundle = copy.deepcopy(_item_named("productOffering", "Premium Family Plan").body)
    bundle["isBundel"] = True
    assert list(_validator(_closed(spec), "productOffering").iter_errors(bundle))
