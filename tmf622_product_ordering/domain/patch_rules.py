"""Which productOrder attributes a client may set on create and change by PATCH, by order state."""

from __future__ import annotations

from collections.abc import Iterable

from tmf622_product_ordering.domain.states import ProductOrderState
from tmf_common.lifecycle import AttributeNotPatchable, PatchPolicy

__all__ = [
    "ITEM_READ_ONLY_ON_CREATE",
    "PRODUCT_ORDER_PATCH_POLICY",
    "READ_ONLY_ON_CREATE",
    "AttributeNotPatchable",
    "check_patchable",
]

_O = ProductOrderState

# Server-owned on create: a POST body does not get to set them (the service layer refuses or overwrites them).
# cancellationDate is here although ProductOrder_Create lists it: a new order cannot have been cancelled.
READ_ONLY_ON_CREATE: frozenset[str] = frozenset(
    {"id", "href", "state", "orderDate", "completionDate", "expectedCompletionDate", "cancellationDate"}
)
ITEM_READ_ONLY_ON_CREATE: frozenset[str] = frozenset({"state"})

# Never patchable by a client. ProductOrder_Update lists completionDate, expectedCompletionDate and the
# cancellation fields, but here the provider sets them: expectedCompletionDate is "amended by the provider"
# (the orchestration plan), and cancellation goes through POST /cancelProductOrder, which sets both
# cancellationDate and cancellationReason. @type and friends fix the resource's schema once, on create.
_READ_ONLY_ON_PATCH = frozenset(
    {
        "id",
        "href",
        "orderDate",
        "completionDate",
        "expectedCompletionDate",
        "cancellationDate",
        "cancellationReason",
        "@type",
        "@baseType",
        "@schemaLocation",
    }
)

# A final order is history, and an order under cancellation must not change under the cancellation flow's
# feet; a note (a customer remark, a care agent's comment) is still welcome in both.
_NOTE_ONLY = frozenset({"note"})

PRODUCT_ORDER_PATCH_POLICY: PatchPolicy[ProductOrderState] = PatchPolicy(
    resource="productOrder",
    read_only=_READ_ONLY_ON_PATCH,
    restricted={
        state: _NOTE_ONLY
        for state in (
            _O.COMPLETED,
            _O.FAILED,
            _O.PARTIAL,
            _O.CANCELLED,
            _O.REJECTED,
            _O.ASSESSING_CANCELLATION,
            _O.PENDING_CANCELLATION,
        )
    },
)


def check_patchable(state: ProductOrderState, changed_attributes: Iterable[str]) -> None:
    """Raise `AttributeNotPatchable` unless a client may change every attribute in an order in `state`.

    `state` stays patchable in the open states; whether the requested move is allowed is the lifecycle's call.
    Pass only the attributes whose value actually changes.
    """
    PRODUCT_ORDER_PATCH_POLICY.check(state, changed_attributes)
