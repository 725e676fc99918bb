"""Hub subscription queries: TMF630 filters evaluated on event envelopes with MongoDB's matching semantics."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tmf_common.errors import BadRequest
from tmf_common.event_filter import EventFilter
from tmf_common.events import RecordedEvent


def product_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": "po-1001",
        "href": "/tmf-api/productOrderingManagement/v4/productOrder/po-1001",
        "@type": "ProductOrder",
        "state": "inProgress",
        "priority": "4",
        "orderDate": "2026-12-04T09:00:00.000Z",
        "requestedCompletionDate": "2027-01-15T18:00:00.000Z",
        "relatedParty": [{"id": "cust-john-doe-0001", "role": "customer", "name": "John Doe"}],
        "productOrderItem": [
            {"id": "1", "action": "add", "state": "completed", "quantity": 1, "product": {"isBundle": True}},
            {"id": "2", "action": "add", "state": "inProgress", "quantity": 3, "product": {"isBundle": False}},
        ],
        "note": [{"text": "Deliver SIMs to the shop"}],
    }
    order.update(overrides)
    return order


def envelope(event_type: str = "ProductOrderStateChangeEvent", **order_overrides: Any) -> dict[str, Any]:
    return RecordedEvent(
        event_id="ev-1",
        event_type=event_type,
        event_time="2026-12-04T09:00:01.000Z",
        resource_key="productOrder",
        resource=product_order(**order_overrides),
        field_path="state" if event_type.endswith("StateChangeEvent") else None,
    ).to_envelope()


def matches(query: str | None, event: dict[str, Any]) -> bool:
    return EventFilter.parse(query).matches(event)


def items(*states: str) -> list[dict[str, Any]]:
    return [{"id": str(number), "state": state} for number, state in enumerate(states, start=1)]


# --- event type ---------------------------------------------------------------------------------------------


def test_event_type_equality():
    assert matches("eventType=ProductOrderStateChangeEvent", envelope())
    assert not matches("eventType=ProductOrderCreateEvent", envelope())


def test_event_type_comma_is_or():
    query = "eventType=ProductOrderCreateEvent,ProductOrderStateChangeEvent"
    assert matches(query, envelope("ProductOrderCreateEvent"))
    assert matches(query, envelope("ProductOrderStateChangeEvent"))
    assert not matches(query, envelope("ProductOrderDeleteEvent"))


@pytest.mark.parametrize(
    "query",
    [
        "eventType=ProductOrderCreateEvent;eventType=ProductOrderDeleteEvent",
        "eventType=ProductOrderCreateEvent&eventType=ProductOrderDeleteEvent",
        "eventType=ProductOrderCreateEvent%2CProductOrderDeleteEvent",
        "eventType%3DProductOrderCreateEvent;eventType%3DProductOrderDeleteEvent",
    ],
)
def test_other_spellings_of_or(query):
    assert matches(query, envelope("ProductOrderCreateEvent"))
    assert matches(query, envelope("ProductOrderDeleteEvent"))
    assert not matches(query, envelope("ProductOrderStateChangeEvent"))


def test_semicolon_or_across_attributes():
    query = "eventType=ProductOrderCreateEvent;event.productOrder.state=completed"
    assert matches(query, envelope("ProductOrderCreateEvent", state="acknowledged"))
    assert matches(query, envelope("ProductOrderStateChangeEvent", state="completed"))
    assert not matches(query, envelope("ProductOrderStateChangeEvent", state="held"))


def test_envelope_attributes_besides_the_event_type():
    assert matches("domain=productOrder&fieldPath=state", envelope())
    assert matches("eventTime.gte=2026-12-04T09:00:00Z", envelope())
    assert not matches("fieldPath=state", envelope("ProductOrderCreateEvent"))


# --- nested attributes and arrays -------------------------------------------------------------------------


def test_nested_state():
    assert matches("event.productOrder.state=completed", envelope(state="completed"))
    assert not matches("event.productOrder.state=completed", envelope(state="inProgress"))


def test_and_across_attributes():
    query = "eventType=ProductOrderStateChangeEvent&event.productOrder.state=completed"
    assert matches(query, envelope(state="completed"))
    assert not matches(query, envelope("ProductOrderCreateEvent", state="completed"))
    assert not matches(query, envelope(state="held"))


def test_or_group_anded_with_another_attribute():
    query = "event.productOrder.state=held;event.productOrder.state=failed&eventType=ProductOrderStateChangeEvent"
    assert matches(query, envelope(state="failed"))
    assert not matches(query, envelope("ProductOrderCreateEvent", state="failed"))
    assert not matches(query, envelope(state="completed"))


def test_path_through_an_array_matches_when_any_element_matches():
    query = "event.productOrder.productOrderItem.state=failed"
    assert matches(query, envelope(productOrderItem=items("completed", "failed", "inProgress")))
    assert not matches(query, envelope(productOrderItem=items("completed", "inProgress")))
    assert not matches(query, envelope(productOrderItem=[]))


def test_path_through_an_array_into_nested_objects():
    assert matches("event.productOrder.relatedParty.role=customer", envelope())
    assert matches("event.productOrder.productOrderItem.product.isBundle=false", envelope())
    assert not matches("event.productOrder.relatedParty.role=seller", envelope())


def test_path_through_two_levels_of_arrays():
    order_items = [{"id": "1", "productOrderItem": [{"id": "1.1", "state": "failed"}]}]
    assert matches(
        "event.productOrder.productOrderItem.productOrderItem.state=failed", envelope(productOrderItem=order_items)
    )


def test_array_of_scalars_matches_any_element():
    event = envelope(category=["mobile", "family"])
    assert matches("event.productOrder.category=family", event)
    assert matches("event.productOrder.category=fixed,mobile", event)
    assert not matches("event.productOrder.category=fixed", event)


def test_arrays_nested_directly_in_arrays_are_not_traversed():
    # MongoDB's path iterator descends only into object elements of an array, never into an inner array.
    event = envelope(grid=[[{"state": "failed"}]], tags=[["a"]])
    assert not matches("event.productOrder.grid.state=failed", event)
    assert not matches("event.productOrder.tags=a", event)


def test_each_operator_of_a_condition_is_tested_against_any_element():
    # A bare-date equality is a range ({$gte: day, $lt: next day}); on an array MongoDB lets one element satisfy
    # the lower bound and another the upper bound, so this matches although no element falls on that day.
    event = envelope(dates=["2026-12-03T00:00:00.000Z", "2026-12-09T00:00:00.000Z"])
    assert matches("event.productOrder.dates=2026-12-05", event)
    assert not matches("event.productOrder.dates=2026-12-05", envelope(dates=["2026-12-03T00:00:00.000Z"]))


def test_ne_with_an_array_is_true_only_when_no_element_equals():
    assert matches("event.productOrder.productOrderItem.state.ne=failed", envelope(productOrderItem=items("completed")))
    assert not matches(
        "event.productOrder.productOrderItem.state.ne=failed", envelope(productOrderItem=items("completed", "failed"))
    )


# --- missing fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "event.productOrder.cancellationReason=none",
        "event.productOrder.cancellationReason.gt=a",
        "event.productOrder.cancellationReason.lt=z",
        "event.productOrder.cancellationReason.gte=0",
        "event.productOrder.cancellationReason=~.*",
        "event.productOrder.cancellationReason=2026-12-04",
        "event.serviceOrder.state=completed",
    ],
)
def test_missing_field_never_matches_equality_comparison_or_regex(query):
    assert not matches(query, envelope())


@pytest.mark.parametrize(
    "query",
    [
        "event.productOrder.cancellationReason.ne=x",
        "event.productOrder.cancellationReason!=x",
        "event.serviceOrder.state!=x",
    ],
)
def test_ne_matches_a_missing_field(query):
    assert matches(query, envelope())


def test_ne_on_a_present_field():
    assert matches("event.productOrder.state.ne=completed", envelope(state="held"))
    assert not matches("event.productOrder.state.ne=completed", envelope(state="completed"))
    assert not matches("event.productOrder.state%21%3Dcompleted", envelope(state="completed"))


def test_null_is_a_value_of_its_own():
    event = envelope(state=None)
    assert not matches("event.productOrder.state=null", event)
    assert matches("event.productOrder.state.ne=completed", event)


def test_path_through_a_scalar_is_missing():
    assert not matches("event.productOrder.state.name=x", envelope())
    assert matches("event.productOrder.state.name.ne=x", envelope())


# --- numbers, strings, booleans: type bracketing ----------------------------------------------------------


def test_numeric_comparisons():
    event = envelope()  # item quantities 1 and 3
    assert matches("event.productOrder.productOrderItem.quantity.gt=2", event)
    assert matches("event.productOrder.productOrderItem.quantity>=3", event)
    assert matches("event.productOrder.productOrderItem.quantity.lt=1.5", event)
    assert not matches("event.productOrder.productOrderItem.quantity.gt=3", event)
    assert not matches("event.productOrder.productOrderItem.quantity%3C1", event)


def test_integer_and_float_compare_as_numbers():
    assert matches("event.productOrder.amount=5", envelope(amount=5.0))
    assert matches("event.productOrder.amount=5.0", envelope(amount=5))
    assert matches("event.productOrder.amount.lte=5", envelope(amount=4.99))


def test_unquoted_number_matches_the_number_and_the_string():
    assert matches("event.productOrder.priority=4", envelope(priority="4"))
    assert matches("event.productOrder.priority=4", envelope(priority=4))
    assert not matches("event.productOrder.priority=4", envelope(priority="04"))


def test_number_stored_as_string_compares_as_string():
    # TMF `priority` is a string: priority.gt=1 finds "4" as a string and 4 as a number; "10" sorts below "4".
    assert matches("event.productOrder.priority.gt=1", envelope(priority="4"))
    assert matches("event.productOrder.priority.gt=1", envelope(priority=4))
    assert matches("event.productOrder.priority.lt=4", envelope(priority="10"))
    assert not matches("event.productOrder.priority.lt=4", envelope(priority=10))


def test_quoted_number_is_only_a_string():
    assert matches('event.productOrder.priority="4"', envelope(priority="4"))
    assert not matches('event.productOrder.priority="4"', envelope(priority=4))
    assert not matches('event.productOrder.priority.gte="1"', envelope(priority=4))


def test_booleans_are_not_numbers():
    assert matches("event.productOrder.expedite=true", envelope(expedite=True))
    assert matches("event.productOrder.expedite=true", envelope(expedite="true"))
    assert not matches("event.productOrder.expedite=true", envelope(expedite=1))
    assert not matches("event.productOrder.expedite=1", envelope(expedite=True))
    assert not matches("event.productOrder.expedite=0", envelope(expedite=False))
    assert not matches("event.productOrder.expedite.gte=0", envelope(expedite=True))
    assert matches("event.productOrder.expedite.ne=1", envelope(expedite=True))


def test_objects_and_arrays_never_equal_a_scalar():
    assert not matches("event.productOrder.relatedParty=customer", envelope())
    assert not matches("event.productOrder.note.gt=a", envelope())


# --- dates --------------------------------------------------------------------------------------------------


def test_date_comparisons_on_canonical_instants():
    event = envelope()  # orderDate 2026-12-04T09:00:00.000Z
    assert matches("event.productOrder.orderDate.gte=2026-01-01", event)
    assert matches("event.productOrder.orderDate.gt=2026-12-04", event)
    assert matches("event.productOrder.orderDate.lt=2026-12-05", event)
    assert not matches("event.productOrder.orderDate.lt=2026-12-04", event)
    assert not matches("event.productOrder.orderDate.gte=2027-01-01", event)


def test_date_time_with_offset_is_compared_as_its_utc_instant():
    event = envelope()
    assert matches("event.productOrder.orderDate.gte=2026-12-04T10:00:00%2B01:00", event)
    assert not matches("event.productOrder.orderDate.gt=2026-12-04T10:00:00%2B01:00", event)
    assert matches("event.productOrder.orderDate=2026-12-04T10:00:00%2B01:00", event)


def test_bare_date_equality_matches_every_instant_of_that_day():
    assert matches("event.productOrder.orderDate=2026-12-04", envelope())
    assert matches("event.productOrder.orderDate=2026-12-04", envelope(orderDate="2026-12-04"))
    assert not matches("event.productOrder.orderDate=2026-12-05", envelope())
    assert not matches("event.productOrder.orderDate=2026-12-03", envelope())


def test_date_range_is_an_and():
    query = "event.productOrder.orderDate.gte=2026-12-01&event.productOrder.orderDate.lt=2027-01-01"
    assert matches(query, envelope())
    assert not matches(query, envelope(orderDate="2027-01-01T00:00:00.000Z"))


# --- regular expressions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "event.productOrder.state=~^in",
        "event.productOrder.state*=^in",
        "event.productOrder.state.regex=^in",
        "event.productOrder.state%3D~%5Ein",
        'event.productOrder.state=~"^in"',
    ],
)
def test_regex_forms(query):
    assert matches(query, envelope(state="inProgress"))
    assert not matches(query, envelope(state="held"))


def test_regex_searches_anywhere_and_only_strings():
    assert matches("event.productOrder.note.text=~SIM", envelope())
    assert not matches("event.productOrder.productOrderItem.quantity=~3", envelope())
    assert matches("eventType=~Order(Create|Delete)Event$", envelope("ProductOrderDeleteEvent"))


def test_regex_inline_case_insensitivity_folds_unicode():
    assert matches("event.productOrder.state=~(?i)^INPROG", envelope())
    assert matches("event.productOrder.name=~(?i)été", envelope(name="ÉTÉ promo"))


def test_regex_class_escapes_are_ascii_as_in_mongodb():
    # MongoDB's PCRE runs without UCP: \w \d \s \b are ASCII-only, unlike Python's defaults.
    assert not matches(r"event.productOrder.name=~^\w+$", envelope(name="Café"))
    assert matches(r"event.productOrder.name=~^\w+$", envelope(name="Cafe_1"))
    assert matches(r"event.productOrder.name=~\bCaf\b", envelope(name="Café"))
    assert not matches(r"event.productOrder.name=~^\d$", envelope(name="٣"))
    assert not matches(r"event.productOrder.name=~a\sb", envelope(name="a\u00a0b"))
    assert matches(r"event.productOrder.name=~a\sb", envelope(name="a\tb"))
    assert not matches(r"event.productOrder.name=~^[\w]+$", envelope(name="Café"))
    assert matches(r"event.productOrder.name=~^[^\W\d]+$", envelope(name="Cafe"))


# parse_filter validates with Python's re, which warns that `[[` may one day mean a nested set.
@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
def test_regex_posix_classes():
    assert matches("event.productOrder.name=~[[:digit:]]", envelope(name="plan 5"))
    assert not matches("event.productOrder.name=~[[:digit:]]", envelope(name="d]"))
    assert matches("event.productOrder.name=~^[[:upper:]][[:lower:]_]+$", envelope(name="Premium_plan"))


def test_regex_end_anchors_follow_pcre():
    # PCRE's `$` and `\Z` both match before a final newline.
    assert matches("event.productOrder.name=~plan$", envelope(name="plan\n"))
    assert matches(r"event.productOrder.name=~plan\Z", envelope(name="plan\n"))
    assert not matches(r"event.productOrder.name=~plan\Z", envelope(name="plan\n\n"))


def test_escaped_backslash_is_not_a_class_escape():
    assert matches(r"event.productOrder.name=~a\\d", envelope(name=r"a\d"))
    assert not matches(r"event.productOrder.name=~a\\d", envelope(name="a1"))


# --- quoting --------------------------------------------------------------------------------------------------


def test_quoted_value_keeps_its_comma():
    query = 'event.productOrder.description="Doe, John"'
    assert matches(query, envelope(description="Doe, John"))
    assert not matches(query, envelope(description="Doe"))


def test_quoted_and_unquoted_alternatives():
    query = 'event.productOrder.description="a,b",c'
    assert matches(query, envelope(description="a,b"))
    assert matches(query, envelope(description="c"))
    assert not matches(query, envelope(description="a"))


def test_quoted_true_is_only_a_string():
    assert not matches('event.productOrder.expedite="true"', envelope(expedite=True))
    assert matches('event.productOrder.expedite="true"', envelope(expedite="true"))


def test_encoded_separators_are_literal():
    assert matches("event.productOrder.description=a%3Bb", envelope(description="a;b"))
    assert matches("event.productOrder.description=a%26b", envelope(description="a&b"))


# --- id ---------------------------------------------------------------------------------------------------------


def test_id_is_evaluated_as_id_not_as_the_storage_key():
    filter_ = EventFilter.parse("id=ev-9")
    assert filter_.filter == {"_id": "ev-9"}
    assert filter_.matches({"id": "ev-9"})
    assert not filter_.matches({"_id": "ev-9"})
    assert not filter_.matches(envelope())


def test_nested_id_is_not_renamed():
    assert matches("event.productOrder.id=po-1001", envelope())


# --- empty and invalid queries -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", [None, "", " ", "&", "&&"])
def test_empty_query_matches_everything(query):
    filter_ = EventFilter.parse(query)
    assert filter_.filter == {}
    assert filter_.matches(envelope())
    assert filter_.matches({})


@pytest.mark.parametrize(
    "query",
    [
        "a%3E%3E1",
        "a>>1",
        "_secret=1",
        "event._secret=1",
        "$where=1",
        "eventType",
        "eventType.gt=",
        "event.productOrder.state=~(",
        "event.productOrder.state=~(?<=a)b",
        "event.productOrder.state.gt%3E1",
        "limit=10",
        "eventType=ProductOrderCreateEvent&fields=eventType",
        "sort=eventTime",
        "event.productOrder.name=~[[:foo:]]",
        "event.productOrder.name=~[[:^digit:]]",
    ],
)
@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
def test_invalid_query_is_bad_request(query):
    with pytest.raises(BadRequest):
        EventFilter.parse(query)


def test_reserved_words_inside_a_path_are_attributes():
    assert matches("event.productOrder.limit=5", envelope(limit=5))


# --- the value object --------------------------------------------------------------------------------------------


def test_filter_is_a_frozen_value():
    first, second = EventFilter.parse("eventType=A"), EventFilter.parse("eventType=A")
    assert first == second
    assert hash(first) == hash(second)
    assert first != EventFilter.parse("eventType=B")
    assert first.query == "eventType=A"
    assert first.filter == {"eventType": "A"}
    with pytest.raises(AttributeError):
        first.query = "x"


def test_constructed_directly_from_a_filter():
    filter_ = EventFilter(query="custom", filter={"$or": [{"eventType": "A"}, {"event.x": {"$gte": 2}}]})
    assert filter_.matches({"eventType": "A"})
    assert filter_.matches({"event": {"x": 3}})
    assert not filter_.matches({"event": {"x": "3"}})


@pytest.mark.parametrize(
    "filter_",
    [
        {"a": {"$exists": True}},
        {"a": {"$elemMatch": {"b": 1}}},
        {"$nor": [{"a": 1}]},
        {"$or": []},
        {"a": {"b": 1}},
        {"a": {"$eq": None}},
        {"a": {"$in": "x"}},
        {"a.0.b": 1},
    ],
)
def test_filter_shapes_parse_filter_never_emits_are_refused(filter_):
    with pytest.raises(ValueError):
        EventFilter(filter=filter_)


def test_matching_does_not_change_the_envelope():
    event = envelope(productOrderItem=items("failed"))
    before = copy.deepcopy(event)
    EventFilter.parse("event.productOrder.productOrderItem.state=failed&eventType=~Order").matches(event)
    assert event == before
