"""The create/list/retrieve/patch/delete behaviour every TMF resource shares, with hooks for its own rules."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from tmf_common.clock import utc_now
from tmf_common.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from tmf_common.events import RecordedEvent, new_event
from tmf_common.http import RequestContext
from tmf_common.patch import apply_patch, patch_kind, top_level_changes
from tmf_common.query import ListQuery, build_list_query, parse_fields
from tmf_common.repository import ResourceRepository, StoredResource
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings

# A write that lost a race re-reads and retries until this deadline, backing off with jitter so that writers
# contending for one resource spread out instead of colliding again at once.
WRITE_RETRY_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 0.002
MAX_BACKOFF_SECONDS = 0.1


def _write_attempts() -> Iterator[int]:
    deadline = time.monotonic() + WRITE_RETRY_SECONDS
    attempt = 0
    while True:
        yield attempt
        if time.monotonic() > deadline:
            return
        attempt += 1
        backoff = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** min(attempt, 10))
        time.sleep(backoff * random.uniform(0.5, 1.5))


Change = Callable[[StoredResource, str], "dict[str, Any] | None"]
"""(current resource, now) -> the new body, or None to leave it as it is."""
InternalChange = Callable[[StoredResource, "dict[str, Any]"], "dict[str, Any] | None"]
"""(current resource, new body) -> bookkeeping fields (`_`-prefixed) to set in the same write."""
ExtraEvents = Callable[["dict[str, Any]", "dict[str, Any]", str], "list[RecordedEvent]"]
"""(body before, body after, now) -> events beyond the change's own (e.g. InformationRequired), in the same write."""


@dataclass(frozen=True)
class ResourceType:
    """What distinguishes one TMF resource from another for the shared behaviour."""

    key: str
    type_name: str
    base_path: str
    read_only: frozenset[str] = frozenset({"id", "href"})
    state_attribute: str | None = None
    event_types: frozenset[str] = field(
        default_factory=lambda: frozenset({"Create", "AttributeValueChange", "StateChange", "Delete"})
    )

    def href(self, base_url: str, resource_id: str) -> str:
        return f"{base_url}{self.base_path}/{self.key}/{resource_id}"


class ResourcePolicy(Protocol):
    """A resource's own rules, applied by the shared service around each write."""

    def prepare_create(self, body: dict[str, Any], now: str) -> dict[str, Any]: ...

    def prepare_update(self, before: dict[str, Any], after: dict[str, Any], now: str) -> dict[str, Any]: ...

    def check_delete(self, current: dict[str, Any]) -> None: ...

    def state_path(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        """The states a change passes through, ending with after's, one StateChange each; [] for a direct move."""
        ...


class PlainPolicy:
    """No rules beyond the shared ones."""

    def prepare_create(self, body: dict[str, Any], now: str) -> dict[str, Any]:
        return body

    def prepare_update(self, before: dict[str, Any], after: dict[str, Any], now: str) -> dict[str, Any]:
        return after

    def check_delete(self, current: dict[str, Any]) -> None:
        return None

    def state_path(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        return []


def list_query(
    settings: Settings,
    context: RequestContext,
    fields: str | None,
    sort: str | None,
    offset: int | None,
    limit: int | None,
) -> ListQuery:
    """A list request's query, with the paging limits the settings give."""
    return build_list_query(
        context.raw_query,
        fields=fields,
        sort=sort,
        offset=offset,
        limit=limit,
        default_limit=settings.default_page_limit,
        max_limit=settings.max_page_limit,
    )


def refuse_read_only(body: dict[str, Any], read_only: Iterable[str], what: str) -> None:
    for attribute in sorted(read_only):
        if attribute in body:
            raise BadRequest(
                f"'{attribute}' is set by the server and cannot be given on {what}",
                code="READ_ONLY_ATTRIBUTE",
            )


def if_match_accepts(if_match: str | None, revision: int) -> bool:
    if if_match is None:
        return True
    # If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or f'"{revision}"' in tags


def events_for_change(
    resource_type: ResourceType,
    before: dict[str, Any],
    after: dict[str, Any],
    now: str,
    state_path: list[str] | None = None,
) -> list[RecordedEvent]:
    """The events of one write; state_path lists each state passed through when a change makes several moves."""
    changed = top_level_changes(before, after)
    events: list[RecordedEvent] = []
    state = resource_type.state_attribute
    if state is not None and state in changed and "StateChange" in resource_type.event_types:
        for step in state_path or [str(after.get(state))]:
            snapshot = after if step == after.get(state) else {**after, state: step}
            events.append(
                new_event(f"{resource_type.type_name}StateChangeEvent", resource_type.key, snapshot, now, state)
            )
    others = [name for name in changed if name != state and name != "lastUpdate"]
    if others and "AttributeValueChange" in resource_type.event_types:
        events.append(
            new_event(
                f"{resource_type.type_name}AttributeValueChangeEvent",
                resource_type.key,
                after,
                now,
                ",".join(others),
            )
        )
    return events


class ResourceService:
    """Shared behaviour of one resource type over its repository."""

    def __init__(
        self,
        resource_type: ResourceType,
        repository: ResourceRepository,
        validators: SchemaValidators,
        settings: Settings,
        policy: ResourcePolicy | None = None,
    ) -> None:
        self.type = resource_type
        self.repository = repository
        self.validators = validators
        self.settings = settings
        self.policy: ResourcePolicy = policy or PlainPolicy()

    def create(
        self,
        body: dict[str, Any],
        context: RequestContext,
        resource_id: str | None = None,
        internal: dict[str, Any] | None = None,
    ) -> StoredResource:
        """Store a new resource; resource_id is given only when it must be deterministic (idempotent create)."""
        refuse_read_only(body, self.type.read_only, "create")
        now = utc_now()
        resource_id = resource_id or str(uuid.uuid4())
        prepared = self.policy.prepare_create(dict(body), now)
        prepared.setdefault("@type", self.type.type_name)
        resource = {"id": resource_id, "href": self.type.href(context.base_url, resource_id), **prepared}
        event = new_event(f"{self.type.type_name}CreateEvent", self.type.key, resource, now)
        return self.repository.insert(resource, [event], now, internal)

    def retrieve(self, resource_id: str, fields: str | None = None) -> StoredResource:
        found = self.repository.get(resource_id, parse_fields(fields))
        if found is None:
            raise NotFound(f"No {self.type.key} with id '{resource_id}'")
        return found

    def list(
        self, context: RequestContext, fields: str | None, sort: str | None, offset: int | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        return self.repository.list(list_query(self.settings, context, fields, sort, offset, limit))

    def update(
        self,
        resource_id: str,
        change: Change,
        if_match: str | None = None,
        internal: InternalChange | None = None,
        extra_events: ExtraEvents | None = None,
    ) -> StoredResource:
        """Apply change to the current body and write it if nobody wrote meanwhile; a lost race re-reads and retries.

        change returns the new body (None: nothing to write). With if_match, a lost race is 412 instead of a retry.
        """
        for _ in _write_attempts():
            before = self.repository.get_with_internal(resource_id)
            if before is None:
                raise NotFound(f"No {self.type.key} with id '{resource_id}'")
            if not if_match_accepts(if_match, before.revision):
                raise PreconditionFailed(
                    f"{self.type.key} '{resource_id}' is at ETag \"{before.revision}\", not {if_match}"
                )
            now = utc_now()
            after = change(before, now)
            if after is None or after == before.body:
                return before
            events = events_for_change(self.type, before.body, after, now, self.policy.state_path(before.body, after))
            if extra_events is not None:
                events.extend(extra_events(before.body, after, now))
            extra = internal(before, after) if internal is not None else None
            updated = self.repository.replace_if_revision(before, after, events, extra)
            if updated is not None:
                return updated
            if if_match is not None:
                raise PreconditionFailed(f"{self.type.key} '{resource_id}' changed while this update was applied")
        raise Conflict(f"{self.type.key} '{resource_id}' is being changed concurrently; retry the request")

    def patch(self, resource_id: str, patch: Any, context: RequestContext) -> StoredResource:
        kind = patch_kind(context.content_type)

        def apply(before: StoredResource, now: str) -> dict[str, Any]:
            after = apply_patch(before.body, patch, kind)
            for attribute in sorted(self.type.read_only):
                if after.get(attribute) != before.body.get(attribute):
                    raise BadRequest(f"'{attribute}' is read-only and cannot be patched", code="READ_ONLY_ATTRIBUTE")
            after = self.policy.prepare_update(before.body, after, now)
            self.validators.check(self.type.type_name, after, self.type.key)
            return after

        return self.update(resource_id, apply, context.if_match)

    def delete(self, resource_id: str, context: RequestContext) -> None:
        for _ in _write_attempts():
            current = self.retrieve(resource_id)
            if not if_match_accepts(context.if_match, current.revision):
                raise PreconditionFailed(
                    f"{self.type.key} '{resource_id}' is at ETag \"{current.revision}\", not {context.if_match}"
                )
            self.policy.check_delete(current.body)
            now = utc_now()
            event = new_event(f"{self.type.type_name}DeleteEvent", self.type.key, current.body, now)
            if self.repository.tombstone_if_revision(resource_id, current.revision, [event], now):
                return
            if context.if_match is not None:
                raise PreconditionFailed(f"{self.type.key} '{resource_id}' changed while it was being deleted")
        raise Conflict(f"{self.type.key} '{resource_id}' is being changed concurrently; retry the request")
