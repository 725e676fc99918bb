"""TMF630 list queries against TMF620 through real HTTP: filters, fields, paging and sorting on real data."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.support import assert_tmf_error
from tmf620_catalog.repository import COLLECTIONS

TIMEOUT = 10
SPEC_MOBILE = str(uuid.uuid4())
SPEC_PREPAID = str(uuid.uuid4())
MOBILE = str(uuid.uuid4())

# name -> offering body; validFor offsets are deliberate: the stored (UTC) day differs from the local one.
OFFERINGS: dict[str, dict[str, Any]] = {
    "Premium Family Plan": {
        "lifecycleStatus": "Active",
        "isBundle": True,
        "version": "2",
        "bundledProductOffering": [{"id": MOBILE}, {"id": str(uuid.uuid4())}],
        "validFor": {"startDateTime": "2024-03-01T00:00:00Z"},
    },
    "Prepaid Basic": {
        "lifecycleStatus": "Retired",
        "isBundle": False,
        "version": "1",
        "productSpecification": {"id": SPEC_PREPAID},
        "validFor": {"startDateTime": "2024-01-15T10:00:00+02:00"},  # 08:00Z
    },
    "Postpaid Mobile 100 GB": {
        "lifecycleStatus": "Active",
        "isBundle": False,
        "version": "1",
        "productSpecification": {"id": SPEC_MOBILE},
        "validFor": {"startDateTime": "2024-02-01T23:30:00-01:00"},  # 2024-02-02T00:30Z
    },
    "Pre-order Gadget": {
        "lifecycleStatus": "In Design",
        "version": "10",
        "validFor": {"startDateTime": "2024-06-30T12:00:00.250Z"},
    },
}

PRICES: dict[str, dict[str, Any]] = {
    "Monthly fee": {"priceType": "recurring", "price": {"unit": "EUR", "value": 29.99}},
    "Activation": {"priceType": "oneTime", "price": {"unit": "EUR", "value": 10}},
    "Roaming day": {"priceType": "usage", "price": {"unit": "EUR", "value": 5.5}},
    "Loyalty discount": {"priceType": "discount", "percentage": 15, "unitOfMeasure": {"amount": 12, "units": "month"}},
    "Welcome discount": {"priceType": "discount", "percentage": 7.5, "unitOfMeasure": {"amount": 3, "units": "month"}},
}


def _create_all(http: requests.Session, url: str, bodies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    created = {}
    for name, body in bodies.items():
        response = http.post(url, json={"name": name, **body}, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
        created[name] = response.json()
    return created


@pytest.fixture
def offerings(catalog_url, http) -> dict[str, dict[str, Any]]:
    return _create_all(http, f"{catalog_url}/productOffering", OFFERINGS)


@pytest.fixture
def prices(catalog_url, http) -> dict[str, dict[str, Any]]:
    return _create_all(http, f"{catalog_url}/productOfferingPrice", PRICES)


def names(http: requests.Session, url: str, query: str) -> set[str]:
    """The names listed for a raw query string (sent as written, so the test controls the encoding)."""
    response = http.get(f"{url}?{query}", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    items = response.json()
    assert response.headers["X-Total-Count"] == str(len(items))
    assert response.headers["X-Result-Count"] == str(len(items))
    return {item["name"] for item in items}


# ----------------------------------------------------------------------------------------------- equality and OR


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lifecycleStatus=Active", {"Premium Family Plan", "Postpaid Mobile 100 GB"}),
        ("lifecycleStatus=In%20Design", {"Pre-order Gadget"}),
        ("lifecycleStatus=Retired", {"Prepaid Basic"}),
        ("lifecycleStatus=Unknown", set()),
        ("name=Prepaid%20Basic", {"Prepaid Basic"}),
        ("name%3D%3DPrepaid%20Basic", {"Prepaid Basic"}),
        ("name.eq=Prepaid%20Basic", {"Prepaid Basic"}),
        ("lifecycleStatus=Active&isBundle=false", {"Postpaid Mobile 100 GB"}),
        ("lifecycleStatus=Active&version=2", {"Premium Family Plan"}),
    ],
)
def test_equality_filters(catalog_url, http, offerings, query, expected):
    assert names(http, f"{catalog_url}/productOffering", query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "lifecycleStatus=Active,Retired",
        "lifecycleStatus=Active&lifecycleStatus=Retired",
        "lifecycleStatus=Active;lifecycleStatus=Retired",
    ],
)
def test_or_filters(catalog_url, http, offerings, query):
    expected = {"Premium Family Plan", "Postpaid Mobile 100 GB", "Prepaid Basic"}
    assert names(http, f"{catalog_url}/productOffering", query) == expected


def test_or_filters_combine_with_and(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    assert names(http, url, "lifecycleStatus=Active,Retired&version=1") == {"Postpaid Mobile 100 GB", "Prepaid Basic"}
    assert names(http, url, "lifecycleStatus=Retired&lifecycleStatus=In%20Design&isBundle=false") == {"Prepaid Basic"}


def test_filter_by_id(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    basic, gadget = offerings["Prepaid Basic"]["id"], offerings["Pre-order Gadget"]["id"]
    assert names(http, url, f"id={basic}") == {"Prepaid Basic"}
    assert names(http, url, f"id={basic},{gadget}") == {"Prepaid Basic", "Pre-order Gadget"}
    assert names(http, url, f"id={uuid.uuid4()}") == set()


def test_boolean_filters(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    assert names(http, url, "isBundle=true") == {"Premium Family Plan"}
    assert names(http, url, "isBundle=false") == {"Prepaid Basic", "Postpaid Mobile 100 GB"}


def test_quoted_values_are_literal_strings(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    assert names(http, url, 'version="1"') == {"Prepaid Basic", "Postpaid Mobile 100 GB"}
    assert names(http, url, "version=%2210%22") == {"Pre-order Gadget"}
    assert names(http, url, 'name="Prepaid%20Basic"') == {"Prepaid Basic"}
    # Unquoted, a numeric-looking value still finds the string it was stored as.
    assert names(http, url, "version=2") == {"Premium Family Plan"}


def test_dotted_nested_attributes(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    assert names(http, url, f"productSpecification.id={SPEC_MOBILE}") == {"Postpaid Mobile 100 GB"}
    assert names(http, url, f"productSpecification.id={SPEC_MOBILE},{SPEC_PREPAID}") == {
        "Postpaid Mobile 100 GB",
        "Prepaid Basic",
    }
    # An array of references matches when any element does.
    assert names(http, url, f"bundledProductOffering.id={MOBILE}") == {"Premium Family Plan"}
    assert names(http, url, f"bundledProductOffering.id={uuid.uuid4()}") == set()


@pytest.mark.parametrize("resource", list(COLLECTIONS))
def test_name_filter_on_every_resource(catalog_url, http, resource):
    url = f"{catalog_url}/{resource}"
    for name in ("Alpha", "Beta", "Gamma"):
        assert http.post(url, json={"name": name}, timeout=TIMEOUT).status_code == 201
    assert names(http, url, "name=Beta") == {"Beta"}
    assert names(http, url, "name=Alpha,Gamma") == {"Alpha", "Gamma"}
    assert names(http, url, "name=~a$") == {"Alpha", "Beta", "Gamma"}
    assert names(http, url, "name=~^[AB]") == {"Alpha", "Beta"}


def test_filter_on_a_category_reference(catalog_url, http):
    url = f"{catalog_url}/category"
    parent = http.post(url, json={"name": "Mobile", "isRoot": True}, timeout=TIMEOUT).json()
    for name in ("Postpaid", "Prepaid"):
        http.post(url, json={"name": name, "parentId": parent["id"], "isRoot": False}, timeout=TIMEOUT)
    http.post(url, json={"name": "Other", "parentId": str(uuid.uuid4())}, timeout=TIMEOUT)
    assert names(http, url, f"parentId={parent['id']}") == {"Postpaid", "Prepaid"}
    assert names(http, url, "isRoot=true") == {"Mobile"}


# ----------------------------------------------------------------------------------------------- regular expressions


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=~^Pre", {"Premium Family Plan", "Prepaid Basic", "Pre-order Gadget"}),
        ("name%3D~^Pre", {"Premium Family Plan", "Prepaid Basic", "Pre-order Gadget"}),
        ("name*=Mobile", {"Postpaid Mobile 100 GB"}),
        ("name*=^Pr.*id", {"Prepaid Basic"}),
        ("name=~Plan$", {"Premium Family Plan"}),
        ("name=~^pre", set()),
        ("name=~%5EP(re|ost)paid", {"Prepaid Basic", "Postpaid Mobile 100 GB"}),
    ],
)
def test_regex_filters(catalog_url, http, offerings, query, expected):
    assert names(http, f"{catalog_url}/productOffering", query) == expected


# ----------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("validFor.startDateTime.gt=2024-02-01", {"Premium Family Plan", "Postpaid Mobile 100 GB", "Pre-order Gadget"}),
        ("validFor.startDateTime%3E2024-02-01", {"Premium Family Plan", "Postpaid Mobile 100 GB", "Pre-order Gadget"}),
        ("validFor.startDateTime.gte=2024-03-01", {"Premium Family Plan", "Pre-order Gadget"}),
        ("validFor.startDateTime%3E%3D2024-03-01", {"Premium Family Plan", "Pre-order Gadget"}),
        ("validFor.startDateTime.gt=2024-03-01", {"Pre-order Gadget"}),
        # Local 2024-02-01T23:30-01:00 is 2024-02-02T00:30Z, so it is not before 2024-02-02.
        ("validFor.startDateTime.lt=2024-02-02", {"Prepaid Basic"}),
        ("validFor.startDateTime%3C2024-02-02", {"Prepaid Basic"}),
        ("validFor.startDateTime.lte=2024-03-01", {"Prepaid Basic", "Postpaid Mobile 100 GB", "Premium Family Plan"}),
        ("validFor.startDateTime%3C%3D2024-03-01", {"Prepaid Basic", "Postpaid Mobile 100 GB", "Premium Family Plan"}),
        # Date-times with offsets compare as instants.
        (
            "validFor.startDateTime.gt=2024-01-15T09:59:59%2B02:00",
            {"Prepaid Basic", "Postpaid Mobile 100 GB", "Premium Family Plan", "Pre-order Gadget"},
        ),
        ("validFor.startDateTime.lt=2024-01-15T10:00:00%2B02:00", set()),
        ("validFor.startDateTime.lte=2024-01-15T10:00:00%2B02:00", {"Prepaid Basic"}),
        ("validFor.startDateTime.gte=2024-02-02T00:30:00.001Z", {"Premium Family Plan", "Pre-order Gadget"}),
        ("validFor.startDateTime.gt=2024-06-30T12:00:00.249Z", {"Pre-order Gadget"}),
        ("validFor.startDateTime.gt=2024-06-30T12:00:00.250Z", set()),
        # Equality: a date-time in any offset, or a bare date meaning that whole UTC day.
        ("validFor.startDateTime=2024-01-15T10:00:00%2B02:00", {"Prepaid Basic"}),
        ("validFor.startDateTime.eq=2024-01-15T08:00:00Z", {"Prepaid Basic"}),
        ("validFor.startDateTime%3D%3D2024-01-15T08:00:00.000Z", {"Prepaid Basic"}),
        ("validFor.startDateTime=2024-02-02", {"Postpaid Mobile 100 GB"}),
        ("validFor.startDateTime=2024-02-01", set()),
        # AND of two bounds, and the TMF630 `;` OR of two bounds.
        ("validFor.startDateTime%3E2024-01-31&validFor.startDateTime%3C2024-03-01", {"Postpaid Mobile 100 GB"}),
        (
            "validFor.startDateTime%3C2024-02-01;validFor.startDateTime%3E2024-06-01",
            {"Prepaid Basic", "Pre-order Gadget"},
        ),
    ],
)
def test_date_comparisons(catalog_url, http, offerings, query, expected):
    assert names(http, f"{catalog_url}/productOffering", query) == expected


def test_last_update_round_trips_through_filters(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    gadget = offerings["Pre-order Gadget"]
    first = min(offering["lastUpdate"] for offering in offerings.values())
    last = max(offering["lastUpdate"] for offering in offerings.values())
    assert "Pre-order Gadget" in names(http, url, f"lastUpdate={gadget['lastUpdate']}")
    assert names(http, url, f"lastUpdate.gte={first}") == set(OFFERINGS)
    assert names(http, url, f"lastUpdate.gt={last}") == set()
    assert names(http, url, f"lastUpdate.lte={last}") == set(OFFERINGS)
    # A bare date is that whole UTC day for equality, and its midnight for comparisons.
    assert "Pre-order Gadget" in names(http, url, f"lastUpdate={gadget['lastUpdate'][:10]}")
    assert names(http, url, f"lastUpdate.gte={first[:10]}") == set(OFFERINGS)
    assert names(http, url, f"lastUpdate.lt={first[:10]}") == set()


# ----------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("price.value.gt=9", {"Monthly fee", "Activation"}),  # numeric, not text, order: 10 > 9
        ("price.value%3E10", {"Monthly fee"}),
        ("price.value.gte=10", {"Monthly fee", "Activation"}),
        ("price.value%3E%3D10", {"Monthly fee", "Activation"}),
        ("price.value.lt=10", {"Roaming day"}),
        ("price.value%3C10", {"Roaming day"}),
        ("price.value.lte=10", {"Roaming day", "Activation"}),
        ("price.value%3C%3D10", {"Roaming day", "Activation"}),
        ("price.value=10", {"Activation"}),
        ("price.value=10.0", {"Activation"}),
        ("price.value.eq=29.99", {"Monthly fee"}),
        ("price.value%3D%3D5.5", {"Roaming day"}),
        ("percentage.gte=10", {"Loyalty discount"}),
        ("percentage.lt=10", {"Welcome discount"}),
        ("percentage=7.5", {"Welcome discount"}),
        ("unitOfMeasure.amount.gt=3", {"Loyalty discount"}),
        ("unitOfMeasure.amount.lte=12&priceType=discount", {"Loyalty discount", "Welcome discount"}),
        ("price.value.gt=5&price.unit=EUR&priceType=recurring,oneTime", {"Monthly fee", "Activation"}),
    ],
)
def test_number_comparisons(catalog_url, http, prices, query, expected):
    assert names(http, f"{catalog_url}/productOfferingPrice", query) == expected


# ----------------------------------------------------------------------------------------------- bad filters


@pytest.mark.parametrize(
    "query",
    [
        "name%3E%3Ex",
        "name%3C%3E1",
        "lastUpdate.gt=",
        "lastUpdate%3E",
        "name=~(",
        "name*=[a-",
        "_rev=1",
        "_deleted.gt=0",
        "%24where=1",
        "name.%24ne=x",
    ],
)
def test_bad_filters_are_refused(catalog_url, http, database, offerings, query):
    before = database[COLLECTIONS["productOffering"]].count_documents({})
    body = assert_tmf_error(http.get(f"{catalog_url}/productOffering?{query}", timeout=TIMEOUT), 400)
    assert "Traceback" not in body["message"]
    assert database[COLLECTIONS["productOffering"]].count_documents({}) == before


# ----------------------------------------------------------------------------------------------- fields


def test_list_with_fields(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    listed = http.get(url, params={"fields": "name,lifecycleStatus"}, timeout=TIMEOUT).json()
    assert len(listed) == len(OFFERINGS)
    for item in listed:
        assert set(item) == {"id", "href", "name", "lifecycleStatus"}
        assert item == {key: offerings[item["name"]][key] for key in item}

    none = http.get(url, params={"fields": "none"}, timeout=TIMEOUT).json()
    assert sorted(none, key=lambda item: item["id"]) == sorted(
        ({"id": offering["id"], "href": offering["href"]} for offering in offerings.values()),
        key=lambda item: item["id"],
    )


def test_fields_combine_with_filters_and_sort(catalog_url, http, offerings):
    response = http.get(
        f"{catalog_url}/productOffering?fields=version&lifecycleStatus=Active&sort=-name", timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    assert response.json() == [
        {key: offerings[name][key] for key in ("id", "href", "version")}
        for name in ("Premium Family Plan", "Postpaid Mobile 100 GB")
    ]


# ----------------------------------------------------------------------------------------------- paging


@pytest.fixture
def five(catalog_url, http) -> list[dict[str, Any]]:
    url = f"{catalog_url}/productOffering"
    created = []
    for index in range(5):
        response = http.post(url, json={"name": f"Offer {index}"}, timeout=TIMEOUT)
        assert response.status_code == 201
        created.append(response.json())
    return created


def test_offset_and_limit_select_one_page(catalog_url, http, five):
    response = http.get(f"{catalog_url}/productOffering?sort=name&offset=1&limit=2", timeout=TIMEOUT)
    assert response.status_code == 200
    assert [item["name"] for item in response.json()] == ["Offer 1", "Offer 2"]
    assert response.headers["X-Total-Count"] == "5"
    assert response.headers["X-Result-Count"] == "2"


def test_paging_without_sort_visits_each_resource_once(catalog_url, http, five):
    seen: list[str] = []
    for offset in (0, 2, 4):
        response = http.get(f"{catalog_url}/productOffering", params={"offset": offset, "limit": 2}, timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Result-Count"] == str(len(response.json()))
        seen += [item["id"] for item in response.json()]
    assert sorted(seen) == sorted(item["id"] for item in five)


def test_paging_counts_only_matching_resources(catalog_url, http, five):
    response = http.get(f"{catalog_url}/productOffering?name=~%5B0-2%5D$&limit=2&sort=-name", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert [item["name"] for item in response.json()] == ["Offer 2", "Offer 1"]
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Result-Count"] == "2"


@pytest.mark.parametrize("offset", [5, 6, 1000])
def test_offset_beyond_the_end_gives_an_empty_page_with_the_total(catalog_url, http, five, offset):
    response = http.get(f"{catalog_url}/productOffering", params={"offset": offset}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "5"
    assert response.headers["X-Result-Count"] == "0"


def test_limit_zero_and_limit_at_the_maximum(catalog_url, http, five):
    zero = http.get(f"{catalog_url}/productOffering", params={"limit": 0}, timeout=TIMEOUT)
    assert zero.status_code == 200
    assert zero.json() == []
    assert zero.headers["X-Total-Count"] == "5"
    assert zero.headers["X-Result-Count"] == "0"
    most = http.get(f"{catalog_url}/productOffering", params={"limit": 1000}, timeout=TIMEOUT)
    assert most.status_code == 200
    assert len(most.json()) == 5


@pytest.mark.parametrize(
    "query", ["limit=1001", "limit=-1", "limit=ten", "limit=", "offset=-1", "offset=abc", "offset=1.5"]
)
def test_bad_paging_parameters_are_refused(catalog_url, http, five, query):
    assert_tmf_error(http.get(f"{catalog_url}/productOffering?{query}", timeout=TIMEOUT), 400)


# ----------------------------------------------------------------------------------------------- sorting


def _listed_names(http: requests.Session, url: str) -> list[str]:
    response = http.get(url, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()]


def test_sort_ascending_and_descending(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    ascending = sorted(OFFERINGS)
    assert _listed_names(http, f"{url}?sort=name") == ascending
    assert _listed_names(http, f"{url}?sort=%2Bname") == ascending
    assert _listed_names(http, f"{url}?sort=-name") == ascending[::-1]


def test_sort_by_a_nested_date(catalog_url, http, offerings):
    url = f"{catalog_url}/productOffering"
    chronological = ["Prepaid Basic", "Postpaid Mobile 100 GB", "Premium Family Plan", "Pre-order Gadget"]
    assert _listed_names(http, f"{url}?sort=validFor.startDateTime") == chronological
    assert _listed_names(http, f"{url}?sort=-validFor.startDateTime") == chronological[::-1]


def test_sort_by_several_keys(catalog_url, http):
    url = f"{catalog_url}/productOffering"
    rows = [("Basic", "1", "Active"), ("Basic", "3", "Retired"), ("Basic", "2", "Active"), ("Zeta", "1", "Active")]
    for name, version, status in rows:
        body = {"name": name, "version": version, "lifecycleStatus": status}
        assert http.post(url, json=body, timeout=TIMEOUT).status_code == 201

    def listed(query: str) -> list[tuple[str, str]]:
        response = http.get(f"{url}?{query}", timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return [(item["name"], item["version"]) for item in response.json()]

    assert listed("sort=-name,version") == [("Zeta", "1"), ("Basic", "1"), ("Basic", "2"), ("Basic", "3")]
    assert listed("sort=name,-version") == [("Basic", "3"), ("Basic", "2"), ("Basic", "1"), ("Zeta", "1")]
    assert listed("sort=lifecycleStatus,-name,version") == [
        ("Zeta", "1"),
        ("Basic", "1"),
        ("Basic", "2"),
        ("Basic", "3"),
    ]
    # The second key orders what the first leaves tied (creations in the same millisecond stay tied).
    response = http.get(f"{url}?sort=-name,lastUpdate", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    items = response.json()
    assert [item["name"] for item in items] == ["Zeta", "Basic", "Basic", "Basic"]
    basics = [item["lastUpdate"] for item in items[1:]]
    assert basics == sorted(basics)
    newest_first = [item["lastUpdate"] for item in http.get(f"{url}?sort=-lastUpdate", timeout=TIMEOUT).json()]
    assert newest_first == sorted(newest_first, reverse=True)


@pytest.mark.parametrize("query", ["sort=_rev", "sort=-%24natural", "sort=name,,-_created"])
def test_sort_on_internal_or_invalid_attributes_is_refused(catalog_url, http, query):
    assert_tmf_error(http.get(f"{catalog_url}/productOffering?{query}", timeout=TIMEOUT), 400)
