"""TMF620 over real HTTP and the real database: CRUD, patches, ETags, concurrency and storage encoding."""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.support import assert_tmf_error, parse_instant
from tmf620_catalog.repository import COLLECTIONS

TIMEOUT = 10

# Resource path -> the @type the server gives it.
TYPE_NAMES = {
    "catalog": "Catalog",
    "category": "Category",
    "productSpecification": "ProductSpecification",
    "productOffering": "ProductOffering",
    "productOfferingPrice": "ProductOfferingPrice",
}
RESOURCES = list(TYPE_NAMES)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def create(http: requests.Session, catalog_url: str, resource: str, body: dict[str, Any]) -> requests.Response:
    response = http.post(f"{catalog_url}/{resource}", json=body, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return response


def patch(
    http: requests.Session, url: str, body: Any, content_type: str = "application/json", **headers: str
) -> requests.Response:
    return http.patch(url, data=json.dumps(body), headers={"Content-Type": content_type, **headers}, timeout=TIMEOUT)


# ----------------------------------------------------------------------------------------------- create


@pytest.mark.parametrize("resource", RESOURCES)
def test_create_sets_server_attributes_and_headers(catalog_url, http, database, resource):
    before = datetime.now(UTC)
    response = create(http, catalog_url, resource, {"name": f"New {resource}"})
    body = response.json()

    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["href"] == f"{catalog_url}/{resource}/{body['id']}"
    assert response.headers["Location"] == body["href"]
    assert re.fullmatch(r'(W/)?"[^"]+"', response.headers["ETag"])
    assert body["name"] == f"New {resource}"
    assert body["lifecycleStatus"] == "In Design"
    assert body["@type"] == TYPE_NAMES[resource]
    stamped = parse_instant(body["lastUpdate"])
    assert before - timedelta(seconds=1) <= stamped <= datetime.now(UTC) + timedelta(seconds=1)
    assert database[COLLECTIONS[resource]].count_documents({}) == 1


@pytest.mark.parametrize("resource", RESOURCES)
def test_create_keeps_given_lifecycle_status_and_type(catalog_url, http, resource):
    body = create(
        http, catalog_url, resource, {"name": "Given", "lifecycleStatus": "Active", "@type": "MyExtension"}
    ).json()
    assert body["lifecycleStatus"] == "Active"
    assert body["@type"] == "MyExtension"


@pytest.mark.parametrize("resource", RESOURCES)
def test_each_create_gets_its_own_id(catalog_url, http, resource):
    ids = {create(http, catalog_url, resource, {"name": "Same"}).json()["id"] for _ in range(3)}
    assert len(ids) == 3


def test_create_keeps_client_attributes(catalog_url, http):
    sent = {
        "name": "Postpaid Mobile 100 GB",
        "description": "100 GB and unlimited calls",
        "isBundle": False,
        "version": "2.1",
        "productSpecification": {"id": "spec-1", "name": "Mobile line"},
        "channel": [{"id": "web"}, {"id": "shop", "name": "Shop"}],
        "validFor": {"startDateTime": "2024-05-01T00:00:00.000Z"},
    }
    body = create(http, catalog_url, "productOffering", sent).json()
    assert {key: body[key] for key in sent} == sent


def test_create_and_patch_accept_a_charset_parameter(catalog_url, http):
    response = http.post(
        f"{catalog_url}/productOffering",
        data=json.dumps({"name": "Ünïcødé 📱 plan"}).encode(),
        headers={"Content-Type": "application/json;charset=utf-8"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    url = response.json()["href"]
    assert http.get(url, timeout=TIMEOUT).json()["name"] == "Ünïcødé 📱 plan"
    for content_type, body in [
        ("application/json; charset=utf-8", {"description": "merged"}),
        (f"{MERGE_PATCH}; charset=utf-8", {"version": "2"}),
        (f"{JSON_PATCH}; charset=UTF-8", [{"op": "replace", "path": "/name", "value": "Ascii plan"}]),
    ]:
        patched = patch(http, url, body, content_type)
        assert patched.status_code == 200, patched.text
    stored = http.get(url, timeout=TIMEOUT).json()
    assert (stored["name"], stored["description"], stored["version"]) == ("Ascii plan", "merged", "2")


# ----------------------------------------------------------------------------------------------- retrieve


@pytest.mark.parametrize("resource", RESOURCES)
def test_retrieve_returns_the_created_resource_with_its_etag(catalog_url, http, resource):
    created = create(http, catalog_url, resource, {"name": "Kept", "description": "As posted"})
    response = http.get(created.headers["Location"], timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == created.json()
    assert response.headers["ETag"] == created.headers["ETag"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_retrieve_with_fields_returns_only_the_named_attributes(catalog_url, http, resource):
    created = create(http, catalog_url, resource, {"name": "Selected", "description": "Hidden"}).json()
    url = created["href"]

    named = http.get(url, params={"fields": "name"}, timeout=TIMEOUT)
    assert named.status_code == 200
    assert named.json() == {"id": created["id"], "href": created["href"], "name": "Selected"}

    two = http.get(url, params={"fields": "name,lifecycleStatus"}, timeout=TIMEOUT).json()
    assert two == {"id": created["id"], "href": created["href"], "name": "Selected", "lifecycleStatus": "In Design"}

    none = http.get(url, params={"fields": "none"}, timeout=TIMEOUT)
    assert none.status_code == 200
    assert none.json() == {"id": created["id"], "href": created["href"]}


# ----------------------------------------------------------------------------------------------- list


@pytest.mark.parametrize("resource", RESOURCES)
def test_list_returns_every_resource_with_count_headers(catalog_url, http, resource):
    ids = {create(http, catalog_url, resource, {"name": f"Item {n}"}).json()["id"] for n in range(3)}
    response = http.get(f"{catalog_url}/{resource}", timeout=TIMEOUT)
    assert response.status_code == 200
    assert {item["id"] for item in response.json()} == ids
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Result-Count"] == "3"


@pytest.mark.parametrize("resource", RESOURCES)
def test_list_of_an_empty_collection(catalog_url, http, resource):
    response = http.get(f"{catalog_url}/{resource}", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert response.headers["X-Result-Count"] == "0"


# ----------------------------------------------------------------------------------------------- patch


@pytest.mark.parametrize("resource", RESOURCES)
def test_patch_with_application_json_merges(catalog_url, http, resource):
    created = create(
        http, catalog_url, resource, {"name": "Before", "validFor": {"startDateTime": "2024-01-01T00:00:00.000Z"}}
    )
    url = created.json()["href"]
    response = patch(http, url, {"name": "After", "validFor": {"endDateTime": "2025-01-01T00:00:00.000Z"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "After"
    assert body["validFor"] == {
        "startDateTime": "2024-01-01T00:00:00.000Z",
        "endDateTime": "2025-01-01T00:00:00.000Z",
    }
    assert body["id"] == created.json()["id"]
    assert parse_instant(body["lastUpdate"]) >= parse_instant(created.json()["lastUpdate"])
    assert response.headers["ETag"] != created.headers["ETag"]
    stored = http.get(url, timeout=TIMEOUT)
    assert stored.json() == body
    assert stored.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_merge_patch_null_deletes_an_attribute(catalog_url, http, resource):
    url = create(http, catalog_url, resource, {"name": "Described", "description": "Goes away", "version": "1"}).json()[
        "href"
    ]
    response = patch(http, url, {"description": None, "version": "2"}, MERGE_PATCH)
    assert response.status_code == 200, response.text
    assert "description" not in response.json()
    assert response.json()["version"] == "2"
    stored = http.get(url, timeout=TIMEOUT).json()
    assert "description" not in stored
    assert stored["version"] == "2"


@pytest.mark.parametrize("resource", RESOURCES)
def test_json_patch_add_replace_remove_and_test(catalog_url, http, resource):
    url = create(http, catalog_url, resource, {"name": "Original", "version": "1"}).json()["href"]
    operations = [
        {"op": "test", "path": "/name", "value": "Original"},
        {"op": "add", "path": "/description", "value": "Added"},
        {"op": "replace", "path": "/name", "value": "Replaced"},
        {"op": "remove", "path": "/version"},
    ]
    response = patch(http, url, operations, JSON_PATCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description"] == "Added"
    assert body["name"] == "Replaced"
    assert "version" not in body
    assert http.get(url, timeout=TIMEOUT).json() == body


@pytest.mark.parametrize("resource", RESOURCES)
def test_json_patch_with_a_failing_test_changes_nothing(catalog_url, http, resource):
    created = create(http, catalog_url, resource, {"name": "Untouched"})
    url = created.json()["href"]
    operations = [
        {"op": "replace", "path": "/name", "value": "Changed"},
        {"op": "test", "path": "/name", "value": "Something else"},
    ]
    assert_tmf_error(patch(http, url, operations, JSON_PATCH), 400)
    stored = http.get(url, timeout=TIMEOUT)
    assert stored.json() == created.json()
    assert stored.headers["ETag"] == created.headers["ETag"]


def test_json_patch_on_a_missing_path_is_refused(catalog_url, http):
    created = create(http, catalog_url, "productOffering", {"name": "No channels"})
    url = created.json()["href"]
    response = patch(http, url, [{"op": "replace", "path": "/channel/0/id", "value": "web"}], JSON_PATCH)
    assert_tmf_error(response, 400)
    assert http.get(url, timeout=TIMEOUT).json() == created.json()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (MERGE_PATCH, {"name": None}),
        (JSON_PATCH, [{"op": "remove", "path": "/name"}]),
    ],
)
def test_patch_cannot_remove_the_mandatory_name(catalog_url, http, content_type, body):
    created = create(http, catalog_url, "productOffering", {"name": "Named"})
    url = created.json()["href"]
    assert_tmf_error(patch(http, url, body, content_type), 400)
    assert http.get(url, timeout=TIMEOUT).json()["name"] == "Named"


def test_patch_nested_array_element_with_json_patch(catalog_url, http):
    url = create(http, catalog_url, "productOffering", {"name": "Channels", "channel": [{"id": "web"}]}).json()["href"]
    response = patch(http, url, [{"op": "add", "path": "/channel/0/name", "value": "Web shop"}], JSON_PATCH)
    assert response.status_code == 200, response.text
    assert http.get(url, timeout=TIMEOUT).json()["channel"] == [{"id": "web", "name": "Web shop"}]


# ----------------------------------------------------------------------------------------------- delete


@pytest.mark.parametrize("resource", RESOURCES)
def test_delete_removes_the_resource(catalog_url, http, resource):
    kept = create(http, catalog_url, resource, {"name": "Kept"}).json()
    url = create(http, catalog_url, resource, {"name": "Deleted"}).json()["href"]

    response = http.delete(url, timeout=TIMEOUT)
    assert response.status_code == 204
    assert response.content == b""

    assert_tmf_error(http.get(url, timeout=TIMEOUT), 404)
    listed = http.get(f"{catalog_url}/{resource}", timeout=TIMEOUT)
    assert [item["id"] for item in listed.json()] == [kept["id"]]
    assert listed.headers["X-Total-Count"] == "1"
    assert_tmf_error(http.delete(url, timeout=TIMEOUT), 404)
    assert_tmf_error(patch(http, url, {"name": "Back"}), 404)


# ----------------------------------------------------------------------------------------------- ETag / If-Match


def test_patch_and_delete_with_the_current_etag_succeed(catalog_url, http):
    created = create(http, catalog_url, "productOffering", {"name": "Versioned"})
    url = created.json()["href"]
    patched = patch(http, url, {"name": "Second"}, **{"If-Match": created.headers["ETag"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Second"
    deleted = http.delete(url, headers={"If-Match": patched.headers["ETag"]}, timeout=TIMEOUT)
    assert deleted.status_code == 204
    assert http.get(url, timeout=TIMEOUT).status_code == 404


def test_stale_etag_is_refused_with_412_and_changes_nothing(catalog_url, http):
    created = create(http, catalog_url, "productOffering", {"name": "First"})
    url = created.json()["href"]
    stale = created.headers["ETag"]
    current = patch(http, url, {"name": "Second"})
    assert current.status_code == 200, current.text

    assert_tmf_error(patch(http, url, {"name": "Lost"}, **{"If-Match": stale}), 412)
    assert_tmf_error(
        patch(http, url, [{"op": "remove", "path": "/description"}], JSON_PATCH, **{"If-Match": stale}), 412
    )
    assert_tmf_error(http.delete(url, headers={"If-Match": stale}, timeout=TIMEOUT), 412)

    stored = http.get(url, timeout=TIMEOUT)
    assert stored.status_code == 200
    assert stored.json() == current.json()
    assert stored.headers["ETag"] == current.headers["ETag"]


def test_if_match_with_a_list_of_etags_accepts_the_current_one(catalog_url, http):
    created = create(http, catalog_url, "productOffering", {"name": "Listed"})
    url = created.json()["href"]
    response = patch(http, url, {"name": "Changed"}, **{"If-Match": f'"older", {created.headers["ETag"]}'})
    assert response.status_code == 200, response.text
    assert_tmf_error(patch(http, url, {"name": "Again"}, **{"If-Match": f'"older", {created.headers["ETag"]}'}), 412)
    assert http.get(url, timeout=TIMEOUT).json()["name"] == "Changed"


def test_if_match_star_is_accepted(catalog_url, http):
    url = create(http, catalog_url, "productOffering", {"name": "Any version"}).json()["href"]
    patched = patch(http, url, {"name": "Changed"}, **{"If-Match": "*"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Changed"
    assert http.delete(url, headers={"If-Match": "*"}, timeout=TIMEOUT).status_code == 204
    assert http.get(url, timeout=TIMEOUT).status_code == 404


def test_if_match_on_an_unknown_resource_is_404(catalog_url, http):
    url = f"{catalog_url}/productOffering/{uuid.uuid4()}"
    assert_tmf_error(patch(http, url, {"name": "x"}, **{"If-Match": "*"}), 404)


def test_etag_changes_after_each_change(catalog_url, http):
    created = create(http, catalog_url, "productOffering", {"name": "v1"})
    url = created.json()["href"]
    etags = [created.headers["ETag"]]
    for body, content_type in [
        ({"name": "v2"}, "application/json"),
        ({"description": "three"}, MERGE_PATCH),
        ([{"op": "replace", "path": "/name", "value": "v4"}], JSON_PATCH),
    ]:
        response = patch(http, url, body, content_type)
        assert response.status_code == 200, response.text
        etags.append(response.headers["ETag"])
        assert http.get(url, timeout=TIMEOUT).headers["ETag"] == etags[-1]
    assert len(set(etags)) == len(etags)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", {"name": "Same"}),
        (MERGE_PATCH, {"name": "Same", "description": "Also same"}),
        (JSON_PATCH, [{"op": "replace", "path": "/name", "value": "Same"}]),
        (JSON_PATCH, [{"op": "test", "path": "/name", "value": "Same"}]),
    ],
)
def test_patch_that_changes_nothing_keeps_the_etag(catalog_url, http, content_type, body):
    created = create(http, catalog_url, "productOffering", {"name": "Same", "description": "Also same"})
    url = created.json()["href"]
    response = patch(http, url, body, content_type)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == created.headers["ETag"]
    assert response.json() == created.json()
    stored = http.get(url, timeout=TIMEOUT)
    assert stored.headers["ETag"] == created.headers["ETag"]
    assert stored.json()["lastUpdate"] == created.json()["lastUpdate"]


# ----------------------------------------------------------------------------------------------- concurrency

WRITERS = 8
ROUNDS = 3  # a race shows itself only sometimes; several rounds make a lost update near certain to show


def _concurrent_patches(url: str, if_match: str | None) -> list[requests.Response]:
    """WRITERS threads, each with its own connection, append a distinct channel at the same moment."""
    barrier = threading.Barrier(WRITERS)
    responses: list[requests.Response | BaseException | None] = [None] * WRITERS

    def write(index: int) -> None:
        headers = {"Content-Type": JSON_PATCH}
        if if_match is not None:
            headers["If-Match"] = if_match
        operations = [{"op": "add", "path": "/channel/-", "value": {"id": f"channel-{index}"}}]
        with requests.Session() as session:
            try:
                barrier.wait(timeout=TIMEOUT)
                responses[index] = session.patch(url, data=json.dumps(operations), headers=headers, timeout=30)
            except BaseException as error:
                responses[index] = error

    threads = [threading.Thread(target=write, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    for result in responses:
        assert isinstance(result, requests.Response), result
    return responses  # type: ignore[return-value]


def test_concurrent_json_patches_without_if_match_lose_no_update(catalog_url, http):
    for _ in range(ROUNDS):
        url = create(http, catalog_url, "productOffering", {"name": "Busy", "channel": []}).json()["href"]
        responses = _concurrent_patches(url, None)
        assert [response.status_code for response in responses] == [200] * WRITERS, [r.text for r in responses]
        channels = http.get(url, timeout=TIMEOUT).json()["channel"]
        assert sorted(channel["id"] for channel in channels) == sorted(f"channel-{index}" for index in range(WRITERS))
        # Each write produced its own version.
        assert len({response.headers["ETag"] for response in responses}) == WRITERS


def test_concurrent_json_patches_with_the_same_if_match_let_exactly_one_win(catalog_url, http):
    for _ in range(ROUNDS):
        created = create(http, catalog_url, "productOffering", {"name": "Contended", "channel": []})
        url = created.json()["href"]
        responses = _concurrent_patches(url, created.headers["ETag"])
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * (WRITERS - 1), [r.text for r in responses]
        for response in responses:
            if response.status_code == 412:
                assert_tmf_error(response, 412)
        winner = next(response for response in responses if response.status_code == 200)
        stored = http.get(url, timeout=TIMEOUT)
        assert stored.json()["channel"] == winner.json()["channel"]
        assert len(stored.json()["channel"]) == 1
        assert stored.headers["ETag"] == winner.headers["ETag"]


# ----------------------------------------------------------------------------------------------- storage encoding

AWKWARD_VALUE: dict[str, Any] = {
    "dotted.key": "a dot",
    "$dollar": "a leading dollar",
    "_underscore": "a leading underscore",
    "literal%2Ekey": "percent-two-E, literally",
    "%24literal": "an encoded dollar, literally",
    "%5B%5D": "the nested-array marker, literally",
    "100%": "a bare percent",
    "mid$dle_and.more.dots": {"$nested.key": [["x", "y"], [], [[1, 2], [3]]], "_id": "not the document id"},
    "list": [{"a.b": 1}, [{"$c": None}], [[{"_d": True}]]],
}


def _awkward_specification() -> dict[str, Any]:
    return {
        "name": "Awkward JSON",
        "productSpecCharacteristic": [
            {
                "name": "matrix",
                "valueType": "array",
                "productSpecCharacteristicValue": [
                    {"value": [[1, 2, 3], [4.5, "six"], [], [[7], [8, [9]]]], "isDefault": True},
                    {"value": AWKWARD_VALUE},
                    {"value": [["a.b", {"$k": "v"}]]},
                ],
            },
            {"name": "empty", "productSpecCharacteristicValue": [{"value": []}, {"value": {}}, {"value": None}]},
        ],
        # Unknown top-level keys that collide with FerretDB rules and with the service's own bookkeeping names.
        "_id": "client data, not the key",
        "_rev": "client data, not the revision",
        "$set": "client data, not an operator",
        "ext.attribute": {"x.y": 1},
    }


def test_storage_encoding_round_trips_exactly(catalog_url, http, database):
    sent = _awkward_specification()
    response = create(http, catalog_url, "productSpecification", sent)
    created = response.json()
    retrieved = http.get(created["href"], timeout=TIMEOUT)
    stored = retrieved.json()
    listed = http.get(f"{catalog_url}/productSpecification", timeout=TIMEOUT).json()
    for representation in (created, stored, listed[0]):
        assert {key: representation[key] for key in sent} == sent
    # The client's `_id`/`_rev` did not replace the document key or the revision.
    document = database[COLLECTIONS["productSpecification"]].find_one({"_id": created["id"]})
    assert document is not None
    assert retrieved.headers["ETag"] == response.headers["ETag"]


def test_storage_encoding_round_trips_through_patch(catalog_url, http):
    sent = _awkward_specification()
    url = create(http, catalog_url, "productSpecification", {"name": "Patched later"}).json()["href"]
    addition = {key: value for key, value in sent.items() if key != "name"}
    response = patch(http, url, addition, MERGE_PATCH)
    assert response.status_code == 200, response.text
    stored = http.get(url, timeout=TIMEOUT).json()
    assert {key: stored[key] for key in addition} == addition

    operations = [
        {
            "op": "add",
            "path": "/productSpecCharacteristic/0/productSpecCharacteristicValue/-",
            "value": {"value": [[0]]},
        }
    ]
    response = patch(http, url, operations, JSON_PATCH)
    assert response.status_code == 200, response.text
    values = http.get(url, timeout=TIMEOUT).json()["productSpecCharacteristic"][0]["productSpecCharacteristicValue"]
    assert values[-1] == {"value": [[0]]}
    assert values[:-1] == sent["productSpecCharacteristic"][0]["productSpecCharacteristicValue"]


def test_date_times_are_stored_canonical_and_everything_else_exactly(catalog_url, http):
    sent = {
        "name": "Dated",
        "validFor": {"startDateTime": "2024-05-01T12:00:00+02:00", "endDateTime": "2024-12-31T23:59:59.5Z"},
        "productSpecCharacteristic": [{"name": "n.a", "productSpecCharacteristicValue": [{"value": {"k.1": [[1]]}}]}],
    }
    body = create(http, catalog_url, "productSpecification", sent).json()
    assert body["validFor"] == {
        "startDateTime": "2024-05-01T10:00:00.000Z",
        "endDateTime": "2024-12-31T23:59:59.500Z",
    }
    assert body["productSpecCharacteristic"] == sent["productSpecCharacteristic"]
    assert http.get(body["href"], timeout=TIMEOUT).json() == body
