"""TMF events as recorded in the outbox and as the envelope a listener receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tmf_common.jsoncodec import from_storage, to_storage


@dataclass(frozen=True)
class RecordedEvent:
    """One event caused by one write; stored on the resource in the same update (outbox)."""

    event_id: str
    event_type: str
    event_time: str
    resource_key: str
    resource: dict[str, Any]
    field_path: str | None = None

    def to_storage(self) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "eventTime": self.event_time,
            "resourceKey": self.resource_key,
            "resource": to_storage(self.resource),
        }
        if self.field_path is not None:
            stored["fieldPath"] = self.field_path
        return stored

    @classmethod
    def from_storage(cls, stored: dict[str, Any]) -> RecordedEvent:
        return cls(
            event_id=stored["eventId"],
            event_type=stored["eventType"],
            event_time=stored["eventTime"],
            resource_key=stored["resourceKey"],
            resource=from_storage(stored["resource"]),
            field_path=stored.get("fieldPath"),
        )

    def to_envelope(self) -> dict[str, Any]:
        """The TMF v4 event body (`timeOcurred` spelled as the v4 specification spells it)."""
        envelope: dict[str, Any] = {
            "eventId": self.event_id,
            "eventTime": self.event_time,
            "eventType": self.event_type,
            "timeOcurred": self.event_time,
            "correlationId": self.event_id,
            "domain": self.resource_key,
            "event": {self.resource_key: self.resource},
        }
        if self.field_path is not None:
            envelope["fieldPath"] = self.field_path
        return envelope


def new_event(
    event_type: str, resource_key: str, resource: dict[str, Any], at: str, field_path: str | None = None
) -> RecordedEvent:
    return RecordedEvent(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        event_time=at,
        resource_key=resource_key,
        resource=resource,
        field_path=field_path,
    )
