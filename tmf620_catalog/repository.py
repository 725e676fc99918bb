"""Where the catalog lives in the database and the indexes its queries use."""

from __future__ import annotations

from tmf_common.mongo import IndexSpec

COLLECTIONS = {
    "catalog": "catalog",
    "category": "category",
    "productSpecification": "product_specification",
    "productOffering": "product_offering",
    "productOfferingPrice": "product_offering_price",
}

INDEXES = [
    index
    for collection in COLLECTIONS.values()
    for index in (
        IndexSpec(collection, [("_created", 1), ("_id", 1)]),
        IndexSpec(collection, [("name", 1)]),
        IndexSpec(collection, [("lifecycleStatus", 1)]),
        IndexSpec(collection, [("lastUpdate", 1)]),
    )
] + [
    IndexSpec("product_offering", [("productSpecification.id", 1)]),
    IndexSpec("product_offering", [("bundledProductOffering.id", 1)]),
    IndexSpec("product_offering", [("category.id", 1)]),
    IndexSpec("product_offering", [("isBundle", 1)]),
]
