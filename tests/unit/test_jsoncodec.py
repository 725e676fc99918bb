"""Storage encoding of client JSON (FerretDB-safe keys, no nested arrays, canonical date-times) and the depth check."""

from __future__ import annotations

import copy
import random
from typing import Any

import bson
import orjson
import pytest

from tmf_common.errors import BadRequest
from tmf_common.jsoncodec import NESTED_ARRAY_KEY, check_depth, from_storage, to_storage

# Hand-picked keys that exercise every escape and its literal look-alike.
TRICKY_KEYS = [
    ".",
    "$",
    "_",
    "%",
    "a.b",
    "a.b.c",
    "$set",
    "$",
    "_id",
    "_rev",
    "__proto__",
    "a$b",
    "a_b",
    "50%",
    "%2E",
    "%25",
    "%24",
    "%5F",
    "%5B%5D",
    "%252E",
    "%%2E.",
    "._$%",
    "$.%_",
    "",
    "x",
    "2E",
    "@type",
]
KEY_ALPHABET = "ab.$_%2E45F[]@ "
# Strings with no digit can never look like a date-time, so the round trip must return them unchanged.
STRING_ALPHABET = 'abcXYZ .$_%-:TZ+[]{}"\\/é😀\n'
# Date-times and the canonical form the storage layer must give them (UTC, milliseconds, `Z`).
DATE_TIMES = {
    "2026-01-01T00:00:00Z": "2026-01-01T00:00:00.000Z",
    "2026-01-01T01:00:00+01:00": "2026-01-01T00:00:00.000Z",
    "2026-01-01T00:00:00-05:30": "2026-01-01T05:30:00.000Z",
    "2025-12-31T23:30:00-01:00": "2026-01-01T00:30:00.000Z",
    "2026-03-01T00:30:00+02:00": "2026-02-28T22:30:00.000Z",
    "2026-01-01t10:00:00z": "2026-01-01T10:00:00.000Z",
    "2026-01-01T10:00:00.5Z": "2026-01-01T10:00:00.500Z",
    "2026-01-01T10:00:00.123456Z": "2026-01-01T10:00:00.123Z",
    "2026-01-01T10:00:00.123456+00:00": "2026-01-01T10:00:00.123Z",
    "2026-01-01T10:00:00.000Z": "2026-01-01T10:00:00.000Z",
    "2026-01-01T10:00Z": "2026-01-01T10:00:00.000Z",
}
NOT_DATE_TIMES = [
    "2026-01-01",
    "2026-01-01T10:00:00",
    "2026-01-01T10:00:00.000",
    "2026-02-30T10:00:00Z",
    "2026-13-01T10:00:00Z",
    "2026-01-01T25:00:00Z",
    "2026-01-01T10:00:00Z and later",
    "on 2026-01-01T10:00:00Z",
    "1234-not-a-date-at-all",
    "abcd-efghijklmnopq",
    "Premium Family Plan",
    "89000000000000000001",
    "+33-6-12-34-56-78-90",
]


def _key(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(TRICKY_KEYS)
    return "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(1, 6)))


def _string(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.1:
        original, canonical = rng.choice(list(DATE_TIMES.items()))
        return original, canonical
    if roll < 0.2:
        text = rng.choice(NOT_DATE_TIMES)
        return text, text
    text = "".join(rng.choice(STRING_ALPHABET) for _ in range(rng.randint(0, 20)))
    return text, text


def generate(rng: random.Random, depth: int = 0) -> tuple[Any, Any]:
    """A random JSON value and what it must read back as after storage (date-times canonical)."""
    leaf_only = depth >= 5
    kind = rng.choice(["null", "bool", "int", "float", "str", "str"] + ([] if leaf_only else ["list", "dict"] * 3))
    if kind == "null":
        return None, None
    if kind == "bool":
        value = rng.random() < 0.5
        return value, value
    if kind == "int":
        number = rng.randint(-(2**63), 2**63 - 1) if rng.random() < 0.2 else rng.randint(-1000, 1000)
        return number, number
    if kind == "float":
        real = rng.uniform(-1e6, 1e6)
        return real, real
    if kind == "str":
        return _string(rng)
    if kind == "list":
        pairs = [generate(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        if rng.random() < 0.3:
            # Arrays directly inside arrays, several levels deep.
            inner_pairs = [generate(rng, depth + 2) for _ in range(rng.randint(0, 3))]
            pairs.append(([p[0] for p in inner_pairs], [p[1] for p in inner_pairs]))
        return [p[0] for p in pairs], [p[1] for p in pairs]
    original: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for _ in range(rng.randint(0, 5)):
        key = _key(rng)
        value, read_back = generate(rng, depth + 1)
        original[key] = value
        expected[key] = read_back
    return original, expected


def same_json(left: Any, right: Any) -> bool:
    # orjson keeps key order and tells 1, 1.0 and true apart, which == does not.
    return orjson.dumps(left, option=orjson.OPT_SORT_KEYS) == orjson.dumps(right, option=orjson.OPT_SORT_KEYS)


def storage_violations(value: Any, path: str = "$", in_list: bool = False) -> list[str]:
    """Where a stored value breaks FerretDB's rules or leaks a client key into the service's `_` namespace."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if "." in key or key.startswith(("$", "_")):
                found.append(f"{path}: key {key!r}")
            found.extend(storage_violations(child, f"{path}.{key}"))
    elif isinstance(value, list):
        if in_list:
            found.append(f"{path}: array directly inside an array")
        for index, child in enumerate(value):
            found.extend(storage_violations(child, f"{path}[{index}]", in_list=True))
    return found


SEEDS = range(300)


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_values_round_trip(seed):
    rng = random.Random(seed)
    value, expected = generate(rng)
    untouched = copy.deepcopy(value)
    stored = to_storage(value)
    assert same_json(value, untouched), "to_storage must not change its argument"
    assert storage_violations(stored) == []
    bson.encode({"value": stored})
    read_back = from_storage(stored)
    assert same_json(read_back, expected)
    # Storing what was read back stores exactly the same thing (the encoding is stable).
    assert same_json(to_storage(read_back), stored)


def test_generator_covers_the_interesting_cases():
    # Guards the property test against a generator that silently stopped producing the hard inputs.
    seen = {"nested array": False, "dotted key": False, "dollar key": False, "underscore key": False, "date": False}

    def walk(value: Any, in_list: bool = False) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                seen["dotted key"] |= "." in key
                seen["dollar key"] |= key.startswith("$")
                seen["underscore key"] |= key.startswith("_")
                walk(child)
        elif isinstance(value, list):
            seen["nested array"] |= in_list
            for child in value:
                walk(child, in_list=True)
        elif isinstance(value, str):
            seen["date"] |= value in DATE_TIMES and DATE_TIMES[value] != value

    for seed in SEEDS:
        walk(generate(random.Random(seed))[0])
    assert all(seen.values()), seen


@pytest.mark.parametrize(
    ("key", "stored_key"),
    [
        ("a.b", "a%2Eb"),
        ("$ref", "%24ref"),
        ("_id", "%5Fid"),
        ("_", "%5F"),
        ("50%", "50%25"),
        ("%2E", "%252E"),
        ("%5B%5D", "%255B%255D"),
        ("$a.b_%", "%24a%2Eb_%25"),
        ("a$b", "a$b"),
        ("a_b", "a_b"),
        ("@type", "@type"),
    ],
)
def test_key_encoding(key, stored_key):
    stored = to_storage({key: 1})
    assert stored == {stored_key: 1}
    assert from_storage(stored) == {key: 1}


def test_literal_escape_sequences_in_keys_survive():
    value = {"%2E": 1, ".": 2, "%252E": 3, "%25": 4, "%": 5, "%5F": 6, "_": 7, "%24": 8, "$": 9}
    stored = to_storage(value)
    assert len(stored) == len(value), "two client keys must never share one stored key"
    assert from_storage(stored) == value


def test_keys_are_encoded_at_every_depth():
    value = {"a.b": [{"$c": {"_d": [{"e.f": 1}]}}]}
    stored = to_storage(value)
    assert stored == {"a%2Eb": [{"%24c": {"%5Fd": [{"e%2Ef": 1}]}}]}
    assert from_storage(stored) == value


def test_client_object_that_looks_like_the_array_wrapper_is_not_unwrapped():
    value = [{NESTED_ARRAY_KEY: [1, 2]}, {NESTED_ARRAY_KEY: 3}]
    stored = to_storage(value)
    assert from_storage(stored) == value


@pytest.mark.parametrize(
    "value",
    [
        [[]],
        [[1, 2], [3]],
        [[[1]]],
        [[[[[["deep"]]]]]],
        {"matrix": [[1, 0], [0, 1]], "ragged": [1, [2, [3, [4, []]]]]},
        [{"a": [[{"b": [[True]]}]]}],
    ],
)
def test_nested_arrays_at_several_depths(value):
    stored = to_storage(value)
    assert storage_violations(stored) == []
    assert same_json(from_storage(stored), value)


@pytest.mark.parametrize(("text", "canonical"), list(DATE_TIMES.items()))
def test_date_times_are_stored_canonical(text, canonical):
    assert to_storage(text) == canonical
    assert to_storage({"validFor": {"startDateTime": text}}) == {"validFor": {"startDateTime": canonical}}
    assert to_storage([text]) == [canonical]
    assert from_storage(to_storage(text)) == canonical


@pytest.mark.parametrize("text", NOT_DATE_TIMES)
def test_other_strings_are_untouched(text):
    assert to_storage(text) == text
    assert to_storage({"v": [text]}) == {"v": [text]}


def test_date_like_keys_are_not_canonicalised():
    key = "2026-01-01T00:00:00Z"
    assert from_storage(to_storage({key: key})) == {key: "2026-01-01T00:00:00.000Z"}


@pytest.mark.parametrize(
    "value",
    [
        {"a\x00b": 1},
        {"ext": {"\x00": "nul key"}},
        {"n": 2**63},
        {"n": -(2**63) - 1},
        {"iccid": 89000000000000000001},
        [[10**30]],
    ],
    ids=["nul-in-key", "nested-nul-key", "2**63", "below-int64", "20-digit-int", "10**30-in-nested-array"],
)
def test_json_outside_bson_is_refused_or_round_trips(value):
    # JSON allows these, BSON does not: the storage layer either refuses them as a client error (400) or
    # encodes them so that they round-trip, never lets the database driver fail with a 500.
    try:
        stored = to_storage(value)
    except BadRequest:
        return
    bson.encode({"value": stored})
    assert same_json(from_storage(stored), value)


def test_scalars_pass_through():
    for value in (None, True, False, 0, -1, 2**63 - 1, 1.5, "", "text"):
        assert same_json(from_storage(to_storage(value)), value)


# check_depth


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b"{}", 1),
        (b"[[[]]]", 3),
        (b'{"a":{"b":{"c":1}}}', 3),
        (b'{"a":[{"b":[]}]}', 4),
        (b"[[],[],[[]]]", 3),
        (b'[{"a":1},{"b":2},{"c":3}]', 2),
    ],
)
def test_depth_at_below_and_above_the_limit(raw, depth):
    check_depth(raw, depth)
    check_depth(raw, depth + 1)
    if depth > 0:
        with pytest.raises(BadRequest) as caught:
            check_depth(raw, depth - 1)
        assert caught.value.status == 400
        assert str(depth - 1) in caught.value.message


def test_brackets_inside_strings_are_ignored():
    check_depth(b'["[[[[{{{{", "]]]]}}}}"]', 1)
    check_depth(b'{"[[[[": "{{{{"}', 1)


def test_escaped_quotes_do_not_end_a_string():
    # If the parser took \" as the end of the string, it would count the brackets after it.
    check_depth(rb'["\"[[[[{{{{", "x"]', 1)
    check_depth(rb'{"k\"[[[": "v\"{{{"}', 1)


def test_escaped_backslash_before_a_quote_ends_the_string():
    raw = rb'["\\", [["x"]]]'
    check_depth(raw, 3)
    with pytest.raises(BadRequest):
        check_depth(raw, 2)


def test_unicode_escapes_of_brackets_are_text():
    check_depth(rb'["\u005b\u005b\u007b"]', 1)


def test_very_deep_body_is_refused_and_very_wide_one_accepted():
    with pytest.raises(BadRequest):
        check_depth(b"[" * 100_000 + b"]" * 100_000, 32)
    check_depth(b"[" + b",".join([b"[1]"] * 10_000) + b"]", 2)
