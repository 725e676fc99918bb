"""TMF620 catalog rules: resource types, lifecycle defaults and the offering resolver (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tmf_common.errors import BadRequest, Conflict
from tmf_common.resource_service import PlainPolicy, ResourceType

BASE_PATH = "/tmf-api/productCatalogManagement/v4"
DEFAULT_LIFECYCLE_STATUS = "In Design"
# Offerings in these lifecycle states cannot be ordered any more (case-insensitive comparison).
UNORDERABLE_LIFECYCLE_STATUSES = frozenset({"retired", "obsolete", "rejected"})

_READ_ONLY = frozenset({"id", "href", "lastUpdate"})

CATALOG = ResourceType("catalog", "Catalog", BASE_PATH, _READ_ONLY, "lifecycleStatus")
CATEGORY = ResourceType("category", "Category", BASE_PATH, _READ_ONLY, "lifecycleStatus")
PRODUCT_SPECIFICATION = ResourceType(
    "productSpecification", "ProductSpecification", BASE_PATH, _READ_ONLY, "lifecycleStatus"
)
PRODUCT_OFFERING = ResourceType("productOffering", "ProductOffering", BASE_PATH, _READ_ONLY, "lifecycleStatus")
PRODUCT_OFFERING_PRICE = ResourceType(
    "productOfferingPrice", "ProductOfferingPrice", BASE_PATH, _READ_ONLY, "lifecycleStatus"
)
# Where live entities refer to each kind of entity: (referring resource key, attribute path of the reference id).
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "productSpecification": (
        ("productOffering", "productSpecification.id"),
        ("productSpecification", "bundledProductSpecification.id"),
    ),
    "productOffering": (("productOffering", "bundledProductOffering.id"), ("category", "productOffering.id")),
    "productOfferingPrice": (
        ("productOffering", "productOfferingPrice.id"),
        ("productOfferingPrice", "bundledPopRelationship.id"),
    ),
    "category": (("catalog", "category.id"), ("productOffering", "category.id"), ("category", "parentId")),
    "catalog": (),
}

RESOURCE_TYPES = (CATALOG, CATEGORY, PRODUCT_SPECIFICATION, PRODUCT_OFFERING, PRODUCT_OFFERING_PRICE)


ReferrerFinder = Callable[[str], str | None]
"""entity id -> a description of a live catalog entity that refers to it, or None."""


class CatalogPolicy(PlainPolicy):
    """Every catalog entity has a lifecycleStatus (defaulted) and a lastUpdate (set on every change).

    An entity that another live entity still refers to cannot be deleted: decomposition would later fail on the
    dangling reference, so the conflict is reported now, to the person deleting it.
    """

    def __init__(self, find_referrer: ReferrerFinder | None = None) -> None:
        self.find_referrer = find_referrer

    def prepare_create(self, body: dict[str, Any], now: str) -> dict[str, Any]:
        body.setdefault("lifecycleStatus", DEFAULT_LIFECYCLE_STATUS)
        body["lastUpdate"] = now
        return body

    def prepare_update(self, before: dict[str, Any], after: dict[str, Any], now: str) -> dict[str, Any]:
        if "name" in before and "name" not in after:
            raise BadRequest("'name' is mandatory and cannot be removed")
        after.setdefault("lifecycleStatus", before.get("lifecycleStatus", DEFAULT_LIFECYCLE_STATUS))
        # A patch that changes nothing keeps lastUpdate, so the service sees no change and the ETag stays.
        unchanged = "lastUpdate" in before and {**after, "lastUpdate": before["lastUpdate"]} == before
        after["lastUpdate"] = before["lastUpdate"] if unchanged else now
        return after

    def check_delete(self, current: dict[str, Any]) -> None:
        if self.find_referrer is None:
            return
        referrer = self.find_referrer(str(current["id"]))
        if referrer is not None:
            raise Conflict(f"'{current['id']}' cannot be deleted: {referrer} refers to it")


class CatalogResolutionError(Exception):
    """An offering cannot be resolved into an orderable tree; the message names what is wrong and where."""


@dataclass(frozen=True)
class BundleOption:
    """How many of a bundled offering a bundle holds (TMF bundledProductOfferingOption)."""

    default: int
    lower: int
    upper: int | None


@dataclass(frozen=True)
class ResolvedOffering:
    """An offering with its specification and bundle tree expanded from the catalog."""

    offering: dict[str, Any]
    specification: dict[str, Any] | None
    prices: tuple[dict[str, Any], ...]
    bundled: tuple[tuple[BundleOption, ResolvedOffering], ...] = field(default=())

    @property
    def id(self) -> str:
        return str(self.offering["id"])

    @property
    def is_bundle(self) -> bool:
        return bool(self.offering.get("isBundle"))

    @property
    def service_specifications(self) -> list[dict[str, Any]]:
        return list((self.specification or {}).get("serviceSpecification", []))

    @property
    def resource_specifications(self) -> list[dict[str, Any]]:
        return list((self.specification or {}).get("resourceSpecification", []))

    @property
    def characteristics(self) -> list[dict[str, Any]]:
        return list((self.specification or {}).get("productSpecCharacteristic", []))


Lookup = Callable[[str, str], dict[str, Any] | None]
"""(resource key, id) -> the catalog entity, or None when the catalog does not hold it."""


def is_valid_at(entity: dict[str, Any], at: str) -> bool:
    """validFor bounds are inclusive; a missing bound is open (timestamps are canonical UTC strings)."""
    period = entity.get("validFor") or {}
    start, end = period.get("startDateTime"), period.get("endDateTime")
    return (start is None or start <= at) and (end is None or at <= end)


def bundle_option(bundled: dict[str, Any]) -> BundleOption:
    option = bundled.get("bundledProductOfferingOption") or {}
    lower = int(option.get("numberRelOfferLowerLimit", 1))
    upper_raw = option.get("numberRelOfferUpperLimit")
    upper = int(upper_raw) if upper_raw is not None else None
    default = int(option.get("numberRelOfferDefault", max(lower, 1)))
    return BundleOption(default=default, lower=lower, upper=upper)


def resolve_offering(offering_id: str, at: str, lookup: Lookup) -> ResolvedOffering:
    """Expand an offering's bundle tree and specifications, refusing dangling, expired or retired entries."""
    return _resolve(offering_id, at, lookup, path=(f"productOffering '{offering_id}'",), seen=())


def _resolve(
    offering_id: str, at: str, lookup: Lookup, path: tuple[str, ...], seen: tuple[str, ...]
) -> ResolvedOffering:
    where = " → ".join(path)
    if offering_id in seen:
        raise CatalogResolutionError(f"{where}: the bundle contains itself")
    offering = lookup("productOffering", offering_id)
    if offering is None:
        raise CatalogResolutionError(f"{where}: productOffering '{offering_id}' does not exist in the catalog")
    status = str(offering.get("lifecycleStatus", "")).lower()
    if status in UNORDERABLE_LIFECYCLE_STATUSES:
        raise CatalogResolutionError(f"{where}: productOffering '{offering_id}' is {offering['lifecycleStatus']}")
    if not is_valid_at(offering, at):
        raise CatalogResolutionError(
            f"{where}: productOffering '{offering_id}' is not valid at {at} (validFor {offering.get('validFor')})"
        )
    specification = None
    spec_ref = offering.get("productSpecification")
    if spec_ref:
        specification = lookup("productSpecification", spec_ref["id"])
        if specification is None:
            raise CatalogResolutionError(
                f"{where} → productSpecification: productSpecification '{spec_ref['id']}' does not exist"
            )
        if not is_valid_at(specification, at):
            raise CatalogResolutionError(f"{where} → productSpecification '{spec_ref['id']}' is not valid at {at}")
    prices: list[dict[str, Any]] = []
    for index, price_ref in enumerate(offering.get("productOfferingPrice", [])):
        if "id" not in price_ref:
            continue  # an embedded price value rather than a reference
        price = lookup("productOfferingPrice", price_ref["id"])
        if price is None:
            raise CatalogResolutionError(
                f"{where} → productOfferingPrice[{index}]: productOfferingPrice '{price_ref['id']}' does not exist"
            )
        prices.append(price)
    bundled: list[tuple[BundleOption, ResolvedOffering]] = []
    if offering.get("isBundle"):
        children = offering.get("bundledProductOffering", [])
        if not children:
            raise CatalogResolutionError(f"{where}: isBundle is true but bundledProductOffering is empty")
        for index, child in enumerate(children):
            child_path = (*path, f"bundledProductOffering[{index}] productOffering '{child.get('id')}'")
            child_id = child.get("id")
            if not child_id:
                raise CatalogResolutionError(f"{where} → bundledProductOffering[{index}] has no id")
            resolved = _resolve(child_id, at, lookup, child_path, (*seen, offering_id))
            bundled.append((bundle_option(child), resolved))
    return ResolvedOffering(
        offering=offering, specification=specification, prices=tuple(prices), bundled=tuple(bundled)
    )
