"""The offering resolver over the real database, with the catalog loaded and changed through the public API."""

from __future__ import annotations

from typing import Any

import pytest

from tmf620_catalog.domain import BundleOption, CatalogResolutionError
from tmf620_catalog.service import CatalogService
from tmf_common.clock import utc_now
from tmf_common.openapi_bundle import api_spec_path, bundle
from tmf_common.schemas import SchemaValidators
from tmf_server.app import APIS, build_services
from tmf_server.example_catalog import load_example_catalog

TIMEOUT = 10


@pytest.fixture(scope="module")
def validators() -> SchemaValidators:
    return SchemaValidators(bundle(api_spec_path("tmf620-product-catalog.yaml")))


@pytest.fixture
def catalog(database, validators, settings) -> CatalogService:
    """The catalog service on the database the running app uses."""
    return CatalogService(database, validators, settings)


@pytest.fixture
def example(server, catalog_url, http) -> dict[str, dict[str, Any]]:
    return load_example_catalog(server.url, session=http)


def _patch(http, catalog_url: str, resource: str, entity_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    response = http.patch(
        f"{catalog_url}/{resource}/{entity_id}",
        json=patch,
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _resolution_error(catalog: CatalogService, offering_id: str, at: str | None = None) -> str:
    with pytest.raises(CatalogResolutionError) as caught:
        catalog.resolve_offering(offering_id, at)
    return str(caught.value)


def test_premium_family_plan_resolves_from_the_database(example, catalog):
    family_id = example["po-premium-family-plan"]["id"]
    sim_id = example["po-postpaid-mobile-100gb"]["id"]
    resolved = catalog.resolve_offering(family_id)

    assert resolved.id == family_id
    assert resolved.is_bundle
    assert resolved.offering["name"] == "Premium Family Plan"
    assert resolved.specification is not None
    assert resolved.specification["id"] == example["ps-family-plan-subscription"]["id"]
    assert [c["name"] for c in resolved.characteristics] == ["planTier", "maxLines"]
    max_lines = resolved.characteristics[1]["productSpecCharacteristicValue"][0]
    assert max_lines["value"] == 5 and max_lines["isDefault"] is True
    assert [(s["id"], s["@referredType"]) for s in resolved.service_specifications] == [
        ("ss-mobile-subscription", "ServiceSpecification")
    ]
    assert resolved.resource_specifications == []
    assert [p["id"] for p in resolved.prices] == [
        example["pop-family-plan-monthly"]["id"],
        example["pop-family-plan-activation"]["id"],
    ]
    assert [p["priceType"] for p in resolved.prices] == ["recurring", "oneTime"]

    assert len(resolved.bundled) == 1
    option, sim = resolved.bundled[0]
    assert option == BundleOption(default=3, lower=1, upper=5)
    assert sim.id == sim_id
    assert not sim.is_bundle
    assert sim.bundled == ()
    assert sim.specification is not None
    assert sim.specification["id"] == example["ps-mobile-line"]["id"]
    assert [c["name"] for c in sim.characteristics] == ["dataAllowance", "voiceAllowance", "simType", "MSISDN", "ICCID"]
    assert [s["id"] for s in sim.service_specifications] == ["ss-mobile-data-voice"]
    assert [r["id"] for r in sim.resource_specifications] == ["rs-sim-card", "rs-msisdn"]
    assert [p["id"] for p in sim.prices] == [example["pop-mobile-line-monthly"]["id"]]


def test_resolved_entities_are_what_the_api_returns(example, catalog, catalog_url, http):
    resolved = catalog.resolve_offering(example["po-premium-family-plan"]["id"])
    over_http = http.get(f"{catalog_url}/productOffering/{resolved.id}", timeout=TIMEOUT).json()
    assert resolved.offering == over_http
    # Stored date-times come back canonical, so the resolver's string comparisons of validFor are sound.
    assert resolved.offering["validFor"]["startDateTime"] == "2026-01-01T00:00:00.000Z"


def test_the_running_apps_services_resolve_the_same_tree(example, settings, mongo_client):
    # Built the way the app's lifespan builds them, on the client of the same database server.
    specs = {api.name: bundle(api_spec_path(api.spec_file)) for api in APIS}
    services = build_services(settings, mongo_client, specs)
    resolved = services.catalog.resolve_offering(example["po-premium-family-plan"]["id"])
    assert [(option, child.id) for option, child in resolved.bundled] == [
        (BundleOption(3, 1, 5), example["po-postpaid-mobile-100gb"]["id"])
    ]


def test_retiring_the_sim_offering_through_the_api_breaks_the_family_plan(example, catalog, catalog_url, http):
    family_id = example["po-premium-family-plan"]["id"]
    sim_id = example["po-postpaid-mobile-100gb"]["id"]
    retired = _patch(http, catalog_url, "productOffering", sim_id, {"lifecycleStatus": "Retired"})
    assert retired["lifecycleStatus"] == "Retired"

    message = _resolution_error(catalog, family_id)
    assert f"productOffering '{sim_id}' is Retired" in message
    assert message.index(family_id) < message.index("bundledProductOffering[0]") < message.index(sim_id)
    assert f"productOffering '{sim_id}' is Retired" in _resolution_error(catalog, sim_id)


def test_reactivating_the_sim_offering_makes_the_plan_resolvable_again(example, catalog, catalog_url, http):
    sim_id = example["po-postpaid-mobile-100gb"]["id"]
    _patch(http, catalog_url, "productOffering", sim_id, {"lifecycleStatus": "Retired"})
    _patch(http, catalog_url, "productOffering", sim_id, {"lifecycleStatus": "Active"})
    assert catalog.resolve_offering(example["po-premium-family-plan"]["id"]).bundled[0][1].id == sim_id


def test_expiry_set_with_an_offset_through_the_api_is_honoured(example, catalog, catalog_url, http):
    sim_id = example["po-postpaid-mobile-100gb"]["id"]
    # 2026-03-01T00:30:00+02:00 is 2026-02-28T22:30:00Z: one millisecond later the offering has expired.
    _patch(
        http,
        catalog_url,
        "productOffering",
        sim_id,
        {"validFor": {"endDateTime": "2026-03-01T00:30:00+02:00"}},
    )
    assert catalog.resolve_offering(sim_id, "2026-02-28T22:30:00.000Z").id == sim_id
    message = _resolution_error(catalog, example["po-premium-family-plan"]["id"], "2026-02-28T22:30:00.001Z")
    assert f"productOffering '{sim_id}' is not valid at 2026-02-28T22:30:00.001Z" in message


def test_offering_referring_to_a_specification_this_server_does_not_hold(catalog, catalog_url, http):
    missing_spec = "ps-held-elsewhere-0001"
    response = http.post(
        f"{catalog_url}/productOffering",
        json={
            "name": "Offering of a foreign specification",
            "isBundle": False,
            "lifecycleStatus": "Active",
            "productSpecification": {"id": missing_spec, "@referredType": "ProductSpecification"},
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    offering_id = response.json()["id"]
    assert response.json()["productSpecification"]["id"] == missing_spec

    message = _resolution_error(catalog, offering_id)
    assert f"productSpecification '{missing_spec}' does not exist" in message
    assert offering_id in message


def test_deleted_offering_no_longer_resolves(catalog, catalog_url, http):
    created = http.post(f"{catalog_url}/productOffering", json={"name": "Short-lived"}, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    offering_id = created.json()["id"]
    assert catalog.resolve_offering(offering_id, utc_now()).id == offering_id
    assert http.delete(f"{catalog_url}/productOffering/{offering_id}", timeout=TIMEOUT).status_code == 204
    assert f"productOffering '{offering_id}' does not exist" in _resolution_error(catalog, offering_id)
