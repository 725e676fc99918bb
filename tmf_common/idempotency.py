"""Idempotent creation: a client's Idempotency-Key fixes the new resource's id, so a repeated POST finds it."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from tmf_common.errors import Conflict
from tmf_common.http import RequestContext
from tmf_common.repository import StoredResource
from tmf_common.resource_service import ResourceService

IDEMPOTENCY = "_idempotency"
_NAMESPACE = uuid.UUID("6f1c0c52-3f0b-4bd4-9a43-2f0d7c1e9b51")


@dataclass(frozen=True)
class CreateResult:
    resource: StoredResource
    replayed: bool


def request_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def create_idempotent(service: ResourceService, body: dict[str, Any], context: RequestContext) -> CreateResult:
    """Without a key, a plain create. With one, the id derives from the key: the unique `_id` index makes a
    concurrent or repeated POST collide, and the stored fingerprint tells a replay from a different request."""
    key = context.idempotency_key
    if not key:
        return CreateResult(service.create(body, context), replayed=False)
    resource_id = str(uuid.uuid5(_NAMESPACE, f"{service.type.key}:{key}"))
    fingerprint = request_fingerprint(body)
    try:
        created = service.create(body, context, resource_id, {IDEMPOTENCY: {"key": key, "fingerprint": fingerprint}})
        return CreateResult(created, replayed=False)
    except Conflict:
        existing = service.repository.get_with_internal(resource_id)
        if existing is None:
            raise Conflict(
                f"Idempotency-Key '{key}' was used by a {service.type.key} that has been deleted",
                code="IDEMPOTENCY_KEY_REUSED",
            ) from None
        if (existing.internal.get(IDEMPOTENCY) or {}).get("fingerprint") != fingerprint:
            raise Conflict(
                f"Idempotency-Key '{key}' was already used with a different request body", code="IDEMPOTENCY_KEY_REUSED"
            ) from None
        return CreateResult(existing, replayed=True)
