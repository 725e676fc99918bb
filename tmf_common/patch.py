"""PATCH documents: JSON merge patch (RFC 7396) and JSON patch (RFC 6902), chosen by content type."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any

import jsonpatch
import orjson

from tmf_common.errors import BadRequest, UnsupportedMediaType


class PatchKind(StrEnum):
    MERGE = "merge"
    JSON_PATCH = "json-patch"


_KIND_BY_MEDIA_TYPE = {
    "application/json": PatchKind.MERGE,
    "application/merge-patch+json": PatchKind.MERGE,
    "application/json-patch+json": PatchKind.JSON_PATCH,
}


def patch_kind(content_type: str | None) -> PatchKind:
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    try:
        return _KIND_BY_MEDIA_TYPE[media_type]
    except KeyError:
        raise UnsupportedMediaType(f"PATCH accepts {', '.join(_KIND_BY_MEDIA_TYPE)}; got '{media_type}'") from None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(document: dict[str, Any], patch: Any, kind: PatchKind) -> dict[str, Any]:
    if kind is PatchKind.MERGE:
        if not isinstance(patch, dict):
            raise BadRequest("A merge patch must be a JSON object")
        merged: dict[str, Any] = merge_patch(document, patch)
        return merged
    if not isinstance(patch, list):
        raise BadRequest("A JSON patch must be an array of operations")
    try:
        patched = jsonpatch.JsonPatch(patch).apply(document)
    except jsonpatch.JsonPatchTestFailed as error:
        raise BadRequest(f"JSON patch test failed: {error}", code="PATCH_TEST_FAILED") from error
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
        raise BadRequest(f"JSON patch cannot be applied: {error}") from error
    if not isinstance(patched, dict):
        raise BadRequest("A JSON patch must leave the resource a JSON object")
    return patched


def top_level_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """First-level attributes whose value differs: the fieldPath of attribute-change events."""
    names = set(before) | set(after)
    return sorted(name for name in names if _canonical(before, name) != _canonical(after, name))


def _canonical(document: dict[str, Any], name: str) -> bytes | None:
    # Serialised comparison: Python's == would call 1 and true (or 0 and false) the same value.
    if name not in document:
        return None
    return orjson.dumps(document[name], option=orjson.OPT_SORT_KEYS)
