"""The event matcher against the real database: for the same query both select the same sample envelopes."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from tmf_common.errors import BadRequest
from tmf_common.event_filter import EventFilter
from tmf_common.query import parse_filter

# parse_filter validates with Python's re, which warns that `[[` (a POSIX class here) may one day be a nested set.
pytestmark = pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")

DATABASE = "tmf_event_filter_test"


def _order_event(event_id: str, event_type: str, order: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "eventId": event_id,
        "eventType": event_type,
        "eventTime": "2026-12-04T09:00:01.000Z",
        "domain": "productOrder",
        "event": {"productOrder": order},
        **envelope,
    }


# Envelopes as a listener receives them; FerretDB cannot store arrays nested directly in arrays, so those are
# covered by the unit tests only.
SAMPLES: list[dict[str, Any]] = [
    _order_event(
        "e1",
        "ProductOrderCreateEvent",
        {
            "id": "po-1",
            "@type": "ProductOrder",
            "state": "acknowledged",
            "priority": "4",
            "orderDate": "2026-12-04T09:00:00.000Z",
            "productOrderItem": [
                {"id": "1", "state": "acknowledged", "quantity": 1, "product": {"isBundle": True}},
                {"id": "2", "state": "acknowledged", "quantity": 2, "product": {"isBundle": False}},
            ],
            "expedite": True,
            "amount": 10.5,
            "category": ["mobile", "family"],
            "name": "Premium Family Plan",
        },
    ),
    _order_event(
        "e2",
        "ProductOrderStateChangeEvent",
        {
            "id": "po-2",
            "state": "completed",
            "priority": 1,
            "orderDate": "2025-06-30T23:59:59.999Z",
            "productOrderItem": [{"id": "1", "state": "completed", "quantity": 3}, {"id": "2", "state": "failed"}],
            "expedite": False,
            "amount": 10,
            "category": "mobile",
            "name": "Café",
        },
        fieldPath="state",
    ),
    _order_event(
        "e3",
        "ProductOrderStateChangeEvent",
        {
            "id": "po-3",
            "state": "failed",
            "priority": "10",
            "orderDate": "2026-12-04",
            "productOrderItem": [],
            "expedite": "true",
            "amount": "10.5",
            "category": [],
            "name": "ÉTÉ promo 2026",
        },
        fieldPath="state",
    ),
    _order_event("e4", "ProductOrderDeleteEvent", {"id": "po-4", "priority": None, "name": None}),
    _order_event(
        "e5",
        "ProductOrderStateChangeEvent",
        {
            "id": "po-5",
            "state": "inProgress",
            "priority": 4,
            "orderDate": "2026-12-05T00:00:00.000Z",
            "productOrderItem": [
                {"id": "1", "productOrderItem": [{"id": "1.1", "state": "failed", "quantity": 0.5}]},
                {"id": "2", "state": ["held", "inProgress"], "quantity": -1},
            ],
            "relatedParty": [{"id": "cust-1", "role": "customer", "name": "John Doe"}],
            "expedite": 1,
            "amount": 1e3,
            "category": ["fixed"],
            "name": "plan 5 [new]",
        },
        fieldPath="state",
    ),
    {
        "id": "e6",
        "eventId": "e6",
        "eventType": "ServiceOrderStateChangeEvent",
        "eventTime": "2026-12-03T10:00:00.000Z",
        "domain": "serviceOrder",
        "event": {"serviceOrder": {"id": "so-1", "state": "completed", "name": "a\tb", "priority": "0"}},
    },
    {"id": "e7", "eventType": "ProductOrderAttributeValueChangeEvent", "event": "not an object", "state": "held"},
]

HANDPICKED = [
    "",
    "eventType=ProductOrderStateChangeEvent",
    "eventType=ProductOrderCreateEvent,ProductOrderStateChangeEvent",
    "eventType=ProductOrderCreateEvent;event.productOrder.state=completed",
    "eventType=ProductOrderStateChangeEvent&event.productOrder.state=completed",
    "eventType=ProductOrderStateChangeEvent&eventType=ProductOrderDeleteEvent",
    "event.productOrder.state=completed",
    "event.productOrder.state.ne=completed",
    "event.productOrder.state!=completed",
    "event.productOrder.productOrderItem.state=failed",
    "event.productOrder.productOrderItem.state=inProgress",
    "event.productOrder.productOrderItem.productOrderItem.state=failed",
    "event.productOrder.productOrderItem.product.isBundle=false",
    "event.productOrder.productOrderItem.quantity.gt=1",
    "event.productOrder.productOrderItem.quantity.lte=0.5",
    "event.productOrder.productOrderItem.quantity.gte=1&event.productOrder.productOrderItem.quantity.lt=2",
    "event.productOrder.relatedParty.role=customer",
    "event.productOrder.priority=4",
    'event.productOrder.priority="4"',
    "event.productOrder.priority.gt=1",
    "event.productOrder.priority.lt=4",
    "event.productOrder.priority.ne=4",
    "event.productOrder.expedite=true",
    "event.productOrder.expedite=1",
    "event.productOrder.expedite.ne=true",
    "event.productOrder.amount=10.5",
    "event.productOrder.amount.gte=10",
    "event.productOrder.amount.lt=1e3",
    "event.productOrder.orderDate.gte=2026-01-01",
    "event.productOrder.orderDate.lt=2026-12-04T10:00:00%2B01:00",
    "event.productOrder.orderDate=2026-12-04",
    "event.productOrder.orderDate=2026-12-04,2025-06-30",
    "event.productOrder.category=mobile",
    "event.productOrder.category.ne=mobile",
    "event.productOrder.category=fixed,family",
    "event.productOrder.name=~^P",
    "event.productOrder.name=~(?i)été",
    r"event.productOrder.name=~^\w+\s",
    r"event.productOrder.name=~\bCaf\b",
    r"event.productOrder.name=~\d",
    r"event.productOrder.name=~\[new\]",
    "event.productOrder.name=~[[:digit:]]",
    r"event.productOrder.name=~^[[:upper:]][[:alpha:]]+\s",
    r"event.serviceOrder.name=~a\sb",
    "event.productOrder.name.ne=Café",
    "event.productOrder.missing.ne=x",
    "event.productOrder.missing=x",
    "event.state=held",
    "event.state.ne=held",
    "state=held",
    "id=e3",
    "id=e3,e5",
    "id.ne=e3",
    "domain=serviceOrder&event.serviceOrder.state=completed",
    "eventTime.lt=2026-12-04",
]

# A grid of paths, operators and values, so that combinations nobody thought of are compared too.
GRID_PATHS = [
    "eventType",
    "event.productOrder.state",
    "event.productOrder.priority",
    "event.productOrder.productOrderItem.state",
    "event.productOrder.productOrderItem.quantity",
    "event.productOrder.orderDate",
    "event.productOrder.expedite",
    "event.productOrder.amount",
    "event.productOrder.category",
    "event.productOrder.name",
    "event.productOrder.missing",
]
GRID_OPERATORS = ["=", ".ne=", ".gt=", ".gte=", ".lt=", ".lte=", "=~"]
GRID_VALUES = ["completed", "4", "1", "10.5", "true", '"4"', "2026-12-04", "2026-01-01T00:00:00Z", "a,mobile", "^P"]
GRID = [
    f"{path}{op}{value}"
    for path, op, value in itertools.product(GRID_PATHS, GRID_OPERATORS, GRID_VALUES)
    # FerretDB gets `.ne` wrong on a path through an array of objects (see ENGINE_DIFFERENCES).
    if not (op == ".ne=" and path.startswith("event.productOrder.productOrderItem."))
]


@pytest.fixture(scope="module")
def samples(mongo_client) -> Iterator[Collection]:
    collection: Collection = mongo_client[DATABASE][f"samples_{uuid.uuid4().hex[:8]}"]
    collection.insert_many([_stored(sample) for sample in SAMPLES])
    yield collection
    collection.drop()


def _stored(sample: dict[str, Any]) -> dict[str, Any]:
    # parse_filter addresses `id` as the document key `_id`; the matcher reads it back as the envelope's `id`.
    stored = {key: value for key, value in sample.items() if key != "id"}
    return {"_id": sample["id"], **stored}


def _database_ids(collection: Collection, query: str) -> set[str]:
    return {document["_id"] for document in collection.find(parse_filter(query), {"_id": 1})}


def _matcher_ids(query: str) -> set[str]:
    event_filter = EventFilter.parse(query)
    return {sample["id"] for sample in SAMPLES if event_filter.matches(sample)}


def _disagreements(collection: Collection, queries: list[str]) -> list[str]:
    found = []
    for query in queries:
        try:
            expected = _database_ids(collection, query)
        except BadRequest:
            with pytest.raises(BadRequest):
                EventFilter.parse(query)
            continue
        actual = _matcher_ids(query)
        if actual != expected:
            found.append(f"{query}: database {sorted(expected)}, matcher {sorted(actual)}")
    return found


def test_samples_round_trip(samples):
    assert samples.count_documents({}) == len(SAMPLES)


def test_handpicked_queries_select_what_the_database_selects(samples):
    assert _disagreements(samples, HANDPICKED) == []


def test_every_query_selects_something_and_not_everything_somewhere():
    # Guards the samples: a handpicked query that selects all or nothing would agree with the database trivially.
    trivial = [query for query in HANDPICKED[1:] if len(_matcher_ids(query)) in (0, len(SAMPLES))]
    assert trivial == [
        "event.productOrder.missing.ne=x",
        "event.productOrder.missing=x",
        "event.state=held",
        "event.state.ne=held",
    ]


def test_grid_of_paths_operators_and_values_selects_what_the_database_selects(samples):
    assert _disagreements(samples, GRID) == []


# Where the embedded FerretDB 1.24 and MongoDB differ, the matcher follows MongoDB's documented behaviour; the
# database may give either answer, depending on which server the tests run against.
ENGINE_DIFFERENCES = [
    # (query, documents, what MongoDB selects, what FerretDB selects or None when it refuses the query)
    pytest.param(
        # MongoDB: $nin (and so `.ne`) on an array selects only when no element equals. FerretDB negates per
        # element on a path through an array of objects (FerretDB issue #2291).
        "items.state.ne=failed",
        {"a": {"items": [{"state": "failed"}, {"state": "done"}]}, "b": {"items": [{"state": "done"}]}, "c": {}},
        {"b", "c"},
        {"a", "b", "c"},
        id="ne-through-array-of-objects",
    ),
    pytest.param(
        # PCRE's `$` also matches before a final newline; Go's regexp (FerretDB) only at the very end.
        "name=~plan$",
        {"a": {"name": "plan\n"}, "b": {"name": "plan"}, "c": {"name": "plan\n\n"}},
        {"a", "b"},
        {"b"},
        id="dollar-before-final-newline",
    ),
    pytest.param(
        # PCRE has `\Z` (end or before a final newline); Go's regexp does not, and FerretDB refuses the pattern.
        r"name=~plan\Z",
        {"a": {"name": "plan\n"}, "b": {"name": "plan"}, "c": {"name": "plan\n\n"}},
        {"a", "b"},
        None,
        id="capital-z-anchor",
    ),
    pytest.param(
        # PCRE's ASCII `\s` includes the vertical tab; Go's does not. Neither includes a no-break space.
        r"name=~a\sb",
        {"a": {"name": "a\x0bb"}, "b": {"name": "a b"}, "c": {"name": "a\u00a0b"}},
        {"a", "b"},
        {"b"},
        id="vertical-tab-is-space",
    ),
]


@pytest.mark.parametrize(("query", "documents", "mongodb", "ferretdb"), ENGINE_DIFFERENCES)
def test_matcher_follows_mongodb_where_engines_differ(mongo_client, query, documents, mongodb, ferretdb):
    event_filter = EventFilter.parse(query)
    assert {key for key, document in documents.items() if event_filter.matches(document)} == mongodb
    collection = mongo_client[DATABASE][f"differences_{uuid.uuid4().hex[:8]}"]
    try:
        collection.insert_many([{"_id": key, **document} for key, document in documents.items()])
        try:
            selected = {document["_id"] for document in collection.find(parse_filter(query))}
        except OperationFailure:
            selected = None
        assert selected in (mongodb, ferretdb)
    finally:
        collection.drop()
