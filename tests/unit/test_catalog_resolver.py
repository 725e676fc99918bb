"""The TMF620 offering resolver over an in-memory catalog, and the catalog's lifecycle and delete policy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tmf620_catalog.domain import (
    DEFAULT_LIFECYCLE_STATUS,
    BundleOption,
    CatalogPolicy,
    CatalogResolutionError,
    ResolvedOffering,
    bundle_option,
    is_valid_at,
    resolve_offering,
)
from tmf_common.errors import Conflict

AT = "2026-06-01T12:00:00.000Z"
START = "2026-01-01T00:00:00.000Z"


class Catalog:
    """(resource key, id) -> entity, with a lookup that records what it was asked for."""

    def __init__(self, *entities: tuple[str, dict[str, Any]]) -> None:
        self.entities: dict[tuple[str, str], dict[str, Any]] = {}
        self.asked: list[tuple[str, str]] = []
        for key, entity in entities:
            self.put(key, entity)

    def put(self, key: str, entity: dict[str, Any]) -> None:
        self.entities[(key, entity["id"])] = entity

    def remove(self, key: str, entity_id: str) -> None:
        del self.entities[(key, entity_id)]

    def get(self, key: str, entity_id: str) -> dict[str, Any]:
        return self.entities[(key, entity_id)]

    def lookup(self, key: str, entity_id: str) -> dict[str, Any] | None:
        self.asked.append((key, entity_id))
        found = self.entities.get((key, entity_id))
        return copy.deepcopy(found) if found is not None else None

    def resolve(self, offering_id: str, at: str = AT) -> ResolvedOffering:
        return resolve_offering(offering_id, at, self.lookup)


def specification(spec_id: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "productSpecification", {
        "id": spec_id,
        "name": spec_id,
        "lifecycleStatus": "Active",
        "validFor": {"startDateTime": START},
        **extra,
    }


def price(price_id: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "productOfferingPrice", {"id": price_id, "name": price_id, "priceType": "recurring", **extra}


def offering(offering_id: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "productOffering", {
        "id": offering_id,
        "name": offering_id,
        "isBundle": False,
        "lifecycleStatus": "Active",
        "validFor": {"startDateTime": START},
        **extra,
    }


def bundle(offering_id: str, *children: dict[str, Any], **extra: Any) -> tuple[str, dict[str, Any]]:
    return offering(offering_id, isBundle=True, bundledProductOffering=list(children), **extra)


def child(offering_id: str, default: int | None = None, lower: int | None = None, upper: int | None = None) -> dict:
    entry: dict[str, Any] = {"id": offering_id, "name": offering_id}
    option = {
        name: value
        for name, value in (
            ("numberRelOfferDefault", default),
            ("numberRelOfferLowerLimit", lower),
            ("numberRelOfferUpperLimit", upper),
        )
        if value is not None
    }
    if option:
        entry["bundledProductOfferingOption"] = option
    return entry


SIM_CHARACTERISTICS = [
    {"name": "dataAllowance", "valueType": "number", "productSpecCharacteristicValue": [{"value": 100}]},
    {"name": "simType", "valueType": "string", "configurable": True},
    {"name": "MSISDN", "valueType": "string", "regex": "^[1-9][0-9]{7,14}$"},
]


def family_plan() -> Catalog:
    """The reference scenario: Premium Family Plan, a bundle of 3 (1 to 5) postpaid SIM offerings."""
    return Catalog(
        specification(
            "ps-family",
            productSpecCharacteristic=[{"name": "planTier", "valueType": "string"}],
            serviceSpecification=[{"id": "ss-subscription", "name": "mobileSubscriptionService"}],
        ),
        specification(
            "ps-sim",
            productSpecCharacteristic=SIM_CHARACTERISTICS,
            serviceSpecification=[{"id": "ss-data-voice", "name": "Mobile voice and data service"}],
            resourceSpecification=[{"id": "rs-sim-card", "name": "SIM card"}, {"id": "rs-msisdn", "name": "MSISDN"}],
        ),
        price("pop-family-monthly"),
        price("pop-family-activation", priceType="oneTime"),
        price("pop-sim-monthly"),
        offering(
            "po-sim",
            productSpecification={"id": "ps-sim"},
            productOfferingPrice=[{"id": "pop-sim-monthly"}],
        ),
        bundle(
            "po-family",
            child("po-sim", default=3, lower=1, upper=5),
            productSpecification={"id": "ps-family"},
            productOfferingPrice=[{"id": "pop-family-monthly"}, {"id": "pop-family-activation"}],
        ),
    )


def test_family_plan_resolves_into_its_bundle_tree():
    catalog = family_plan()
    resolved = catalog.resolve("po-family")
    assert resolved.id == "po-family"
    assert resolved.is_bundle
    assert resolved.offering == catalog.get("productOffering", "po-family")
    assert resolved.specification == catalog.get("productSpecification", "ps-family")
    assert [p["id"] for p in resolved.prices] == ["pop-family-monthly", "pop-family-activation"]
    assert [c["name"] for c in resolved.characteristics] == ["planTier"]
    assert [s["id"] for s in resolved.service_specifications] == ["ss-subscription"]
    assert resolved.resource_specifications == []
    assert len(resolved.bundled) == 1
    option, sim = resolved.bundled[0]
    assert option == BundleOption(default=3, lower=1, upper=5)
    assert sim.id == "po-sim"
    assert not sim.is_bundle
    assert sim.bundled == ()
    assert sim.specification is not None and sim.specification["id"] == "ps-sim"
    assert [p["id"] for p in sim.prices] == ["pop-sim-monthly"]


def test_specification_properties_of_a_resolved_offering():
    sim = family_plan().resolve("po-sim")
    assert sim.characteristics == SIM_CHARACTERISTICS
    assert [s["id"] for s in sim.service_specifications] == ["ss-data-voice"]
    assert [r["id"] for r in sim.resource_specifications] == ["rs-sim-card", "rs-msisdn"]


def test_specification_properties_are_copies():
    sim = family_plan().resolve("po-sim")
    sim.characteristics.append({"name": "extra"})
    sim.service_specifications.clear()
    assert len(sim.characteristics) == len(SIM_CHARACTERISTICS)
    assert len(sim.service_specifications) == 1


def test_offering_without_specification_has_empty_properties():
    catalog = Catalog(offering("po-plain"))
    resolved = catalog.resolve("po-plain")
    assert resolved.specification is None
    assert resolved.characteristics == []
    assert resolved.service_specifications == []
    assert resolved.resource_specifications == []
    assert resolved.prices == ()


def test_embedded_price_values_are_not_looked_up():
    catalog = Catalog(offering("po", productOfferingPrice=[{"name": "inline", "price": {"value": 1}}]))
    assert catalog.resolve("po").prices == ()
    assert ("productOfferingPrice", "inline") not in catalog.asked


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"numberRelOfferDefault": 3, "numberRelOfferLowerLimit": 1, "numberRelOfferUpperLimit": 5}, (3, 1, 5)),
        ({"numberRelOfferLowerLimit": 2, "numberRelOfferUpperLimit": 4}, (2, 2, 4)),
        ({"numberRelOfferLowerLimit": 0}, (1, 0, None)),
        ({"numberRelOfferDefault": 0, "numberRelOfferLowerLimit": 0, "numberRelOfferUpperLimit": 1}, (0, 0, 1)),
        ({}, (1, 1, None)),
        (None, (1, 1, None)),
    ],
)
def test_bundle_option_defaults(option, expected):
    entry: dict[str, Any] = {"id": "po"}
    if option is not None:
        entry["bundledProductOfferingOption"] = option
    assert bundle_option(entry) == BundleOption(*expected)


def test_nested_bundle_resolves_every_level():
    catalog = family_plan()
    catalog.put(*offering("po-tv"))
    catalog.put(*bundle("po-home", child("po-family", default=1, lower=1, upper=1), child("po-tv", lower=0, upper=2)))
    home = catalog.resolve("po-home")
    assert [(option, resolved.id) for option, resolved in home.bundled] == [
        (BundleOption(1, 1, 1), "po-family"),
        (BundleOption(1, 0, 2), "po-tv"),
    ]
    family = home.bundled[0][1]
    assert family.is_bundle
    assert [(option, resolved.id) for option, resolved in family.bundled] == [(BundleOption(3, 1, 5), "po-sim")]


def test_the_same_offering_twice_in_a_tree_is_not_a_cycle():
    catalog = Catalog(
        offering("po-sim"),
        bundle("po-left", child("po-sim")),
        bundle("po-right", child("po-sim")),
        bundle("po-top", child("po-left"), child("po-right"), child("po-sim")),
    )
    top = catalog.resolve("po-top")
    assert [resolved.id for _, resolved in top.bundled] == ["po-left", "po-right", "po-sim"]


def _resolution_error(catalog: Catalog, offering_id: str, at: str = AT) -> str:
    with pytest.raises(CatalogResolutionError) as caught:
        catalog.resolve(offering_id, at)
    return str(caught.value)


def test_missing_root_offering():
    message = _resolution_error(family_plan(), "po-nowhere")
    assert "po-nowhere" in message
    assert "does not exist" in message


def test_missing_bundled_offering_names_it_and_its_path():
    catalog = family_plan()
    catalog.remove("productOffering", "po-sim")
    message = _resolution_error(catalog, "po-family")
    assert "productOffering 'po-sim' does not exist" in message
    assert message.index("po-family") < message.index("bundledProductOffering[0]") < message.index("po-sim")


def test_missing_specification_of_a_bundled_offering():
    catalog = family_plan()
    catalog.remove("productSpecification", "ps-sim")
    message = _resolution_error(catalog, "po-family")
    assert "productSpecification 'ps-sim' does not exist" in message
    assert message.index("po-family") < message.index("bundledProductOffering[0]") < message.index("po-sim")
    assert message.index("po-sim") < message.index("ps-sim")


def test_missing_specification_of_the_root():
    catalog = family_plan()
    catalog.remove("productSpecification", "ps-family")
    message = _resolution_error(catalog, "po-family")
    assert "productSpecification 'ps-family' does not exist" in message
    assert message.startswith("productOffering 'po-family'")


def test_missing_price_names_it_its_position_and_its_path():
    catalog = family_plan()
    catalog.remove("productOfferingPrice", "pop-family-activation")
    message = _resolution_error(catalog, "po-family")
    assert "productOfferingPrice 'pop-family-activation' does not exist" in message
    assert "productOfferingPrice[1]" in message
    assert "po-family" in message


def test_missing_price_deep_in_the_tree():
    catalog = family_plan()
    catalog.remove("productOfferingPrice", "pop-sim-monthly")
    message = _resolution_error(catalog, "po-family")
    assert "pop-sim-monthly" in message
    assert message.index("po-family") < message.index("po-sim") < message.index("pop-sim-monthly")


def test_bundle_containing_itself():
    catalog = Catalog(bundle("po-loop", child("po-loop")))
    message = _resolution_error(catalog, "po-loop")
    assert "contains itself" in message
    assert "po-loop" in message


def test_bundle_containing_itself_through_another_bundle():
    catalog = Catalog(bundle("po-a", child("po-b")), bundle("po-b", child("po-c"), child("po-a")))
    catalog.put(*offering("po-c"))
    message = _resolution_error(catalog, "po-a")
    assert "contains itself" in message
    assert message.index("po-a") < message.index("po-b") < message.index("bundledProductOffering[1]")


@pytest.mark.parametrize("status", ["Retired", "retired", "RETIRED", "Obsolete", "Rejected"])
def test_unorderable_offering_is_refused(status):
    catalog = family_plan()
    catalog.get("productOffering", "po-sim")["lifecycleStatus"] = status
    message = _resolution_error(catalog, "po-family")
    assert f"productOffering 'po-sim' is {status}" in message
    assert "bundledProductOffering[0]" in message
    assert f"is {status}" in _resolution_error(catalog, "po-sim")


@pytest.mark.parametrize("status", ["Active", "In Design", "Launched", "In Test", None])
def test_orderable_lifecycle_statuses(status):
    catalog = family_plan()
    sim = catalog.get("productOffering", "po-sim")
    if status is None:
        del sim["lifecycleStatus"]
    else:
        sim["lifecycleStatus"] = status
    assert catalog.resolve("po-family").bundled[0][1].id == "po-sim"


def test_offering_not_yet_valid():
    catalog = family_plan()
    catalog.get("productOffering", "po-sim")["validFor"] = {"startDateTime": "2026-07-01T00:00:00.000Z"}
    message = _resolution_error(catalog, "po-family")
    assert "productOffering 'po-sim' is not valid at " + AT in message


def test_offering_expired():
    catalog = family_plan()
    catalog.get("productOffering", "po-family")["validFor"] = {
        "startDateTime": START,
        "endDateTime": "2026-05-31T23:59:59.999Z",
    }
    message = _resolution_error(catalog, "po-family")
    assert "productOffering 'po-family' is not valid at" in message


def test_specification_expired():
    catalog = family_plan()
    catalog.get("productSpecification", "ps-sim")["validFor"] = {"endDateTime": "2026-01-31T00:00:00.000Z"}
    message = _resolution_error(catalog, "po-family")
    assert "productSpecification 'ps-sim' is not valid at" in message


def test_validity_bounds_are_inclusive():
    catalog = family_plan()
    catalog.get("productOffering", "po-sim")["validFor"] = {"startDateTime": AT, "endDateTime": AT}
    assert catalog.resolve("po-family", AT).bundled[0][1].id == "po-sim"


@pytest.mark.parametrize(
    ("period", "valid"),
    [
        (None, True),
        ({}, True),
        ({"startDateTime": START}, True),
        ({"endDateTime": "2099-01-01T00:00:00.000Z"}, True),
        ({"startDateTime": "2026-06-01T12:00:00.001Z"}, False),
        ({"endDateTime": "2026-06-01T11:59:59.999Z"}, False),
    ],
)
def test_is_valid_at(period, valid):
    entity = {} if period is None else {"validFor": period}
    assert is_valid_at(entity, AT) is valid


def test_bundle_without_children():
    catalog = Catalog(bundle("po-empty"))
    message = _resolution_error(catalog, "po-empty")
    assert "isBundle is true but bundledProductOffering is empty" in message
    catalog.get("productOffering", "po-empty").pop("bundledProductOffering")
    assert "bundledProductOffering is empty" in _resolution_error(catalog, "po-empty")


def test_bundled_entry_without_id():
    catalog = Catalog(bundle("po-b", {"name": "no id"}))
    message = _resolution_error(catalog, "po-b")
    assert "bundledProductOffering[0] has no id" in message


def test_children_of_a_non_bundle_are_ignored():
    catalog = Catalog(offering("po", bundledProductOffering=[{"id": "po-missing"}]))
    assert catalog.resolve("po").bundled == ()
    assert ("productOffering", "po-missing") not in catalog.asked


def test_resolution_does_not_change_the_catalog():
    catalog = family_plan()
    before = copy.deepcopy(catalog.entities)
    catalog.resolve("po-family")
    assert catalog.entities == before


# CatalogPolicy

NOW = "2026-06-01T12:00:00.000Z"


def test_create_defaults_the_lifecycle_status_and_sets_last_update():
    prepared = CatalogPolicy().prepare_create({"name": "A"}, NOW)
    assert prepared == {"name": "A", "lifecycleStatus": DEFAULT_LIFECYCLE_STATUS, "lastUpdate": NOW}
    assert DEFAULT_LIFECYCLE_STATUS == "In Design"


def test_create_keeps_a_given_lifecycle_status():
    prepared = CatalogPolicy().prepare_create({"name": "A", "lifecycleStatus": "Active"}, NOW)
    assert prepared["lifecycleStatus"] == "Active"
    assert prepared["lastUpdate"] == NOW


def test_update_keeps_the_previous_status_when_the_patch_removed_it():
    before = {"name": "A", "lifecycleStatus": "Active", "lastUpdate": "2026-01-01T00:00:00.000Z"}
    after = CatalogPolicy().prepare_update(before, {"name": "B"}, NOW)
    assert after == {"name": "B", "lifecycleStatus": "Active", "lastUpdate": NOW}


def test_update_keeps_a_new_status_and_defaults_a_missing_one():
    policy = CatalogPolicy()
    retired = policy.prepare_update({"lifecycleStatus": "Active"}, {"lifecycleStatus": "Retired"}, NOW)
    assert retired == {"lifecycleStatus": "Retired", "lastUpdate": NOW}
    assert policy.prepare_update({}, {}, NOW) == {"lifecycleStatus": DEFAULT_LIFECYCLE_STATUS, "lastUpdate": NOW}


def test_delete_with_a_referrer_is_a_conflict_naming_both():
    asked: list[str] = []

    def find_referrer(entity_id: str) -> str | None:
        asked.append(entity_id)
        return "productOffering 'po-family'"

    with pytest.raises(Conflict) as caught:
        CatalogPolicy(find_referrer).check_delete({"id": "po-sim", "name": "SIM"})
    assert caught.value.status == 409
    assert "po-sim" in caught.value.message
    assert "productOffering 'po-family'" in caught.value.message
    assert asked == ["po-sim"]


def test_delete_without_referrer_is_allowed():
    CatalogPolicy(lambda _entity_id: None).check_delete({"id": "po-sim"})
    CatalogPolicy().check_delete({"id": "po-sim"})
