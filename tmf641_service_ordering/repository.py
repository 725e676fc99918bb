"""Where service orders live in the database and the indexes the OSS's and operators' filters use."""

from __future__ import annotations

from tmf_common.mongo import IndexSpec

SERVICE_ORDERS = "service_order"
CANCEL_SERVICE_ORDERS = "cancel_service_order"

INDEXES = [
    IndexSpec(SERVICE_ORDERS, [("_created", 1), ("_id", 1)]),
    IndexSpec(SERVICE_ORDERS, [("state", 1), ("orderDate", 1)]),
    IndexSpec(SERVICE_ORDERS, [("orderDate", 1)]),
    IndexSpec(SERVICE_ORDERS, [("externalId", 1)]),
    IndexSpec(SERVICE_ORDERS, [("category", 1)]),
    IndexSpec(SERVICE_ORDERS, [("priority", 1)]),
    IndexSpec(SERVICE_ORDERS, [("relatedParty.id", 1)]),
    IndexSpec(SERVICE_ORDERS, [("externalReference.id", 1)]),
    IndexSpec(CANCEL_SERVICE_ORDERS, [("_created", 1), ("_id", 1)]),
    IndexSpec(CANCEL_SERVICE_ORDERS, [("serviceOrder.id", 1)]),
    IndexSpec(CANCEL_SERVICE_ORDERS, [("state", 1)]),
]
