"""Which serviceOrder attributes may be set on create and changed by PATCH, by order state."""

from __future__ import annotations

from collections.abc import Iterable

from tmf641_service_ordering.domain.states import ServiceOrderState
from tmf_common.lifecycle import AttributeNotPatchable, PatchPolicy

__all__ = [
    "ITEM_READ_ONLY_ON_CREATE",
    "OSS_PROGRESS_ATTRIBUTES",
    "READ_ONLY_ON_CREATE",
    "SERVICE_ORDER_PATCH_POLICY",
    "AttributeNotPatchable",
    "check_patchable",
]

_O = ServiceOrderState

# Server-owned on create: a POST body does not get to set them (the service layer refuses or overwrites them).
# ServiceOrder_Create lists cancellationDate, but a new order cannot have been cancelled.
READ_ONLY_ON_CREATE: frozenset[str] = frozenset(
    {
        "id",
        "href",
        "state",
        "orderDate",
        "startDate",
        "completionDate",
        "expectedCompletionDate",
        "cancellationDate",
        "errorMessage",
        "jeopardyAlert",
        "milestone",
    }
)
ITEM_READ_ONLY_ON_CREATE: frozenset[str] = frozenset({"state", "errorMessage"})

# ServiceOrder properties that 4.1's ServiceOrder_Update leaves out: the server stamps orderDate, startDate
# (entering inProgress) and completionDate (entering a final state), cancellation goes through
# POST /cancelServiceOrder, and category and @type/@baseType/@schemaLocation fix what the order is, on create.
_READ_ONLY_ON_PATCH = frozenset(
    {
        "id",
        "href",
        "orderDate",
        "startDate",
        "completionDate",
        "category",
        "cancellationDate",
        "cancellationReason",
        "@type",
        "@baseType",
        "@schemaLocation",
    }
)

# What the OSS reports as it works the order. errorMessage, jeopardyAlert and milestone are not in
# ServiceOrder_Update, but here the OSS is the PATCHing party and PATCH is its only way to report them, so the
# project accepts them (the OpenAPI PATCH schema must list them too). They stay open while a cancellation is
# assessed or pending, because the OSS is the one that accepts or denies it and winds the items down.
OSS_PROGRESS_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "state",
        "serviceOrderItem",
        "errorMessage",
        "jeopardyAlert",
        "milestone",
        "expectedCompletionDate",
        "note",
    }
)

# A final order is history; a note is still welcome.
_NOTE_ONLY = frozenset({"note"})

SERVICE_ORDER_PATCH_POLICY: PatchPolicy[ServiceOrderState] = PatchPolicy(
    resource="serviceOrder",
    read_only=_READ_ONLY_ON_PATCH,
    restricted={
        _O.COMPLETED: _NOTE_ONLY,
        _O.FAILED: _NOTE_ONLY,
        _O.PARTIAL: _NOTE_ONLY,
        _O.CANCELLED: _NOTE_ONLY,
        _O.REJECTED: _NOTE_ONLY,
        _O.ASSESSING_CANCELLATION: OSS_PROGRESS_ATTRIBUTES,
        _O.PENDING_CANCELLATION: OSS_PROGRESS_ATTRIBUTES,
    },
)


def check_patchable(state: ServiceOrderState, changed_attributes: Iterable[str]) -> None:
    """Raise `AttributeNotPatchable` unless every attribute may change on an order in `state`.

    `state` stays patchable in the open states; whether the requested move is allowed is the lifecycle's call.
    Pass only the attributes whose value actually changes.
    """
    SERVICE_ORDER_PATCH_POLICY.check(state, changed_attributes)
