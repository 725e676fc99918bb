"""TMF630 list queries (filter, sort, fields, paging) parsed from the raw query string into database terms."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

from tmf_common.clock import canonical_filter_instant
from tmf_common.errors import BadRequest

RESERVED_PARAMETERS = frozenset({"fields", "offset", "limit", "sort"})

# Attribute paths: letters, digits, `@`, `-`, `_` and dots between segments. Segments that start with `_` or
# `$` are the service's own bookkeeping or database operators and are never filterable by clients.
_ATTRIBUTE = re.compile(r"^[A-Za-z@][A-Za-z0-9@_\-]*(\.[A-Za-z@][A-Za-z0-9@_\-]*)*$")

# The operator follows the attribute name; `.gt=` style suffixes are resolved after this split.
_TERM = re.compile(r"^(?P<attribute>[^<>=!*~]+)(?P<operator>>=|<=|==|=~|\*=|!=|>|<|=)(?P<value>.*)$", re.S)
_OPERATOR_CHARS = re.compile(r"^[<>=!]+")

_SUFFIX_OPERATORS = {
    "gt": "$gt",
    "gte": "$gte",
    "lt": "$lt",
    "lte": "$lte",
    "eq": "$eq",
    "ne": "$ne",
    "regex": "$regex",
}
_SYMBOL_OPERATORS = {
    "=": "$eq",
    "==": "$eq",
    ">": "$gt",
    ">=": "$gte",
    "<": "$lt",
    "<=": "$lte",
    "!=": "$ne",
    "=~": "$regex",
    "*=": "$regex",
}
_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_REGEX_LENGTH = 200


@dataclass(frozen=True)
class ListQuery:
    """What a list request asks the database for."""

    filter: dict[str, Any] = field(default_factory=dict)
    sort: tuple[tuple[str, int], ...] = ()
    projection: dict[str, int] | None = None
    offset: int = 0
    limit: int = 100

    def scoped(self, scope: dict[str, Any]) -> ListQuery:
        """The same query restricted to the documents matching scope as well."""
        combined = {"$and": [self.filter, scope]} if self.filter else dict(scope)
        return ListQuery(combined, self.sort, self.projection, self.offset, self.limit)


def storage_path(attribute: str) -> str:
    """The database path of a client attribute path (`id` is stored as the document key)."""
    if attribute == "id":
        return "_id"
    return attribute


def _check_attribute(attribute: str, what: str) -> str:
    if not _ATTRIBUTE.match(attribute):
        raise BadRequest(f"Invalid {what} attribute '{attribute}'")
    return attribute


def parse_fields(fields: str | None) -> dict[str, int] | None:
    """Projection for `fields`: the named attributes plus id and href; `none` gives only id and href."""
    if fields is None or fields.strip() == "":
        return None
    projection = {"_id": 1, "href": 1}
    for name in (part.strip() for part in fields.split(",")):
        if not name or name == "none":
            continue
        projection[storage_path(_check_attribute(name, "fields"))] = 1
    return projection


def parse_sort(sort: str | None) -> tuple[tuple[str, int], ...]:
    if sort is None or sort.strip() == "":
        return ()
    keys: list[tuple[str, int]] = []
    for raw in (part.strip() for part in sort.split(",")):
        if not raw:
            continue
        direction = -1 if raw.startswith("-") else 1
        name = raw.lstrip("+-")
        keys.append((storage_path(_check_attribute(name, "sort")), direction))
    return tuple(keys)


_INT64 = range(-(2**63), 2**63)


def _typed_number(value: str) -> int | float | None:
    """The number a filter value spells, when the database can hold it exactly."""
    if not _NUMBER.match(value):
        return None
    if "." not in value and "e" not in value.lower():
        whole = int(value)
        return whole if whole in _INT64 else None
    number = float(value)
    return number if math.isfinite(number) else None


def _split_alternatives(raw_value: str) -> list[str]:
    """Comma-separated alternatives; commas inside double quotes belong to the value."""
    return [match.group() for match in re.finditer(r'"[^"]*"|[^,]+', raw_value)] or [""]


def _strip_quotes(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1], True
    return value, False


def _next_day(text: str) -> str | None:
    """The bare date after the bare date text, or None when text is not a date."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if day == date.max:
        # 9999-12-31 has no next day; as an exclusive string bound, "9999-12-32" still follows all its instants.
        return "9999-12-32"
    return (day + timedelta(days=1)).isoformat()


def _candidates(raw_value: str) -> tuple[str, list[Any]]:
    """The stored values a filter value may match: the string, and its number, boolean or canonical instant."""
    value, quoted = _strip_quotes(raw_value)
    candidates: list[Any] = [value]
    if quoted:
        return value, candidates
    number = _typed_number(value)
    if number is not None:
        candidates.append(number)
    elif value in ("true", "false"):
        candidates.append(value == "true")
    instant = canonical_filter_instant(value)
    if instant is not None and instant != value:
        candidates.append(instant)
    return value, candidates


def _equality(path: str, raw_value: str) -> dict[str, Any]:
    value, candidates = _candidates(raw_value)
    if _BARE_DATE.match(value) and raw_value == value:
        next_day = _next_day(value)
        if next_day is not None:
            # A bare date matches itself and every instant of that UTC day: everything from the date up to,
            # not including, the next day's bare date (canonical instants sort between the two).
            return {path: {"$gte": value, "$lt": next_day}}
    return {path: candidates[0] if len(candidates) == 1 else {"$in": candidates}}


def _comparison(path: str, operator: str, raw_value: str) -> dict[str, Any]:
    value, quoted = _strip_quotes(raw_value)
    if value == "":
        raise BadRequest(f"Filter on '{path}' needs a value to compare with")
    if quoted:
        return {path: {operator: value}}
    instant = canonical_filter_instant(value)
    if instant is not None:
        return {path: {operator: instant}}
    typed = _typed_number(value)
    if typed is not None:
        # Numbers stored as numbers compare numerically; numbers stored as strings (TMF `priority`) as strings.
        return {"$or": [{path: {operator: typed}}, {path: {operator: value}}]}
    return {path: {operator: value}}


def _regex(path: str, raw_value: str) -> dict[str, Any]:
    pattern, _ = _strip_quotes(raw_value)
    if not pattern or len(pattern) > MAX_REGEX_LENGTH:
        raise BadRequest(f"Regular expression filter on '{path}' must have 1 to {MAX_REGEX_LENGTH} characters")
    try:
        re.compile(pattern)
    except (re.error, OverflowError) as error:  # OverflowError: a repetition count such as a{4294967295}
        raise BadRequest(f"Invalid regular expression for '{path}': {error}") from error
    if re.search(r"\(\?[=!<]|\\[1-9]", pattern):
        raise BadRequest(f"Regular expression for '{path}' uses lookaround or backreferences, not supported")
    return {path: {"$regex": pattern}}


def _clause(term: str) -> dict[str, Any]:
    # Commas separate alternatives whether sent literally or encoded (HTTP clients encode them); a value
    # that contains a comma is written in double quotes.
    decoded = unquote(term)
    match = _TERM.match(decoded)
    if match is None:
        raise BadRequest(f"Invalid filter '{decoded}': expected attribute, operator and value")
    attribute, symbol, value = match.group("attribute"), match.group("operator"), match.group("value")
    leftover = _OPERATOR_CHARS.match(value)
    if leftover is not None and symbol not in ("=~", "*="):
        raise BadRequest(f"Unknown filter operator '{symbol}{leftover.group()}' in '{decoded}'")
    operator = _SYMBOL_OPERATORS[symbol]
    head, _, suffix = attribute.rpartition(".")
    if head and suffix in _SUFFIX_OPERATORS:
        if symbol != "=":
            raise BadRequest(f"Filter '{decoded}' combines two operators")
        attribute, operator = head, _SUFFIX_OPERATORS[suffix]
    path = storage_path(_check_attribute(attribute, "filter"))
    if operator == "$eq":
        alternatives = [_equality(path, part) for part in _split_alternatives(value)]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    if operator == "$regex":
        return _regex(path, value)
    if operator == "$ne":
        return {path: {"$nin": _candidates(value)[1]}}
    return _comparison(path, operator, value)


def parse_filter(raw_query: str) -> dict[str, Any]:
    """The database filter of every non-reserved term; `&` is AND, `;`, commas and repeated attributes are OR."""
    by_attribute: dict[str, list[dict[str, Any]]] = {}
    ordered: list[dict[str, Any]] = []
    for term in raw_query.split("&"):
        if not term:
            continue
        name = unquote(term.split("=", 1)[0])
        if name in RESERVED_PARAMETERS:
            continue
        alternatives = [_clause(part) for part in term.split(";") if part]
        if not alternatives:
            continue
        group = alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
        key = _attribute_key(term)
        if key is not None and "=" in term and ";" not in term and _is_plain_equality(term):
            by_attribute.setdefault(key, []).append(group)
        else:
            ordered.append(group)
    for groups in by_attribute.values():
        # The same attribute repeated with plain equality (`state=a&state=b`) is an OR (TMF630).
        ordered.append(groups[0] if len(groups) == 1 else {"$or": groups})
    if not ordered:
        return {}
    return ordered[0] if len(ordered) == 1 else {"$and": ordered}


def _attribute_key(term: str) -> str | None:
    match = _TERM.match(unquote(term))
    return match.group("attribute") if match else None


def _is_plain_equality(term: str) -> bool:
    match = _TERM.match(unquote(term))
    if match is None or match.group("operator") != "=":
        return False
    return match.group("attribute").rpartition(".")[2] not in _SUFFIX_OPERATORS


def build_list_query(
    raw_query: str,
    *,
    fields: str | None,
    sort: str | None,
    offset: int | None,
    limit: int | None,
    default_limit: int,
    max_limit: int,
) -> ListQuery:
    if offset is not None and offset < 0:
        raise BadRequest("offset must be zero or more")
    if limit is not None and not 0 <= limit <= max_limit:
        raise BadRequest(f"limit must be between 0 and {max_limit}")
    return ListQuery(
        filter=parse_filter(raw_query),
        sort=parse_sort(sort),
        projection=parse_fields(fields),
        offset=offset or 0,
        limit=default_limit if limit is None else limit,
    )
