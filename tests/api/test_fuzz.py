"""Fuzzing over real HTTP against the project's own specs: no 5xx, every error a TMF Error, 2xx as specified.

Schemathesis sends schema-valid (positive) and schema-invalid (negative) requests to every operation of TMF620,
TMF622 and TMF641; about half of the requests to `/{id}` operations address a resource created just before, so
PATCH and DELETE reach the service layer rather than stopping at 404. TMF630 attribute filters are free-form and
absent from the specs, so a Hypothesis test of its own sends them to every list operation.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.payloads import family_plan_order
from tmf_common.openapi_bundle import api_spec_path, bundle

TIMEOUT = 10
MAX_EXAMPLES = 15
SPEC_FILES = {
    "tmf620": "tmf620-product-catalog.yaml",
    "tmf622": "tmf622-product-ordering.yaml",
    "tmf641": "tmf641-service-ordering.yaml",
}
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 620622641,
        "generation": {"mode": "all", "deterministic": True, "max-examples": MAX_EXAMPLES},
        "phases": {"stateful": {"enabled": False}},
        # The coverage phase enumerates every boundary of a schema, unbounded by max-examples: thousands of cases
        # for an order body (minutes). Query, path and header parameters keep it; bodies get bounded fuzzing.
        "operations": [{"include-method": ["POST", "PATCH"], "phases": {"coverage": {"enabled": False}}}],
    }
)
SCHEMAS = {
    name: schemathesis.openapi.from_dict(bundle(api_spec_path(file)), config=CONFIG)
    for name, file in SPEC_FILES.items()
}
SUPPRESSED = [
    # The database is emptied once per test, not per generated case: no check here depends on an empty database.
    HealthCheck.function_scoped_fixture,
    # Every case is an HTTP round trip, and TMF order bodies are deeply nested: slow, large and often discarded
    # generation is expected here, not a sign of a broken strategy.
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
]


# ------------------------------------------------------------------------------------------------------- checks


def assert_tmf_error_body(status: int, body: Any) -> None:
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    for name in ("code", "reason"):
        assert isinstance(body.get(name), str) and body[name], f"error body lacks a string {name!r}: {body}"
    assert body.get("status") == str(status), f"error status {body.get('status')!r} on a {status}: {body}"
    assert body.get("@type") == "Error", f"error @type {body.get('@type')!r}: {body}"


def assert_list_counts(headers: Any, items: Any) -> None:
    """headers: lower-case names to value lists (schemathesis) or one value (requests)."""
    assert isinstance(items, list), f"list answer is not an array: {items!r}"
    total, result = headers.get("x-total-count"), headers.get("x-result-count")
    assert total and result, f"list answer lacks X-Total-Count or X-Result-Count: {dict(headers)}"
    total, result = (value[0] if isinstance(value, list) else value for value in (total, result))
    assert int(result) == len(items), f"X-Result-Count {result} for {len(items)} items"
    assert int(total) >= len(items), f"X-Total-Count {total} below the {len(items)} items returned"


def tmf_error_body(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx and 5xx carries a TMF Error whose `status` is the HTTP status."""
    if response.status_code >= 400:
        assert_tmf_error_body(response.status_code, response.json())


def list_counts(ctx: Any, response: Any, case: Any) -> None:
    """A list answer carries X-Total-Count (all matches) and X-Result-Count (this page)."""
    if case.method.upper() == "GET" and "{" not in case.operation.path and response.status_code == 200:
        assert_list_counts(response.headers, response.json())


def _selected_fields(case: Any) -> set[str] | None:
    """The top-level attributes a `fields` query selects, or None when it asks for the full representation."""
    fields = (case.query or {}).get("fields")
    if not isinstance(fields, str) or not fields.strip():
        return None
    names = {name.strip().split(".")[0] for name in fields.split(",")}
    return (names - {"", "none"}) | {"id", "href"}


def body_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """Bodies validate against the operation's response schema, except a `fields` selection (TMF630).

    A selection is partial by design (the selected attributes plus `id` and `href`), so it may lack attributes
    the resource schema requires (TMF622 `productOrderItem`); OpenAPI 3.0 cannot tie a response schema to a query
    parameter. A selection is held to its own contract instead.
    """
    selected = _selected_fields(case)
    if selected is None or response.status_code != 200:
        return response_schema_conformance(ctx, response, case)
    body = response.json()
    for resource in body if isinstance(body, list) else [body]:
        assert isinstance(resource, dict), f"selected resource is not an object: {resource!r}"
        assert {"id", "href"} <= resource.keys(), f"selection lacks id or href: {resource}"
        assert resource.keys() <= selected, f"selection of {sorted(selected)} returned {sorted(resource)}"
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    body_conformance,
    negative_data_rejection,
    tmf_error_body,
    list_counts,
]


# ------------------------------------------------------------------------------------------- existing resources


def _created(http: requests.Session, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(url, json=body, timeout=TIMEOUT)
    assert response.status_code == 201, f"creating at {url}: {response.status_code} {response.text[:500]}"
    resource: dict[str, Any] = response.json()
    return resource


def _service_order() -> dict[str, Any]:
    service = {"serviceType": "mobile", "serviceSpecification": {"id": "mobile-sim-cfs"}}
    return {"serviceOrderItem": [{"id": "1", "action": "add", "service": service}]}


def _named(kind: str) -> Callable[[requests.Session, str], dict[str, Any]]:
    return lambda http, api: _created(http, f"{api}/{kind}", {"name": f"Fuzz {kind}"})


def _product_order(http: requests.Session, api: str) -> dict[str, Any]:
    return _created(http, f"{api}/productOrder", family_plan_order())


def _service_order_created(http: requests.Session, api: str) -> dict[str, Any]:
    return _created(http, f"{api}/serviceOrder", _service_order())


CREATE: dict[str, Callable[[requests.Session, str], dict[str, Any]]] = {
    **{
        kind: _named(kind)
        for kind in ("catalog", "category", "productSpecification", "productOffering", "productOfferingPrice")
    },
    "productOrder": _product_order,
    "cancelProductOrder": lambda http, api: _created(
        http, f"{api}/cancelProductOrder", {"productOrder": {"id": _product_order(http, api)["id"]}}
    ),
    # The test settings deliver no events, so the callback is never called.
    "hub": lambda http, api: _created(http, f"{api}/hub", {"callback": "http://127.0.0.1:9/fuzz-listener"}),
    "serviceOrder": _service_order_created,
    "cancelServiceOrder": lambda http, api: _created(
        http, f"{api}/cancelServiceOrder", {"serviceOrder": {"id": _service_order_created(http, api)["id"]}}
    ),
}


def _address_an_existing_resource(case: Any, http: requests.Session, api: str) -> None:
    """For about half the cases of an `/{id}` operation, replace the generated id by a new resource's id."""
    if "id" not in (case.path_parameters or {}):
        return
    # Decided by the generated id itself, so the choice is as reproducible as the case.
    if zlib.crc32(repr(case.path_parameters["id"]).encode()) % 2:
        return
    kind = case.operation.path.strip("/").split("/")[0]
    assert kind in CREATE, f"tell CREATE how to make a {kind} for {case.operation.label}"
    case.path_parameters["id"] = CREATE[kind](http, api)["id"]


# ------------------------------------------------------------------------------------------ every operation


@schemathesis.pytest.parametrize(**SCHEMAS)
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=SUPPRESSED)
def test_every_operation_answers_generated_requests_as_specified(case, server, database, http):
    api = server.url + case.operation.schema.raw_schema["servers"][0]["url"]
    _address_an_existing_resource(case, http, api)
    case.call_and_validate(base_url=api, session=http, checks=CHECKS)


# -------------------------------------------------------------------------------------------- TMF630 filters

LISTS = [
    (SCHEMAS[name].raw_schema["servers"][0]["url"], path.strip("/"))
    for name in SPEC_FILES
    for path in SCHEMAS[name].raw_schema["paths"]
    if "{" not in path
]
KNOWN_ATTRIBUTES = ["name", "id", "state", "priority", "lastUpdate", "validFor.startDateTime", "productOrderItem.state"]
ODD_ATTRIBUTES = ["@type", "_id", "$where", "name.", ".name", "a..b", "name.gt.lt", ""]
SYMBOLS = ["=", "==", "!=", ">", ">=", "<", "<=", "=~", "*=", "=<"]
ENCODED_SYMBOLS = ["%3E", "%3E%3D", "%3C", "%3C%3D", "%3D%3D", "%3E%3E"]
SUFFIXES = [".eq=", ".ne=", ".gt=", ".gte=", ".lt=", ".lte=", ".regex="]
SCALARS = ["", "1", "-1.5", "1e400", "9223372036854775808", "true", "null", '"a,b"', "a,,b", "%", "%ZZ", "x;y"]
DATES = ["2030-01-01", "9999-12-31", "0001-01-01", "2030-02-30", "0398-07-03T17:52:07Z", "0001-01-01T00:30:00+01:00"]
PATTERNS = ["Fuzz.*", "(", "\\", "a{4294967295}", "(?=a)", "(a)\\1", "[[:alpha:]]", "\\p{L}", "a" * 201]
ATTRIBUTES = st.sampled_from([*KNOWN_ATTRIBUTES, *ODD_ATTRIBUTES]) | st.text(max_size=10)
OPERATORS = st.sampled_from([*SYMBOLS, *ENCODED_SYMBOLS, *SUFFIXES])
VALUES = st.sampled_from([*SCALARS, *DATES, *PATTERNS]) | st.text(max_size=20)


@st.composite
def filter_queries(draw: st.DrawFn) -> str:
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        alternatives = draw(st.lists(st.tuples(ATTRIBUTES, OPERATORS, VALUES), min_size=1, max_size=2))
        terms.append(";".join(quote(a, safe=".@$_-") + op + quote(v, safe=",") for a, op, v in alternatives))
    extras = draw(st.sampled_from(["", "&sort=-name,id", "&fields=name", "&limit=1", "&offset=1&limit=0"]))
    return "&".join(terms) + extras


@pytest.mark.parametrize(("base", "collection"), LISTS, ids=[f"{base.split('/')[2]}/{name}" for base, name in LISTS])
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=SUPPRESSED)
@given(query=filter_queries())
def test_list_filters_are_answered_with_a_list_or_a_tmf_error(server, database, http, base, collection, query):
    api = server.url + base
    if not http.get(f"{api}/{collection}", params={"limit": 1}, timeout=TIMEOUT).json():
        CREATE[collection](http, api)  # filters run against stored documents, not an empty collection
    response = http.get(f"{api}/{collection}?{query}", timeout=TIMEOUT)
    assert response.status_code < 500, f"{response.request.url}: {response.status_code} {response.text[:500]}"
    if response.status_code == 200:
        assert_list_counts(response.headers, response.json())
    else:
        assert 400 <= response.status_code < 500, f"{response.request.url}: {response.status_code}"
        assert_tmf_error_body(response.status_code, response.json())
