"""Where product orders live in the database and the indexes the portal's and care teams' filters use."""

from __future__ import annotations

from tmf_common.mongo import IndexSpec

PRODUCT_ORDERS = "product_order"
CANCEL_PRODUCT_ORDERS = "cancel_product_order"

INDEXES = [
    IndexSpec(PRODUCT_ORDERS, [("_created", 1), ("_id", 1)]),
    IndexSpec(PRODUCT_ORDERS, [("state", 1), ("orderDate", 1)]),
    IndexSpec(PRODUCT_ORDERS, [("orderDate", 1)]),
    IndexSpec(PRODUCT_ORDERS, [("completionDate", 1)]),
    IndexSpec(PRODUCT_ORDERS, [("relatedParty.id", 1)]),
    IndexSpec(PRODUCT_ORDERS, [("externalId", 1)]),
    IndexSpec(PRODUCT_ORDERS, [("productOrderItem.productOffering.id", 1)]),
    IndexSpec(CANCEL_PRODUCT_ORDERS, [("_created", 1), ("_id", 1)]),
    IndexSpec(CANCEL_PRODUCT_ORDERS, [("productOrder.id", 1)]),
    IndexSpec(CANCEL_PRODUCT_ORDERS, [("state", 1)]),
]
