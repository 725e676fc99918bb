"""TMF620 responses validate against the official v4.1.0 definitions and carry the conformance-profile attributes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tmf_server.example_catalog import load_example_catalog

SWAGGER_PATH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "tmf-specs"
    / "TMF620-ProductCatalog-v4.1.0.swagger.json"
)
DEFINITION_BY_RESOURCE = {
    "catalog": "Catalog",
    "category": "Category",
    "productSpecification": "ProductSpecification",
    "productOffering": "ProductOffering",
    "productOfferingPrice": "ProductOfferingPrice",
}
RESOURCES = tuple(DEFINITION_BY_RESOURCE)
# Example catalog counts per resource (examples/catalog/*.json).
EXPECTED_COUNTS = {
    "catalog": 1,
    "category": 1,
    "productSpecification": 2,
    "productOffering": 2,
    "productOfferingPrice": 3,
}
# TMF620B conformance profile: mandatory in every response of these resources.
MANDATORY = ("href", "id", "lastUpdate", "lifecycleStatus", "name")
# ...and, when isBundle is true, the bundle's members; when false, what the resource stands for.
MANDATORY_IF_BUNDLE = {
    "productOffering": "bundledProductOffering",
    "productOfferingPrice": "bundledPopRelationship",
    "productSpecification": "bundledProductSpecification",
}
MANDATORY_IF_NOT_BUNDLE = {"productOffering": "productSpecification", "productOfferingPrice": "priceType"}
TIMEOUT = 10


class OfficialSchemas:
    """Draft 4 validators for `#/definitions/<name>` of the official swagger document."""

    def __init__(self, path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["swagger"] == "2.0"
        assert document["info"]["version"].startswith("4.1")
        self.uri = path.as_uri()
        self.definitions = document["definitions"]
        self.registry: Registry = Registry().with_resource(self.uri, DRAFT4.create_resource(document))
        self.format_checker = FormatChecker(formats=["date-time"])
        self._validators: dict[str, Draft4Validator] = {}

    def validator(self, name: str) -> Draft4Validator:
        if name not in self._validators:
            assert name in self.definitions, f"no definition {name} in {self.uri}"
            self._validators[name] = Draft4Validator(
                {"$ref": f"{self.uri}#/definitions/{name}"}, registry=self.registry, format_checker=self.format_checker
            )
        return self._validators[name]

    def errors(self, name: str, body: Any) -> list[str]:
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in self.validator(name).iter_errors(body)
        ]

    def check(self, name: str, body: Any, what: str) -> None:
        errors = self.errors(name, body)
        assert errors == [], f"{what} does not validate against {name}: {errors}"


@pytest.fixture(scope="module")
def official() -> OfficialSchemas:
    return OfficialSchemas(SWAGGER_PATH)


@pytest.fixture
def example(server, catalog_url, http) -> dict[str, list[dict[str, Any]]]:
    """The example catalog loaded through the API: resource -> the 201 bodies of its POSTs."""
    created = load_example_catalog(server.url, session=http)
    by_resource: dict[str, list[dict[str, Any]]] = {resource: [] for resource in RESOURCES}
    for body in created.values():
        resource = body["href"].split("/")[-2]
        by_resource[resource].append(body)
    assert {resource: len(bodies) for resource, bodies in by_resource.items()} == EXPECTED_COUNTS
    return by_resource


def test_the_official_schema_is_not_vacuous(official):
    # A validator that accepts anything would make every test below pass.
    assert official.errors("ProductOffering", {"name": 1, "lastUpdate": "yesterday"}) != []
    assert official.errors("Error", {"message": "no code nor reason"}) != []
    assert official.errors("Catalog", {"validFor": {"startDateTime": "2026-13-45"}}) != []


@pytest.mark.parametrize("resource", RESOURCES)
def test_post_bodies_conform(official, example, resource):
    for body in example[resource]:
        official.check(DEFINITION_BY_RESOURCE[resource], body, f"POST {resource} 201 body")
        assert body["href"].endswith(f"/{resource}/{body['id']}")


@pytest.mark.parametrize("resource", RESOURCES)
def test_retrieved_bodies_conform(official, example, catalog_url, http, resource):
    for created in example[resource]:
        response = http.get(f"{catalog_url}/{resource}/{created['id']}", timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body == created
        official.check(DEFINITION_BY_RESOURCE[resource], body, f"GET {resource}/{{id}}")


@pytest.mark.parametrize("resource", RESOURCES)
def test_listed_items_conform(official, example, catalog_url, http, resource):
    response = http.get(f"{catalog_url}/{resource}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    items = response.json()
    assert isinstance(items, list)
    assert sorted(item["id"] for item in items) == sorted(body["id"] for body in example[resource])
    assert response.headers["X-Total-Count"] == str(len(items))
    assert response.headers["X-Result-Count"] == str(len(items))
    for item in items:
        official.check(DEFINITION_BY_RESOURCE[resource], item, f"GET {resource} list item")


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
def test_patched_bodies_conform(official, example, catalog_url, http, resource, content_type):
    for created in example[resource]:
        response = http.patch(
            f"{catalog_url}/{resource}/{created['id']}",
            data=json.dumps({"description": f"patched {created['name']}"}),
            headers={"Content-Type": content_type},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["description"] == f"patched {created['name']}"
        assert body["lastUpdate"] >= created["lastUpdate"]
        official.check(DEFINITION_BY_RESOURCE[resource], body, f"PATCH {resource}/{{id}} 200 body")


def test_json_patch_body_conforms(official, example, catalog_url, http):
    offering = example["productOffering"][0]
    response = http.patch(
        f"{catalog_url}/productOffering/{offering['id']}",
        data=json.dumps([{"op": "replace", "path": "/lifecycleStatus", "value": "Launched"}]),
        headers={"Content-Type": "application/json-patch+json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert response.json()["lifecycleStatus"] == "Launched"
    official.check("ProductOffering", response.json(), "PATCH (JSON patch) productOffering 200 body")


def _profile_violations(resource: str, body: dict[str, Any]) -> list[str]:
    missing = [name for name in MANDATORY if body.get(name) in (None, "", [])]
    conditional = (MANDATORY_IF_BUNDLE if body.get("isBundle") else MANDATORY_IF_NOT_BUNDLE).get(resource)
    if conditional is not None and body.get(conditional) in (None, "", []):
        missing.append(f"{conditional} (isBundle {bool(body.get('isBundle'))})")
    return missing


@pytest.mark.parametrize("resource", ["productOffering", "productOfferingPrice", "productSpecification"])
def test_conformance_profile_mandatory_attributes(example, catalog_url, http, resource):
    bodies: list[tuple[str, dict[str, Any]]] = [("POST", body) for body in example[resource]]
    for created in example[resource]:
        bodies.append(("GET", http.get(f"{catalog_url}/{resource}/{created['id']}", timeout=TIMEOUT).json()))
    bodies.extend(("list", item) for item in http.get(f"{catalog_url}/{resource}", timeout=TIMEOUT).json())
    violations = [(how, body.get("id"), _profile_violations(resource, body)) for how, body in bodies]
    assert [v for v in violations if v[2]] == []


def test_the_family_plan_is_a_bundle_and_the_sim_is_not(example):
    offerings = {body["name"]: body for body in example["productOffering"]}
    family = offerings["Premium Family Plan"]
    sim = offerings["Postpaid Mobile 100 GB + unlimited calls"]
    assert family["isBundle"] is True
    assert [child["id"] for child in family["bundledProductOffering"]] == [sim["id"]]
    assert sim["isBundle"] is False
    assert sim["productSpecification"]["id"] in {spec["id"] for spec in example["productSpecification"]}


def test_location_header_equals_href(official, catalog_url, http):
    response = http.post(f"{catalog_url}/productOffering", json={"name": "Located"}, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == response.json()["href"]
    official.check("ProductOffering", response.json(), "POST productOffering 201 body")


@pytest.mark.parametrize("resource", RESOURCES)
def test_not_found_error_conforms(official, catalog_url, http, resource):
    response = http.get(f"{catalog_url}/{resource}/no-such-id", timeout=TIMEOUT)
    assert response.status_code == 404
    body = response.json()
    official.check("Error", body, f"404 of GET {resource}/{{id}}")
    assert body["status"] == "404"
    assert "no-such-id" in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", "/productOffering?_rev=1", None),
        ("GET", "/productOffering?name%3E%3Ex", None),
        ("GET", "/productOffering?limit=-1", None),
        ("POST", "/productOffering", {"name": 5}),
        ("POST", "/productOffering", {"name": "x", "id": "chosen-by-client"}),
        ("POST", "/productSpecification", {"name": "x", "productSpecCharacteristic": "not an array"}),
    ],
)
def test_bad_request_error_conforms(official, catalog_url, http, method, path, payload):
    response = http.request(method, catalog_url + path, json=payload, timeout=TIMEOUT)
    assert response.status_code == 400, response.text
    body = response.json()
    official.check("Error", body, f"400 of {method} {path}")
    assert body["status"] == "400"
    assert body["message"]
