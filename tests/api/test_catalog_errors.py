"""TMF620 error answers through real HTTP: every status is a TMF Error and bad input changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.api.test_catalog_api import JSON_PATCH, MERGE_PATCH, create
from tests.support import assert_tmf_error
from tmf620_catalog.repository import COLLECTIONS
from tmf_common.resource_service import ResourceService

TIMEOUT = 10
LIMIT_BYTES = 256 * 1024  # tests/conftest.py settings
MAX_DEPTH = 32
RESOURCES = list(COLLECTIONS)


def send(
    http: requests.Session, method: str, url: str, data: bytes | str, content_type: str, **headers: str
) -> requests.Response:
    return http.request(method, url, data=data, headers={"Content-Type": content_type, **headers}, timeout=TIMEOUT)


def count(database, resource: str) -> int:  # type: ignore[no-untyped-def]
    return int(database[COLLECTIONS[resource]].count_documents({}))


@pytest.fixture
def existing(catalog_url, http) -> Iterator[tuple[str, requests.Response]]:
    """An offering to patch, with the response that created it, to show that refused patches change nothing."""
    response = create(http, catalog_url, "productOffering", {"name": "Existing", "channel": [{"id": "web"}]})
    yield response.json()["href"], response


def assert_unchanged(http: requests.Session, url: str, created: requests.Response) -> None:
    stored = http.get(url, timeout=TIMEOUT)
    assert stored.status_code == 200
    assert stored.json() == created.json()
    assert stored.headers["ETag"] == created.headers["ETag"]


# ----------------------------------------------------------------------------------------------- 400 on create


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(
    "raw",
    [b'{"name": "Broken"', b"{name: 'x'}", b'{"name": "x",}', b"", b"not json", b'{"name": "x"} trailing'],
)
def test_malformed_json_on_create(catalog_url, http, database, resource, raw):
    create(http, catalog_url, resource, {"name": "Already there"})
    response = send(http, "POST", f"{catalog_url}/{resource}", raw, "application/json")
    assert_tmf_error(response, 400)
    assert count(database, resource) == 1


@pytest.mark.parametrize(
    ("body", "attribute"),
    [
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": ["x"]}, "name"),
        ({"name": "x", "isBundle": "yes"}, "isBundle"),
        ({"name": "x", "channel": {"id": "web"}}, "channel"),
        ({"name": "x", "channel": [{"name": "no id"}]}, "id"),
        ({"name": "x", "validFor": "2024-01-01"}, "validFor"),
        ({"name": "x", "productSpecification": {"name": "no id"}}, "id"),
    ],
)
def test_wrong_types_on_create(catalog_url, http, database, body, attribute):
    response = http.post(f"{catalog_url}/productOffering", json=body, timeout=TIMEOUT)
    error = assert_tmf_error(response, 400)
    assert attribute in error["message"]
    assert count(database, "productOffering") == 0


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("body", [{}, {"description": "nameless"}, [], ["name"], "name", 5])
def test_missing_name_or_non_object_on_create(catalog_url, http, database, resource, body):
    response = http.post(f"{catalog_url}/{resource}", json=body, timeout=TIMEOUT)
    error = assert_tmf_error(response, 400)
    if isinstance(body, dict):
        assert "name" in error["message"]
    assert count(database, resource) == 0


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(
    ("attribute", "value"),
    [("id", "chosen-by-client"), ("href", "http://example.com/x"), ("lastUpdate", "2024-01-01T00:00:00Z")],
)
def test_read_only_attribute_on_create(catalog_url, http, database, resource, attribute, value):
    response = http.post(f"{catalog_url}/{resource}", json={"name": "x", attribute: value}, timeout=TIMEOUT)
    error = assert_tmf_error(response, 400)
    assert f"'{attribute}'" in error["message"]
    assert count(database, resource) == 0


# ----------------------------------------------------------------------------------------------- 400 on patch


@pytest.mark.parametrize("content_type", ["application/json", MERGE_PATCH, JSON_PATCH])
@pytest.mark.parametrize("raw", [b'{"name": ', b"[{]", b"nope"])
def test_malformed_json_on_patch(http, existing, content_type, raw):
    url, created = existing
    assert_tmf_error(send(http, "PATCH", url, raw, content_type), 400)
    assert_unchanged(http, url, created)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", {"name": 5}),
        (MERGE_PATCH, {"name": 5}),
        (MERGE_PATCH, {"isBundle": "yes"}),
        (MERGE_PATCH, {"channel": [{"name": "no id"}]}),
        (JSON_PATCH, [{"op": "replace", "path": "/name", "value": 5}]),
        (JSON_PATCH, [{"op": "add", "path": "/channel/-", "value": "web"}]),
        (JSON_PATCH, [{"op": "jump", "path": "/name"}]),
        (JSON_PATCH, [{"path": "/name", "value": "x"}]),
        (JSON_PATCH, {"op": "replace", "path": "/name", "value": "not a list"}),
        (MERGE_PATCH, ["not", "an", "object"]),
    ],
)
def test_wrong_types_on_patch(http, existing, content_type, body):
    url, created = existing
    assert_tmf_error(send(http, "PATCH", url, json.dumps(body), content_type), 400)
    assert_unchanged(http, url, created)


@pytest.mark.parametrize(
    ("content_type", "body", "attribute"),
    [
        ("application/json", {"id": "other"}, "id"),
        (MERGE_PATCH, {"href": "http://example.com/elsewhere"}, "href"),
        (MERGE_PATCH, {"lastUpdate": "2020-01-01T00:00:00.000Z"}, "lastUpdate"),
        (MERGE_PATCH, {"id": None}, "id"),
        (JSON_PATCH, [{"op": "replace", "path": "/id", "value": "other"}], "id"),
        (JSON_PATCH, [{"op": "remove", "path": "/href"}], "href"),
        (JSON_PATCH, [{"op": "replace", "path": "/lastUpdate", "value": "2020-01-01T00:00:00.000Z"}], "lastUpdate"),
    ],
)
def test_read_only_attribute_in_patch(http, existing, content_type, body, attribute):
    url, created = existing
    error = assert_tmf_error(send(http, "PATCH", url, json.dumps(body), content_type), 400)
    assert f"'{attribute}'" in error["message"]
    assert_unchanged(http, url, created)


# ----------------------------------------------------------------------------------------------- 404


@pytest.mark.parametrize("resource", RESOURCES)
def test_unknown_id_is_404(catalog_url, http, database, resource):
    create(http, catalog_url, resource, {"name": "Someone else"})
    url = f"{catalog_url}/{resource}/{uuid.uuid4()}"
    assert_tmf_error(http.get(url, timeout=TIMEOUT), 404)
    assert_tmf_error(send(http, "PATCH", url, json.dumps({"name": "x"}), "application/json"), 404)
    assert_tmf_error(send(http, "PATCH", url, json.dumps([{"op": "add", "path": "/a", "value": 1}]), JSON_PATCH), 404)
    assert_tmf_error(http.delete(url, timeout=TIMEOUT), 404)
    assert count(database, resource) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/tmf-api/productCatalogManagement/v4/nothingHere",
        "/tmf-api/productCatalogManagement/v4/productOffering/a/b",
        "/tmf-api/productCatalogManagement/v3/productOffering",
        "/no/such/api",
    ],
)
def test_unknown_path_is_404(server, http, path):
    assert_tmf_error(http.get(server.url + path, timeout=TIMEOUT), 404)


# ----------------------------------------------------------------------------------------------- 405


@pytest.mark.parametrize("resource", RESOURCES)
def test_method_not_allowed(catalog_url, http, database, resource):
    created = create(http, catalog_url, resource, {"name": "Fixed"})
    item = created.json()["href"]
    assert_tmf_error(http.put(item, json={"name": "Replaced"}, timeout=TIMEOUT), 405)
    assert_tmf_error(http.post(item, json={"name": "Posted"}, timeout=TIMEOUT), 405)
    assert_tmf_error(http.delete(f"{catalog_url}/{resource}", timeout=TIMEOUT), 405)
    assert_tmf_error(http.patch(f"{catalog_url}/{resource}", json={"name": "All"}, timeout=TIMEOUT), 405)
    assert_tmf_error(http.put(f"{catalog_url}/{resource}", json=[{"name": "All"}], timeout=TIMEOUT), 405)
    assert count(database, resource) == 1
    assert_unchanged(http, item, created)


def test_method_not_allowed_names_the_allowed_methods(catalog_url, http):
    item = create(http, catalog_url, "productOffering", {"name": "Fixed"}).json()["href"]
    response = http.put(item, json={"name": "Replaced"}, timeout=TIMEOUT)
    assert_tmf_error(response, 405)
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed
    assert "PUT" not in allowed


# ----------------------------------------------------------------------------------------------- 409


def _refer(kind: str, target_id: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "offering->specification": {"productSpecification": {"id": target_id}},
        "specification->specification": {"isBundle": True, "bundledProductSpecification": [{"id": target_id}]},
        "offering->offering": {"isBundle": True, "bundledProductOffering": [{"id": target_id}]},
        "category->offering": {"productOffering": [{"id": target_id}]},
        "offering->price": {"productOfferingPrice": [{"id": target_id}]},
        "price->price": {"isBundle": True, "bundledPopRelationship": [{"id": target_id}]},
        "catalog->category": {"category": [{"id": target_id}]},
        "offering->category": {"category": [{"id": target_id}]},
        "category->category": {"parentId": target_id},
    }
    return {"name": f"Refers by {kind}", **bodies[kind]}


@pytest.mark.parametrize(
    ("referred", "referrer", "kind"),
    [
        ("productSpecification", "productOffering", "offering->specification"),
        ("productSpecification", "productSpecification", "specification->specification"),
        ("productOffering", "productOffering", "offering->offering"),
        ("productOffering", "category", "category->offering"),
        ("productOfferingPrice", "productOffering", "offering->price"),
        ("productOfferingPrice", "productOfferingPrice", "price->price"),
        ("category", "catalog", "catalog->category"),
        ("category", "productOffering", "offering->category"),
        ("category", "category", "category->category"),
    ],
)
def test_delete_of_a_referenced_entity_conflicts_until_the_referrer_is_gone(
    catalog_url, http, database, referred, referrer, kind
):
    target = create(http, catalog_url, referred, {"name": "Referred"})
    target_url = target.json()["href"]
    referring_url = create(http, catalog_url, referrer, _refer(kind, target.json()["id"])).json()["href"]

    error = assert_tmf_error(http.delete(target_url, timeout=TIMEOUT), 409)
    assert target.json()["id"] in error["message"]
    assert_unchanged(http, target_url, target)

    assert http.delete(referring_url, timeout=TIMEOUT).status_code == 204
    assert http.delete(target_url, timeout=TIMEOUT).status_code == 204
    assert_tmf_error(http.get(target_url, timeout=TIMEOUT), 404)


def test_delete_conflict_with_a_stale_if_match_is_412_first(catalog_url, http):
    spec = create(http, catalog_url, "productSpecification", {"name": "Spec"})
    create(http, catalog_url, "productOffering", _refer("offering->specification", spec.json()["id"]))
    response = http.delete(spec.json()["href"], headers={"If-Match": '"stale"'}, timeout=TIMEOUT)
    assert_tmf_error(response, 412)
    assert_unchanged(http, spec.json()["href"], spec)


# ----------------------------------------------------------------------------------------------- 412


def test_stale_if_match_on_patch_and_delete(http, existing):
    url, created = existing
    stale = '"not-the-current-version"'
    response = send(http, "PATCH", url, json.dumps({"name": "x"}), MERGE_PATCH, **{"If-Match": stale})
    error = assert_tmf_error(response, 412)
    assert error["code"]
    assert_tmf_error(http.delete(url, headers={"If-Match": stale}, timeout=TIMEOUT), 412)
    assert_unchanged(http, url, created)


# ----------------------------------------------------------------------------------------------- 413


def _oversized_offering() -> bytes:
    return json.dumps({"name": "Huge", "description": "x" * (LIMIT_BYTES + 1)}).encode()


def test_oversized_create_is_413(catalog_url, http, database):
    create(http, catalog_url, "productOffering", {"name": "Small"})
    response = send(http, "POST", f"{catalog_url}/productOffering", _oversized_offering(), "application/json")
    assert_tmf_error(response, 413)
    assert count(database, "productOffering") == 1


def test_oversized_create_without_content_length_is_413(catalog_url, http, database):
    payload = _oversized_offering()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 16 * 1024):
            yield payload[start : start + 16 * 1024]

    response = http.post(
        f"{catalog_url}/productOffering", data=chunks(), headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert_tmf_error(response, 413)
    assert count(database, "productOffering") == 0


def test_oversized_patch_is_413(http, existing):
    url, created = existing
    assert_tmf_error(send(http, "PATCH", url, _oversized_offering(), MERGE_PATCH), 413)
    assert_unchanged(http, url, created)


def test_body_just_under_the_limit_is_accepted(catalog_url, http, database):
    overhead = len(json.dumps({"name": "Big", "description": ""}).encode())
    payload = json.dumps({"name": "Big", "description": "x" * (LIMIT_BYTES - overhead)}).encode()
    assert len(payload) == LIMIT_BYTES
    response = send(http, "POST", f"{catalog_url}/productOffering", payload, "application/json")
    assert response.status_code == 201, response.text[:300]
    assert count(database, "productOffering") == 1


# ----------------------------------------------------------------------------------------------- 415


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_unsupported_content_type_on_create(catalog_url, http, database, content_type):
    response = send(http, "POST", f"{catalog_url}/productOffering", json.dumps({"name": "Typed"}), content_type)
    assert_tmf_error(response, 415)
    assert count(database, "productOffering") == 0


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "application/json-patch-query+json"])
def test_unsupported_content_type_on_patch(http, existing, content_type):
    url, created = existing
    assert_tmf_error(send(http, "PATCH", url, json.dumps({"name": "Typed"}), content_type), 415)
    assert_unchanged(http, url, created)


# ----------------------------------------------------------------------------------------------- depth


def _nested_value(levels: int) -> Any:
    value: Any = "deep"
    for _ in range(levels):
        value = [value]
    return value


def _specification_of_depth(depth: int) -> bytes:
    """A specification whose JSON text nests exactly `depth` levels of arrays and objects."""
    outer = 5  # body, productSpecCharacteristic, characteristic, productSpecCharacteristicValue, value spec
    body = {
        "name": "Deep",
        "productSpecCharacteristic": [
            {"name": "deep", "productSpecCharacteristicValue": [{"value": _nested_value(depth - outer)}]}
        ],
    }
    return json.dumps(body).encode()


def _depth(raw: bytes) -> int:
    depth = deepest = 0
    for char in raw.decode():
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def test_json_nested_deeper_than_the_limit_is_400(catalog_url, http, database):
    raw = _specification_of_depth(MAX_DEPTH + 1)
    assert _depth(raw) == MAX_DEPTH + 1
    error = assert_tmf_error(send(http, "POST", f"{catalog_url}/productSpecification", raw, "application/json"), 400)
    assert str(MAX_DEPTH) in error["message"]
    assert count(database, "productSpecification") == 0


def test_json_nested_to_the_limit_is_stored_and_returned(catalog_url, http, database):
    raw = _specification_of_depth(MAX_DEPTH)
    assert _depth(raw) == MAX_DEPTH
    response = send(http, "POST", f"{catalog_url}/productSpecification", raw, "application/json")
    assert response.status_code == 201, response.text
    stored = http.get(response.json()["href"], timeout=TIMEOUT).json()
    assert stored["productSpecCharacteristic"] == json.loads(raw)["productSpecCharacteristic"]


def test_deep_json_patch_is_400(http, existing):
    url, created = existing
    operations = [{"op": "add", "path": "/deep", "value": _nested_value(MAX_DEPTH + 5)}]
    assert_tmf_error(send(http, "PATCH", url, json.dumps(operations), JSON_PATCH), 400)
    assert_unchanged(http, url, created)


def test_deep_json_inside_a_string_is_not_nesting(catalog_url, http):
    text = "[" * (MAX_DEPTH + 10)
    response = http.post(f"{catalog_url}/productOffering", json={"name": text}, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == text


# ----------------------------------------------------------------------------------------------- unstorable input


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "x", "percentage": NaN}',
        b'{"name": "x", "percentage": Infinity}',
        b'{"name": "x", "percentage": -Infinity}',
        b'{"name": "\xff\xfe"}',
    ],
    ids=["NaN", "Infinity", "-Infinity", "invalid-utf8"],
)
def test_text_that_is_not_json_is_400(catalog_url, http, database, raw):
    response = send(http, "POST", f"{catalog_url}/productOfferingPrice", raw, "application/json")
    assert_tmf_error(response, 400)
    assert count(database, "productOfferingPrice") == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "x", "percentage": 1e400}',
        b'{"name": "x", "recurringChargePeriodLength": 99999999999999999999}',
        b'{"name": "x", "productOfferingTerm": [{"name": "t", "duration": {"amount": -99999999999999999999}}]}',
        b'{"name": "x", "pricingLogicAlgorithm": [{"name": "a", "n\u0000ul": 1}]}',
        b'{"name": "x", "": "empty key"}',
    ],
    ids=["overflowing-double", "integer-over-int64", "nested-integer-under-int64", "nul-in-key", "empty-key"],
)
def test_json_the_database_cannot_hold_is_refused_or_round_trips(catalog_url, http, database, raw):
    """Valid JSON outside the database's value space: a clear 400, or stored so that it comes back equal; never 500."""
    response = send(http, "POST", f"{catalog_url}/productOfferingPrice", raw, "application/json")
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert_tmf_error(response, 400)
        assert count(database, "productOfferingPrice") == 0
        return
    sent = json.loads(raw)
    stored = http.get(response.json()["href"], timeout=TIMEOUT).json()
    assert {key: stored[key] for key in sent} == sent


# ----------------------------------------------------------------------------------------------- 500


def test_unexpected_error_is_500_without_details(catalog_url, http, monkeypatch, existing):
    url, _ = existing

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom secret")

    monkeypatch.setattr(ResourceService, "retrieve", explode)
    response = http.get(url, timeout=TIMEOUT)
    body = assert_tmf_error(response, 500)
    correlation_id = body["correlationId"]
    assert str(uuid.UUID(correlation_id)) == correlation_id
    assert correlation_id in body["message"]
    assert "boom" not in response.text
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert 'File "' not in response.text

    second = http.get(url, timeout=TIMEOUT)
    assert assert_tmf_error(second, 500)["correlationId"] != correlation_id

    monkeypatch.undo()
    assert http.get(url, timeout=TIMEOUT).status_code == 200
