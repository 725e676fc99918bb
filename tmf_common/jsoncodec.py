"""JSON encoding, request depth checks, and the storage encoding that keeps client JSON within FerretDB's rules."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from tmf_common.clock import canonical_date_time
from tmf_common.errors import BadRequest

# FerretDB (and MongoDB for `$`) refuse keys with a dot or a leading `$`, and FerretDB refuses arrays nested
# directly in arrays. Rather than refuse such client JSON, keys are percent-encoded and inner arrays wrapped,
# so any JSON a client sends is stored and returned exactly. A leading `_` is encoded too, which keeps every
# underscore-prefixed top-level key free for the service's own bookkeeping (`_id`, `_rev`, `_events`, ...).
NESTED_ARRAY_KEY = "%5B%5D"


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


_STRUCTURAL = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_LONG_DIGITS = re.compile(rb"\d{19}")


def check_integers(raw: bytes) -> None:
    """Raise BadRequest when the JSON text holds an integer outside the signed 64-bit range.

    orjson reads such an integer as a float and Python's json (connexion's parser) as an int, which then breaks
    every orjson.dumps of the body (idempotency fingerprints, patch change detection) before storage refuses it.
    Only a body with a run of 19 digits can hold one, so other bodies are not parsed again.
    """
    if _LONG_DIGITS.search(raw) is not None:
        json.loads(raw, parse_int=_int64)


def _int64(text: str) -> int:
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise BadRequest(f"The integer {text} is outside the 64-bit range this service stores; send it as a string")
    return value


def check_depth(raw: bytes, max_depth: int) -> None:
    """Raise BadRequest when the JSON text nests deeper than max_depth, before anything parses it."""
    depth = 0
    for match in _STRUCTURAL.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise BadRequest(f"JSON body nests deeper than the limit of {max_depth} levels")
        elif token in (b"]", b"}"):
            depth -= 1


# FerretDB's SQLite backend writes top-level keys into its JSON unescaped: a key with `"` fails the insert, and one
# with `\` or a control character is stored but makes every later read of the collection fail. Those characters
# are percent-encoded too, at every depth so that one rule covers all keys.
_KEY_ESCAPES = re.compile(r'[%."\\\x00-\x1f]')


# An update (`$set`, `$unset`) cannot name a key that is empty or starts or ends with whitespace (FerretDB compares
# each path element with Go's strings.TrimSpace), although an insert stores one. A lone `%` stands for the empty key
# (every `%` of a client key is stored as `%25`, so no other key is stored as `%`); whitespace at either end of a key
# is percent-encoded, as `%uXXXX` beyond Latin-1.
_EMPTY_KEY = "%"
_EDGE_WHITESPACE = re.compile(r"^\s+|\s+$")


def _escape_character(character: str) -> str:
    code = ord(character)
    return f"%{code:02X}" if code < 0x100 else f"%u{code:04X}"


def _escape(match: re.Match[str]) -> str:
    return "".join(_escape_character(character) for character in match.group())


def _encode_key(key: str) -> str:
    if not key:
        return _EMPTY_KEY
    key = _EDGE_WHITESPACE.sub(_escape, _KEY_ESCAPES.sub(_escape, key))
    if key.startswith("$"):
        key = "%24" + key[1:]
    elif key.startswith("_"):
        key = "%5F" + key[1:]
    return key


# Every `%` of a client key is stored as `%25`, so each `%XX` or `%uXXXX` in a stored key is one this encoding wrote.
_ESCAPED = re.compile(r"%(?:u([0-9A-F]{4})|([0-9A-F]{2}))")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _decode_key(key: str) -> str:
    if key == _EMPTY_KEY:
        return ""
    if "%" in key:
        key = _ESCAPED.sub(lambda match: chr(int(match.group(1) or match.group(2), 16)), key)
    return key


def to_storage(value: Any) -> Any:
    """Client JSON as stored: safe keys, no array directly inside an array, canonical UTC date-times."""
    if isinstance(value, dict):
        return {_encode_key(k): to_storage(v) for k, v in value.items()}
    if isinstance(value, list):
        return [{NESTED_ARRAY_KEY: to_storage(item)} if isinstance(item, list) else to_storage(item) for item in value]
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-":
        return canonical_date_time(value) or value
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        raise BadRequest(f"The integer {value} is outside the 64-bit range this service stores; send it as a string")
    return value


def from_storage(value: Any) -> Any:
    """The inverse of to_storage (date-times stay canonical)."""
    if isinstance(value, dict):
        if len(value) == 1 and NESTED_ARRAY_KEY in value:
            return from_storage(value[NESTED_ARRAY_KEY])
        return {_decode_key(k): from_storage(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_storage(item) for item in value]
    return value
