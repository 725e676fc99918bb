"""TMF630 list queries: filter operators and their encoded forms, OR/AND grouping, fields, sort and paging."""

from __future__ import annotations

import re
from typing import Any

import bson
import pytest

from tmf_common.errors import BadRequest
from tmf_common.query import (
    MAX_REGEX_LENGTH,
    ListQuery,
    build_list_query,
    parse_fields,
    parse_filter,
    parse_sort,
)

_MISSING = object()


# A small evaluator of the filter subset parse_filter produces, with MongoDB's type bracketing: a number never
# equals or compares with a string or a boolean. Testing what a filter selects, not how it is spelled, keeps
# these tests valid across equivalent rewrites of the produced filter.
def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _field(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _equal(value: Any, expected: Any) -> bool:
    return value is not _MISSING and _kind(value) == _kind(expected) and value == expected


def _compare(value: Any, operator: str, bound: Any) -> bool:
    if value is _MISSING or _kind(value) != _kind(bound) or _kind(bound) not in ("number", "string"):
        return False
    return {
        "$gt": value > bound,
        "$gte": value >= bound,
        "$lt": value < bound,
        "$lte": value <= bound,
    }[operator]


def _field_matches(value: Any, condition: Any) -> bool:
    if not (isinstance(condition, dict) and condition and all(key.startswith("$") for key in condition)):
        return _equal(value, condition)
    for operator, argument in condition.items():
        if operator == "$eq":
            ok = _equal(value, argument)
        elif operator == "$ne":
            ok = not _equal(value, argument)
        elif operator == "$in":
            ok = any(_equal(value, candidate) for candidate in argument)
        elif operator == "$nin":
            ok = not any(_equal(value, candidate) for candidate in argument)
        elif operator in ("$gt", "$gte", "$lt", "$lte"):
            ok = _compare(value, operator, argument)
        elif operator == "$regex":
            ok = isinstance(value, str) and re.search(argument, value) is not None
        else:
            raise AssertionError(f"operator {operator} not expected in a TMF630 filter")
        if not ok:
            return False
    return True


def matches(filter_: dict[str, Any], document: dict[str, Any]) -> bool:
    for key, condition in filter_.items():
        if key == "$and":
            ok = all(matches(part, document) for part in condition)
        elif key == "$or":
            ok = any(matches(part, document) for part in condition)
        else:
            ok = _field_matches(_field(document, key), condition)
        if not ok:
            return False
    return True


def selected(query: str, values: list[Any], attribute: str = "n") -> list[Any]:
    filter_ = parse_filter(query)
    bson.encode(filter_)  # every filter must be sendable to the database as it is
    return [value for value in values if matches(filter_, {attribute: value})]


NUMBERS = [4, 5, 6, 5.5, "5"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("n.gt=5", [6, 5.5]),
        ("n%3E5", [6, 5.5]),
        ("n>5", [6, 5.5]),
        ("n.gte=5", [5, 6, 5.5, "5"]),
        ("n%3E%3D5", [5, 6, 5.5, "5"]),
        ("n.lt=5", [4]),
        ("n%3C5", [4]),
        ("n.lte=5", [4, 5, "5"]),
        ("n%3C%3D5", [4, 5, "5"]),
        ("n.eq=5", [5, "5"]),
        ("n%3D%3D5", [5, "5"]),
        ("n=5", [5, "5"]),
        ("n.ne=5", [4, 6, 5.5]),
        ("n!=5", [4, 6, 5.5]),
        ("n%21%3D5", [4, 6, 5.5]),
    ],
)
def test_comparison_operators_in_every_form(query, expected):
    assert selected(query, NUMBERS) == expected


def test_numbers_stored_as_strings_compare_as_strings():
    # TMF `priority` is a string: priority.gt=1 must find "2" as well as the number 2.
    assert selected("priority.gt=1", ["0", "2", 0, 2], "priority") == ["2", 2]


@pytest.mark.parametrize("query", ["name=~^Prem", "name*=^Prem", "name%3D~^Prem", "name.regex=^Prem", "name=~%5EPrem"])
def test_regular_expression_forms(query):
    names = ["Premium Family Plan", "Postpaid Mobile", "A Premium plan"]
    assert selected(query, names, "name") == ["Premium Family Plan"]


def test_regex_quotes_are_stripped():
    assert parse_filter('name=~"^P.*n$"') == {"name": {"$regex": "^P.*n$"}}


STATES = ["acknowledged", "rejected", "held", "inProgress"]


@pytest.mark.parametrize(
    "query",
    [
        "state=acknowledged,rejected",
        "state=acknowledged&state=rejected",
        "state=acknowledged;state=rejected",
        "state=acknowledged%2Crejected",
        "state%3Dacknowledged;state%3Drejected",
    ],
)
def test_three_forms_of_or(query):
    assert selected(query, STATES, "state") == ["acknowledged", "rejected"]


def test_repeated_attribute_with_three_values_is_one_or():
    assert selected("state=held&state=rejected&state=inProgress", STATES, "state") == ["rejected", "held", "inProgress"]


def test_semicolon_or_across_different_attributes():
    filter_ = parse_filter("state=held;priority=1")
    assert matches(filter_, {"state": "held", "priority": "4"})
    assert matches(filter_, {"state": "completed", "priority": "1"})
    assert not matches(filter_, {"state": "completed", "priority": "4"})


def test_different_attributes_are_anded():
    filter_ = parse_filter("state=held&priority=1")
    assert matches(filter_, {"state": "held", "priority": "1"})
    assert not matches(filter_, {"state": "held", "priority": "2"})
    assert not matches(filter_, {"state": "completed", "priority": "1"})


def test_or_group_anded_with_another_attribute():
    filter_ = parse_filter("state=held;state=pending&priority=1")
    assert matches(filter_, {"state": "pending", "priority": "1"})
    assert not matches(filter_, {"state": "pending", "priority": "2"})
    assert not matches(filter_, {"state": "completed", "priority": "1"})


def test_range_on_one_attribute_is_an_and_not_an_or():
    assert selected("n.gt=1&n.lt=3", [0, 1, 2, 3, 4]) == [2]
    assert selected("n%3E%3D1&n%3C%3D3", [0, 1, 2, 3, 4]) == [1, 2, 3]


def test_equality_and_comparison_on_one_attribute_are_anded():
    assert selected("n=2,3,9&n.lt=5", [1, 2, 3, 9]) == [2, 3]


def test_encoded_semicolon_and_ampersand_are_literal():
    assert selected("name=a%3Bb", ["a;b", "a", "b"], "name") == ["a;b"]
    assert selected("name=a%26b", ["a&b", "a", "b"], "name") == ["a&b"]


def test_quoted_value_with_encoded_comma_is_one_literal_value():
    # The only ways to ask for a value that contains a comma: quote it, or percent-encode the comma.
    assert selected("name=%22x%2Cy%22", ["x,y", "x", "y"], "name") == ["x,y"]
    # Unquoted, an encoded comma separates alternatives like a literal one (HTTP clients encode commas).
    assert selected("name=x%2Cy", ["x,y", "x", "y"], "name") == ["x", "y"]


@pytest.mark.parametrize("query", ['priority="1"', "priority=%221%22", "priority='1'", "priority=%271%27"])
def test_quotes_are_stripped_and_mean_a_string(query):
    assert parse_filter(query) == {"priority": "1"}
    assert selected(query, ["1", 1, '"1"'], "priority") == ["1"]


def test_quoted_true_is_the_string_not_the_boolean():
    assert selected('flag="true"', ["true", True], "flag") == ["true"]


def test_quoted_comparison_compares_strings():
    assert selected('n.gt="5"', ["6", "50", 6, 50], "n") == ["6", "50"]


def test_quoted_date_is_not_a_day():
    assert parse_filter('t="2013-04-20"') == {"t": "2013-04-20"}


@pytest.mark.parametrize(
    ("query", "values", "expected"),
    [
        ("n=1", [1, 1.0, "1", True, 2], [1, 1.0, "1"]),
        ("n=1.5", [1.5, "1.5", 1], [1.5, "1.5"]),
        ("n=-2", [-2, "-2", 2], [-2, "-2"]),
        ("n=1e3", [1000, "1e3", 1e3], [1000, "1e3", 1e3]),
        ("n=0", [0, False, "0"], [0, "0"]),
        ("flag=true", [True, "true", 1, False], [True, "true"]),
        ("flag=false", [False, "false", 0, True], [False, "false"]),
        ("n=01", ["01", 1], ["01"]),
        ("n=abc", ["abc", "ABC"], ["abc"]),
    ],
)
def test_typed_equality_candidates(query, values, expected):
    assert selected(query, values, query.split("=")[0]) == expected


def test_large_integer_candidate_is_exact():
    # 2**53 < 12345678901234567 < 2**63: a float round trip turns it into ...568.
    assert selected("n=12345678901234567", [12345678901234567, 12345678901234568, "12345678901234567"]) == [
        12345678901234567,
        "12345678901234567",
    ]


ICCID = "89000000000000000001"


@pytest.mark.parametrize(
    ("query", "stored", "expected"),
    [
        (f"iccid={ICCID}", ICCID, True),
        (f"iccid.gt={ICCID}", "89000000000000000002", True),
        (f"iccid.ne={ICCID}", ICCID, False),
    ],
)
def test_integer_beyond_64_bits_still_filters_the_string(query, stored, expected):
    # A 20-digit ICCID typed without quotes: the database holds 64-bit integers at most, and the filter is sent
    # as it is, so it must encode and still find the string.
    filter_ = parse_filter(query)
    bson.encode(filter_)
    assert matches(filter_, {"iccid": stored}) is expected


def test_date_time_equality_matches_the_canonical_instant():
    stored = ["2013-04-20T08:00:00.000Z", "2013-04-20T10:00:00.000Z"]
    assert selected("t=2013-04-20T10:00:00%2B02:00", stored, "t") == ["2013-04-20T08:00:00.000Z"]
    assert selected("t=2013-04-20T08:00:00Z", stored, "t") == ["2013-04-20T08:00:00.000Z"]
    assert selected("t=2013-04-20t08:00:00.000z", stored, "t") == ["2013-04-20T08:00:00.000Z"]


def test_bare_date_equality_covers_the_whole_utc_day():
    values = [
        "2013-04-19T23:59:59.999Z",
        "2013-04-20T00:00:00.000Z",
        "2013-04-20T12:34:56.789Z",
        "2013-04-20T23:59:59.999Z",
        "2013-04-21T00:00:00.000Z",
        "2013-04-20",
        "2013-04-21",
    ]
    assert selected("t=2013-04-20", values, "t") == [
        "2013-04-20T00:00:00.000Z",
        "2013-04-20T12:34:56.789Z",
        "2013-04-20T23:59:59.999Z",
        "2013-04-20",
    ]


def test_bare_date_in_a_comma_or_covers_each_day():
    values = ["2013-04-20T05:00:00.000Z", "2013-04-21T05:00:00.000Z", "2013-04-22T05:00:00.000Z"]
    assert selected("t=2013-04-20,2013-04-22", values, "t") == [values[0], values[2]]


def test_impossible_date_is_only_a_string():
    assert selected("t=2013-02-30", ["2013-02-30", "2013-03-02T00:00:00.000Z"], "t") == ["2013-02-30"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("t.gt=2013-04-20", ["2013-04-20T00:00:00.001Z", "2013-04-21T00:00:00.000Z"]),
        ("t%3E2013-04-20", ["2013-04-20T00:00:00.001Z", "2013-04-21T00:00:00.000Z"]),
        ("t.gte=2013-04-20", ["2013-04-20T00:00:00.000Z", "2013-04-20T00:00:00.001Z", "2013-04-21T00:00:00.000Z"]),
        ("t.lt=2013-04-20T00:00:00.001Z", ["2013-04-19T23:59:59.999Z", "2013-04-20T00:00:00.000Z"]),
        ("t.lte=2013-04-20T02:00:00%2B02:00", ["2013-04-19T23:59:59.999Z", "2013-04-20T00:00:00.000Z"]),
    ],
)
def test_date_comparisons_use_canonical_instants(query, expected):
    values = [
        "2013-04-19T23:59:59.999Z",
        "2013-04-20T00:00:00.000Z",
        "2013-04-20T00:00:00.001Z",
        "2013-04-21T00:00:00.000Z",
    ]
    assert selected(query, values, "t") == expected


def test_not_equal_understands_booleans():
    assert selected("isBundle.ne=true", [True, False], "isBundle") == [False]
    assert selected("isBundle!=false", [True, False], "isBundle") == [True]


def test_not_equal_understands_date_times():
    stored = ["2013-04-20T10:00:00.000Z", "2013-04-20T11:00:00.000Z"]
    assert selected("t.ne=2013-04-20T10:00:00Z", stored, "t") == ["2013-04-20T11:00:00.000Z"]


def test_not_equal_with_quotes_is_the_string_only():
    assert selected('n.ne="5"', [5, "5", 6], "n") == [5, 6]


def test_id_is_the_document_key():
    assert parse_filter("id=abc") == {"_id": "abc"}
    filter_ = parse_filter("id=a,b")
    assert [doc["_id"] for doc in ({"_id": "a"}, {"_id": "b"}, {"_id": "c"}) if matches(filter_, doc)] == ["a", "b"]


def test_id_comparison_and_regex_use_the_document_key():
    assert matches(parse_filter("id.gt=b"), {"_id": "c"})
    assert not matches(parse_filter("id.gt=b"), {"_id": "a"})
    assert matches(parse_filter("id=~^ab"), {"_id": "abc"})


def test_nested_attributes_use_dotted_paths():
    filter_ = parse_filter("validFor.startDateTime.gte=2026-01-01&productSpecification.id=ps-1")
    assert matches(
        filter_, {"validFor": {"startDateTime": "2026-01-01T00:00:00.000Z"}, "productSpecification": {"id": "ps-1"}}
    )
    assert not matches(
        filter_, {"validFor": {"startDateTime": "2025-12-31T23:59:59.999Z"}, "productSpecification": {"id": "ps-1"}}
    )


@pytest.mark.parametrize(
    "query",
    [
        "",
        "&",
        "fields=name",
        "offset=10",
        "limit=5",
        "sort=-name",
        "fields=name,id&offset=0&limit=5&sort=name",
        "fields=a&&limit=1",
    ],
)
def test_reserved_parameters_are_not_filters(query):
    assert parse_filter(query) == {}


def test_reserved_parameters_are_ignored_beside_filters():
    assert parse_filter("fields=name&state=held&limit=1&offset=2&sort=-name") == {"state": "held"}


@pytest.mark.parametrize(
    "query",
    [
        "_id=1",
        "_rev=1",
        "a._events=1",
        "%5Fid=1",
        "$where=1",
        "%24where=1",
        "a.$gt=1",
        "a[0]=1",
        "a%5B0%5D=1",
        "a.b[]=1",
        "a..b=1",
        ".a=1",
        "a.=1",
        "1a=1",
        "a b=1",
        "a/b=1",
    ],
)
def test_invalid_attributes_are_refused(query):
    with pytest.raises(BadRequest) as caught:
        parse_filter(query)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "query", ["a%3E%3E1", "a=%3C1", "a>>1", "a=<1", "a%3C%3E1", "a===1", "a.gt%3E1", "a.gt==1", "a.lt%3C%3D1", "a"]
)
def test_unknown_or_doubled_operators_are_refused(query):
    with pytest.raises(BadRequest):
        parse_filter(query)


@pytest.mark.parametrize(
    "query",
    [
        "a=~(",
        "a=~[a-",
        "a*=*x",
        "a=~(?=x)",
        "a=~(?!x)y",
        "a=~x(?<=x)",
        "a=~x(?<!y)",
        "a=~(x)%5C1",
        "a=~",
        'a=~""',
        "a=~" + "x" * (MAX_REGEX_LENGTH + 1),
    ],
)
def test_invalid_or_unsupported_regular_expressions_are_refused(query):
    with pytest.raises(BadRequest):
        parse_filter(query)


def test_regex_at_the_length_limit_is_accepted():
    assert parse_filter("a=~" + "x" * MAX_REGEX_LENGTH) == {"a": {"$regex": "x" * MAX_REGEX_LENGTH}}


@pytest.mark.parametrize("query", ["a.gt=", "a%3E", "a.lt=%22%22", "a%3C%3D", "a.gte=''", "a.lte="])
def test_comparison_without_a_value_is_refused(query):
    with pytest.raises(BadRequest) as caught:
        parse_filter(query)
    assert "value" in caught.value.message


def test_bad_term_refuses_the_whole_query():
    with pytest.raises(BadRequest):
        parse_filter("state=held&a%3E%3E1&priority=1")


# fields


def test_no_fields_means_the_full_representation():
    assert parse_fields(None) is None
    assert parse_fields("") is None
    assert parse_fields("  ") is None


def test_fields_none_gives_only_id_and_href():
    assert parse_fields("none") == {"_id": 1, "href": 1}


def test_fields_names_plus_id_and_href():
    assert parse_fields("name, lifecycleStatus,validFor.startDateTime") == {
        "_id": 1,
        "href": 1,
        "name": 1,
        "lifecycleStatus": 1,
        "validFor.startDateTime": 1,
    }


def test_fields_naming_id_or_href_changes_nothing():
    assert parse_fields("id,href") == {"_id": 1, "href": 1}
    assert parse_fields("name,,id") == {"_id": 1, "href": 1, "name": 1}


@pytest.mark.parametrize("fields", ["_rev", "name,_events", "$where", "a[0]", "name,a..b"])
def test_invalid_fields_are_refused(fields):
    with pytest.raises(BadRequest):
        parse_fields(fields)


# sort


def test_sort_keys_in_order_with_directions():
    assert parse_sort("-lastUpdate,+name,version,id") == (
        ("lastUpdate", -1),
        ("name", 1),
        ("version", 1),
        ("_id", 1),
    )


def test_sort_nested_and_empty_parts():
    assert parse_sort(" -validFor.startDateTime , ,name") == (("validFor.startDateTime", -1), ("name", 1))
    assert parse_sort(None) == ()
    assert parse_sort("") == ()


@pytest.mark.parametrize("sort", ["_rev", "-_created", "$natural", "name,a[0]"])
def test_invalid_sort_keys_are_refused(sort):
    with pytest.raises(BadRequest):
        parse_sort(sort)


# build_list_query


def _build(raw_query: str = "", **kwargs: Any) -> ListQuery:
    arguments: dict[str, Any] = {
        "fields": None,
        "sort": None,
        "offset": None,
        "limit": None,
        "default_limit": 100,
        "max_limit": 1000,
    }
    arguments.update(kwargs)
    return build_list_query(raw_query, **arguments)


def test_list_query_defaults():
    query = _build()
    assert query == ListQuery(filter={}, sort=(), projection=None, offset=0, limit=100)


def test_list_query_combines_every_part():
    query = _build("state=held&fields=name&limit=5", fields="name", sort="-name", offset=10, limit=5)
    assert query.filter == {"state": "held"}
    assert query.projection == {"_id": 1, "href": 1, "name": 1}
    assert query.sort == (("name", -1),)
    assert (query.offset, query.limit) == (10, 5)


@pytest.mark.parametrize("limit", [0, 1, 1000])
def test_limits_within_bounds_are_kept(limit):
    assert _build(limit=limit).limit == limit


@pytest.mark.parametrize(("offset", "limit"), [(-1, None), (None, -1), (None, 1001), (0, 5000)])
def test_limits_out_of_bounds_are_refused(offset, limit):
    with pytest.raises(BadRequest):
        _build(offset=offset, limit=limit)


def test_default_limit_comes_from_the_caller():
    assert _build(default_limit=7).limit == 7
    assert _build(offset=0).offset == 0
