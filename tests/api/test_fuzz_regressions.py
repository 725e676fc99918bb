"""Requests the fuzzer (or reading the code behind what it found) showed answered with a 500 or a broken body."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.payloads import family_plan_order
from tests.support import CANONICAL_INSTANT, assert_tmf_error

TIMEOUT = 10
ORDERING_BASE = "/tmf-api/productOrderingManagement/v4"
INT64_MAX = 2**63 - 1


def created(http: requests.Session, url: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = http.post(url, json=body, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    resource: dict[str, Any] = response.json()
    return resource


def merge_patch(http: requests.Session, url: str, body: Any) -> requests.Response:
    return http.patch(
        url, data=json.dumps(body), headers={"Content-Type": "application/merge-patch+json"}, timeout=TIMEOUT
    )


@pytest.fixture
def ordering_url(server, database) -> str:  # type: ignore[no-untyped-def]
    return server.url + ORDERING_BASE


# FerretDB's SQLite backend writes top-level keys into its JSON unescaped: `"` made the insert fail (500), and a
# backslash or control character was stored but made every later read of the collection fail.
@pytest.mark.parametrize("key", ['say "hi"', "back\\slash", "tab\there", "shift\x0eout", "line\nbreak", "\x1f"])
def test_top_level_key_with_quote_backslash_or_control_character_round_trips(catalog_url, http, database, key):
    body = {"name": "Odd keys", key: {"nested " + key: [key]}}
    category = created(http, f"{catalog_url}/category", body)
    assert category[key] == body[key]

    fetched = http.get(category["href"], timeout=TIMEOUT)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()[key] == body[key]
    listed = http.get(f"{catalog_url}/category", timeout=TIMEOUT)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()] == [category["id"]]
    # The collection stays readable for every client, the test fixtures' pymongo included.
    assert database["category"].count_documents({}) == 1
    assert len(list(database["category"].find({}))) == 1


# FerretDB stores such keys on insert, but an update naming one (`$set`/`$unset` of an empty path element, or one
# with whitespace at either end) was refused: a PATCH adding or removing the key answered 500.
@pytest.mark.parametrize("key", ["", " ", " padded ", "\xa0no-break", "ideographic\u3000", "\u2028", "\x85"])
def test_empty_or_whitespace_edged_top_level_key_can_be_added_and_removed_by_patch(catalog_url, http, key):
    offering = created(http, f"{catalog_url}/productOffering", {"name": "Odd key"})

    added = merge_patch(http, offering["href"], {key: {key: 1}})
    assert added.status_code == 200, added.text
    assert added.json()[key] == {key: 1}
    assert http.get(offering["href"], timeout=TIMEOUT).json()[key] == {key: 1}

    removed = merge_patch(http, offering["href"], {key: None})
    assert removed.status_code == 200, removed.text
    assert key not in removed.json()
    assert key not in http.get(offering["href"], timeout=TIMEOUT).json()


def test_date_time_before_year_1000_keeps_a_four_digit_year(catalog_url, http):
    # strftime's %Y wrote year 398 as "398", which is not an RFC 3339 date-time (and sorts wrongly as a string).
    offering = created(
        http,
        f"{catalog_url}/productOffering",
        {
            "name": "Ancient",
            "validFor": {"startDateTime": "0398-07-03T17:52:07Z", "endDateTime": "0983-11-09T10:42:03+00:05"},
        },
    )
    assert offering["validFor"] == {
        "startDateTime": "0398-07-03T17:52:07.000Z",
        "endDateTime": "0983-11-09T10:37:03.000Z",
    }
    assert all(CANONICAL_INSTANT.match(value) for value in offering["validFor"].values())

    found = http.get(
        f"{catalog_url}/productOffering", params={"validFor.startDateTime": "0398-07-03T17:52:07Z"}, timeout=TIMEOUT
    )
    assert found.status_code == 200, found.text
    assert [item["id"] for item in found.json()] == [offering["id"]]


@pytest.mark.parametrize("text", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_date_time_whose_utc_instant_leaves_years_1_to_9999_is_kept_as_sent(catalog_url, http, text):
    # Converting to UTC overflowed the datetime range: an OverflowError, answered 500.
    offering = created(
        http, f"{catalog_url}/productOffering", {"name": "Edge of time", "validFor": {"startDateTime": text}}
    )
    assert offering["validFor"]["startDateTime"] == text
    assert http.get(offering["href"], timeout=TIMEOUT).json()["validFor"]["startDateTime"] == text


@pytest.mark.parametrize("number", [INT64_MAX + 1, 2**64, -(2**63) - 1, 10**30])
def test_integer_outside_int64_on_idempotent_create_is_refused(ordering_url, http, database, number):
    # The idempotency fingerprint (orjson) failed on the integer before storage could refuse it: 500.
    body = family_plan_order(description="Big number")
    body["productOrderItem"][0]["product"]["productCharacteristic"][0]["value"] = number
    response = http.post(
        f"{ordering_url}/productOrder",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "Idempotency-Key": f"big-{number}"},
        timeout=TIMEOUT,
    )
    error = assert_tmf_error(response, 400)
    assert str(number) in error["message"]
    assert database["product_order"].count_documents({}) == 0


def test_integer_at_the_int64_limits_is_stored(ordering_url, http):
    body = family_plan_order()
    body["productOrderItem"][0]["product"]["productCharacteristic"][0]["value"] = INT64_MAX
    body["productOrderItem"][1]["product"]["productCharacteristic"][0]["value"] = -(2**63)
    order = created(http, f"{ordering_url}/productOrder", body, **{"Idempotency-Key": "int64-limits"})
    items = order["productOrderItem"]
    assert items[0]["product"]["productCharacteristic"][0]["value"] == INT64_MAX
    assert items[1]["product"]["productCharacteristic"][0]["value"] == -(2**63)


def test_integer_outside_int64_in_a_patch_is_refused_and_changes_nothing(catalog_url, http):
    # Change detection (orjson) failed on the patched body before storage could refuse it: 500.
    offering = created(http, f"{catalog_url}/productOffering", {"name": "Unchanged"})
    response = merge_patch(http, offering["href"], {"description": "big", "extension": {"n": 2**64}})
    assert_tmf_error(response, 400)
    after = http.get(offering["href"], timeout=TIMEOUT).json()
    assert after == offering


def test_regular_expression_with_a_huge_repetition_count_is_a_400(catalog_url, http):
    # re.compile raises OverflowError, not re.error, for a{4294967295}: 500.
    created(http, f"{catalog_url}/category", {"name": "aaa"})
    response = http.get(f"{catalog_url}/category?name=~a{{4294967295}}", timeout=TIMEOUT)
    error = assert_tmf_error(response, 400)
    assert "name" in error["message"]


def test_bare_date_filter_on_the_last_representable_day_matches_that_whole_day(catalog_url, http):
    # The whole-day range of 9999-12-31 needed the next day, which datetime cannot hold: 500.
    url = f"{catalog_url}/category"
    morning = created(http, url, {"name": "Morning", "validFor": {"startDateTime": "9999-12-31T00:00:00Z"}})
    evening = created(http, url, {"name": "Evening", "validFor": {"startDateTime": "9999-12-31T23:59:59.999Z"}})
    created(http, url, {"name": "Day before", "validFor": {"startDateTime": "9999-12-30T23:59:59.999Z"}})
    response = http.get(url, params={"validFor.startDateTime": "9999-12-31"}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()] == [morning["id"], evening["id"]]
