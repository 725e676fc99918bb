"""Hub subscription queries: a TMF630 filter parsed by the platform's filter module, evaluated on event envelopes."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tmf_common.errors import BadRequest
from tmf_common.query import RESERVED_PARAMETERS, parse_filter

Envelope = Mapping[str, Any]
_Predicate = Callable[[Envelope], bool]
# A test over every value a path reaches in one envelope (see _reached).
_ValuesTest = Callable[[list[Any]], bool]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_SCALARS = (str, bool, int, float)


@dataclass(frozen=True)
class EventFilter:
    """A subscription's query as registered, and the database-style filter it parses to.

    Matching follows MongoDB's semantics for the operators parse_filter emits, so a subscription selects the
    same events a list query with the same text would select as documents. parse_filter maps the attribute `id`
    to the stored key `_id`; an envelope has no `_id`, so that path is evaluated as `id` again.
    """

    query: str = ""
    # Equal queries parse to equal filters, so the text alone is hashed (a dict cannot be).
    filter: dict[str, Any] = field(default_factory=dict, hash=False)
    _predicate: _Predicate = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Compiled once per subscription, not once per delivered event; this also refuses a filter shape the
        # matcher does not implement at registration time rather than at delivery time.
        object.__setattr__(self, "_predicate", _compile_filter(self.filter))

    @classmethod
    def parse(cls, query: str | None) -> EventFilter:
        """The filter of a hub `query`; empty, blank or None selects every event, anything invalid is BadRequest."""
        raw = query if query and not query.isspace() else ""
        _refuse_list_parameters(raw)
        return cls(query=raw, filter=parse_filter(raw))

    def matches(self, envelope: Envelope) -> bool:
        return self._predicate(envelope)


def _refuse_list_parameters(raw: str) -> None:
    # parse_filter skips paging and projection parameters because a list request carries them beside its
    # filter; in a subscription they would be dropped silently and the subscriber sent events it did not ask for.
    for term in raw.split("&"):
        name = unquote(term.split("=", 1)[0])
        if name in RESERVED_PARAMETERS:
            raise BadRequest(f"'{name}' does not apply to event subscriptions; the query only selects events")


def _always(_: Envelope) -> bool:
    return True


def _compile_filter(filter_: Mapping[str, Any]) -> _Predicate:
    clauses = [_compile_clause(key, condition) for key, condition in filter_.items()]
    if not clauses:
        return _always
    if len(clauses) == 1:
        return clauses[0]
    return lambda envelope: all(clause(envelope) for clause in clauses)


def _compile_clause(key: str, condition: Any) -> _Predicate:
    if key in ("$and", "$or"):
        if not isinstance(condition, list) or not condition:
            raise ValueError(f"{key} needs a non-empty list of filters, got {condition!r}")
        parts = [_compile_filter(part) for part in condition]
        if key == "$and":
            return lambda envelope: all(part(envelope) for part in parts)
        return lambda envelope: any(part(envelope) for part in parts)
    if key.startswith("$"):
        raise ValueError(f"Top-level operator {key} is not one parse_filter emits")
    path = _envelope_path(key)
    tests = _compile_condition(condition)

    def clause(envelope: Envelope) -> bool:
        values = _reached(envelope, path)
        # Each operator is tested against all reached values on its own, as MongoDB does: {$gte: a, $lt: b}
        # on an array matches when one element is >= a and another (or the same) is < b.
        return all(test(values) for test in tests)

    return clause


def _envelope_path(key: str) -> tuple[str, ...]:
    # storage_path turns the attribute `id` into the document key `_id`; envelopes keep `id` as it is.
    parts = tuple(("id" if key == "_id" else key).split("."))
    if any(not part or part.isdigit() or part.startswith("$") for part in parts):
        # Array positions (`items.0.state`) have their own MongoDB semantics that _reached does not implement;
        # parse_filter's attribute syntax never produces them.
        raise ValueError(f"Path {key!r} is not one parse_filter emits")
    return parts


def _compile_condition(condition: Any) -> list[_ValuesTest]:
    if not isinstance(condition, dict):
        return [_equals_any([_operand(condition)])]
    if not condition or not all(isinstance(key, str) and key.startswith("$") for key in condition):
        raise ValueError(f"Condition {condition!r} is not an operator document parse_filter emits")
    return [_compile_operator(name, argument) for name, argument in condition.items()]


def _compile_operator(name: str, argument: Any) -> _ValuesTest:
    if name == "$eq":
        return _equals_any([_operand(argument)])
    if name == "$ne":
        return _negate(_equals_any([_operand(argument)]))
    if name in ("$in", "$nin"):
        if not isinstance(argument, list):
            raise ValueError(f"{name} needs a list, got {argument!r}")
        test = _equals_any([_operand(item) for item in argument])
        return test if name == "$in" else _negate(test)
    if name in _COMPARISONS:
        return _compares(_COMPARISONS[name], _operand(argument))
    if name == "$regex":
        if not isinstance(argument, str):
            raise ValueError(f"$regex needs a pattern string, got {argument!r}")
        return _searches(_mongodb_pattern(argument))
    raise ValueError(f"Operator {name} is not one parse_filter emits")


def _operand(value: Any) -> Any:
    # Only scalars: that is what makes it safe for _reached to leave out a leaf array itself (MongoDB also
    # offers the whole array as a candidate, but a whole array never equals or compares with a scalar).
    if not isinstance(value, _SCALARS):
        raise ValueError(f"Operand {value!r} is not a scalar parse_filter emits")
    return value


def _type_class(value: Any) -> type:
    # MongoDB compares values only within one type class (type bracketing): a number never equals or orders
    # against a string, and a boolean, though a Python int, is not a number.
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float):
        return float
    if isinstance(value, str):
        return str
    return type(value)


def _equals_any(operands: list[Any]) -> _ValuesTest:
    typed = [(_type_class(operand), operand) for operand in operands]

    def test(values: list[Any]) -> bool:
        return any(_type_class(value) is kind and value == operand for value in values for kind, operand in typed)

    return test


def _negate(test: _ValuesTest) -> _ValuesTest:
    # $ne and $nin are the negation of $eq and $in over all reached values: true for a missing field, false
    # when any array element equals an operand.
    return lambda values: not test(values)


def _compares(compare: Callable[[Any, Any], bool], operand: Any) -> _ValuesTest:
    kind = _type_class(operand)
    return lambda values: any(_type_class(value) is kind and compare(value, operand) for value in values)


def _searches(pattern: re.Pattern[str]) -> _ValuesTest:
    return lambda values: any(isinstance(value, str) and pattern.search(value) is not None for value in values)


def _reached(envelope: Envelope, path: tuple[str, ...]) -> list[Any]:
    """The values a dotted path reaches, as MongoDB's matcher enumerates them (an empty list when missing).

    An array met before the last segment is traversed into its object elements (arrays nested directly in it
    are not descended into); an array at the end contributes its elements.
    """
    reached: list[Any] = []
    _collect(envelope, path, 0, reached)
    return reached


def _collect(node: Any, path: tuple[str, ...], depth: int, reached: list[Any]) -> None:
    if depth == len(path):
        if isinstance(node, list):
            reached.extend(node)
        else:
            reached.append(node)
        return
    segment = path[depth]
    if isinstance(node, Mapping):
        if segment in node:
            _collect(node[segment], path, depth + 1, reached)
    elif isinstance(node, list):
        for element in node:
            if isinstance(element, Mapping) and segment in element:
                _collect(element[segment], path, depth + 1, reached)


# MongoDB evaluates $regex with PCRE in UTF mode without UCP: Unicode case folding, but \d \w \s \b and POSIX
# classes match ASCII only. Python's re is Unicode-aware for those, so they are rewritten into ASCII-mode groups,
# and `\Z` gets PCRE's meaning (end, or before a final newline). The rest of the syntax parse_filter admits means
# the same in both engines, `$` included.
_ASCII_ESCAPES = frozenset("dDwWsSbB")
_CLASS_ESCAPES = frozenset("dDwWsS")
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]+):\]")
_POSIX_RANGES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\x0b\\x0c\\r",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def _mongodb_pattern(pattern: str) -> re.Pattern[str]:
    """A Python pattern that matches what MongoDB's $regex matches for a pattern parse_filter admits."""
    try:
        return re.compile(_translate(pattern))
    except re.error:
        # The rewrite tracks character classes but not verbose-mode comments, where a `[` may open nothing;
        # parse_filter compiled the original, so that is the fallback.
        return re.compile(pattern)


def _translate(pattern: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escape = pattern[index : index + 2]
            if escape[1] in _ASCII_ESCAPES:
                out.append(f"(?a:{escape})")
            elif escape[1] == "Z":
                out.append(r"(?=\n?\Z)")
            else:
                out.append(escape)
            index += 2
        elif char == "[":
            index = _translate_class(pattern, index, out)
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _translate_class(pattern: str, start: int, out: list[str]) -> int:
    """Append the character class that opens at start, rewritten; return the index after it."""
    index = start + 1
    if index < len(pattern) and pattern[index] == "^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":  # a `]` first in a class is a literal
        index += 1
    body = [pattern[start:index]]
    ascii_only = False
    while index < len(pattern) and pattern[index] != "]":
        posix = _POSIX_CLASS.match(pattern, index)
        if pattern[index] == "\\" and index + 1 < len(pattern):
            ascii_only = ascii_only or pattern[index + 1] in _CLASS_ESCAPES
            body.append(pattern[index : index + 2])
            index += 2
        elif posix is not None:
            body.append(_posix_range(posix))
            ascii_only = True
            index = posix.end()
        else:
            body.append(pattern[index])
            index += 1
    body.append(pattern[index : index + 1])  # the closing `]`, or nothing for an unterminated class
    text = "".join(body)
    # ASCII mode is a property of a group, not of a class member, so the whole class is wrapped; that also
    # makes case-insensitive matching of the class's own letters ASCII-only, a difference only for non-ASCII
    # letters listed beside \d \w \s or a POSIX class under (?i).
    out.append(f"(?a:{text})" if ascii_only else text)
    return index + 1


def _posix_range(match: re.Match[str]) -> str:
    negated, name = match.group(1), match.group(2)
    if name not in _POSIX_RANGES:
        raise BadRequest(f"Unknown POSIX character class '[:{name}:]' in regular expression")
    if negated:
        # A negated set cannot be a member of a Python character class; the ASCII escapes cover the usual cases.
        raise BadRequest(f"Negated POSIX class '[:^{name}:]' is not supported in event subscriptions; use [^...]")
    return _POSIX_RANGES[name]
