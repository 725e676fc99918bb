"""Catalog-driven decomposition: (product order, resolved catalog offerings) -> the products and service orders
that fulfil it, as a pure function. No offering has code of its own; everything comes from the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tmf620_catalog.domain import BundleOption, ResolvedOffering
from tmf622_product_ordering.domain.rules import PRODUCT_ORDER_SHAPE

BUNDLES = "bundles"
BUNDLED_IN = "bundledIn"
# Relationship types, lower-cased, that point from a bundled item to its bundle ("bundled" is common in portals).
CHILD_TO_PARENT = frozenset({"bundledin", "bundled"})
SERVICE_ACTIONS = {"add": "add", "modify": "modify", "delete": "delete"}


class DecompositionError(Exception):
    """The order cannot be fulfilled as the catalog stands; the message says which item and why."""


@dataclass(frozen=True)
class DecomposedProduct:
    """One product the order asks for: an order item, or an instance a bundle expands to by default."""

    key: str
    order_item: str
    offering: ResolvedOffering = field(compare=False)
    action: str
    characteristics: tuple[tuple[str, Any], ...] = field(compare=False)
    parent: str | None = None
    place: tuple[dict[str, Any], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ServiceOrderPlan:
    """A service order to create: the group it fulfils, its body and the product order items it realises."""

    group: str
    order_items: tuple[str, ...]
    body: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class Decomposition:
    products: tuple[DecomposedProduct, ...]
    service_orders: tuple[ServiceOrderPlan, ...]


def offering_ids(order: dict[str, Any]) -> list[str]:
    """The offerings the order names, in order of appearance, so the caller can resolve each once."""
    seen: dict[str, None] = {}
    for item in _all_items(order):
        offering_id = (item.get("productOffering") or {}).get("id")
        if offering_id:
            seen.setdefault(str(offering_id))
    return list(seen)


def decompose_order(order: dict[str, Any], offerings: Mapping[str, ResolvedOffering]) -> Decomposition:
    """Expand the order's items through the catalog into products, then group their services into service orders.

    Grouping rule: one service order per product order per root item (an item that is not bundled in another),
    so a bundle and everything in it travel to the OSS together, and a failed part can be re-ordered alone.
    Raises DecompositionError naming the item when the order and the catalog disagree.
    """
    items = _all_items(order)
    by_id = {str(item.get("id")): item for item in items}
    children = _children(items, by_id)
    child_ids = {child for kids in children.values() for child in kids}
    products: list[DecomposedProduct] = []
    for item in items:
        item_id = str(item.get("id"))
        if item_id in child_ids:
            continue
        offering_id = (item.get("productOffering") or {}).get("id")
        if not offering_id:
            raise DecompositionError(f"productOrderItem '{item_id}' names no productOffering")
        offering = offerings.get(str(offering_id))
        if offering is None:
            raise DecompositionError(f"productOrderItem '{item_id}': productOffering '{offering_id}' was not resolved")
        products.extend(_expand_item(item, offering, None, by_id, children))
    return Decomposition(tuple(products), tuple(_service_orders(order, products)))


def _all_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for _, item in PRODUCT_ORDER_SHAPE.walk(order)]


def _children(items: list[dict[str, Any]], by_id: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Bundle structure from nesting and from `bundles`/`bundledIn` relationships, in order of appearance."""
    children: dict[str, list[str]] = {}

    def link(parent: str, child: str) -> None:
        if parent in by_id and child in by_id and child not in children.setdefault(parent, []):
            children[parent].append(child)

    for item in items:
        item_id = str(item.get("id"))
        for nested in item.get("productOrderItem") or []:
            link(item_id, str(nested.get("id")))
        for relationship in item.get("productOrderItemRelationship") or []:
            kind = str(relationship.get("relationshipType", "")).lower()
            if kind == BUNDLES.lower():
                link(item_id, str(relationship.get("id")))
            elif kind in CHILD_TO_PARENT:
                link(str(relationship.get("id")), item_id)
    return children


def _expand_item(
    item: dict[str, Any],
    offering: ResolvedOffering,
    parent: str | None,
    by_id: dict[str, dict[str, Any]],
    children: dict[str, list[str]],
    instance: int = 0,
) -> list[DecomposedProduct]:
    item_id = str(item.get("id"))
    action = str(item.get("action", "add"))
    product = item.get("product") or {}
    given = {str(c.get("name")): c for c in product.get("productCharacteristic") or [] if "name" in c}
    this = DecomposedProduct(
        key=item_id,
        order_item=item_id,
        offering=offering,
        action=action,
        characteristics=_characteristics(offering, given, instance),
        parent=parent,
        place=tuple(product.get("place") or ()),
    )
    expanded = [this]
    explicit = children.get(item_id, [])
    if not offering.is_bundle:
        if explicit:
            raise DecompositionError(
                f"productOrderItem '{item_id}' bundles items {explicit}, but productOffering "
                f"'{offering.id}' is not a bundle"
            )
        return expanded
    if explicit:
        expanded.extend(_expand_explicit(item_id, action, offering, explicit, by_id, children))
    elif action == "add":
        expanded.extend(_expand_defaults(item_id, item_id, offering, action))
    # A modify or delete of a bundle without its items changes the bundle alone: which of its parts the
    # customer owns comes from product inventory, not from the catalog's defaults.
    return expanded


def _expand_explicit(
    item_id: str,
    action: str,
    offering: ResolvedOffering,
    explicit: list[str],
    by_id: dict[str, dict[str, Any]],
    children: dict[str, list[str]],
) -> list[DecomposedProduct]:
    options = {child.id: (option, child) for option, child in offering.bundled}
    counts: dict[str, int] = {child_id: 0 for child_id in options}
    expanded: list[DecomposedProduct] = []
    for child_item_id in explicit:
        child_item = by_id[child_item_id]
        child_offering_id = str((child_item.get("productOffering") or {}).get("id"))
        if child_offering_id not in options:
            raise DecompositionError(
                f"productOrderItem '{child_item_id}': productOffering '{child_offering_id}' is not part of bundle "
                f"'{offering.id}' (it bundles {sorted(options)})"
            )
        # Its place among the bundle's items of the same offering picks defaults as default expansion does.
        instance = counts[child_offering_id]
        counts[child_offering_id] += 1
        child_offering = options[child_offering_id][1]
        expanded.extend(_expand_item(child_item, child_offering, item_id, by_id, children, instance))
    if action == "add":
        for child_id, count in counts.items():
            _check_limits(item_id, offering.id, child_id, options[child_id][0], count)
    return expanded


def _check_limits(item_id: str, bundle_id: str, child_id: str, option: BundleOption, count: int) -> None:
    upper = "no upper limit" if option.upper is None else f"at most {option.upper}"
    if count < option.lower or (option.upper is not None and count > option.upper):
        raise DecompositionError(
            f"productOrderItem '{item_id}': bundle '{bundle_id}' takes at least {option.lower} and {upper} of "
            f"productOffering '{child_id}'; the order gives {count}"
        )


def _expand_defaults(
    order_item: str, parent_key: str, offering: ResolvedOffering, action: str
) -> list[DecomposedProduct]:
    expanded: list[DecomposedProduct] = []
    for option_index, (option, child) in enumerate(offering.bundled):
        for instance in range(option.default):
            key = f"{parent_key}/{option_index + 1}.{instance + 1}"
            expanded.append(
                DecomposedProduct(
                    key=key,
                    order_item=order_item,
                    offering=child,
                    action=action,
                    characteristics=_characteristics(child, {}, instance),
                    parent=parent_key,
                )
            )
            if child.is_bundle:
                expanded.extend(_expand_defaults(order_item, key, child, action))
    return expanded


def _characteristics(
    offering: ResolvedOffering, given: dict[str, dict[str, Any]], instance: int
) -> tuple[tuple[str, Any], ...]:
    """The specification's characteristics with a value: the order's value, else the catalog default.

    Catalog convention for bundles expanded by default: the first instance of a bundled offering takes each
    characteristic's default value and further instances the first non-default value (a family plan's first
    SIM is the primary line, the others secondary).
    """
    values: list[tuple[str, Any]] = []
    for spec in offering.characteristics:
        name = str(spec.get("name"))
        if name in given:
            # The order's own valueType describes the value it gives (an object for a quantity with units).
            value_type = given[name].get("valueType") or spec.get("valueType")
            values.append((name, {"valueType": value_type, "value": given[name].get("value")}))
            continue
        chosen = _default_value(spec, instance)
        if chosen is not None:
            values.append((name, chosen))
    declared = {name for name, _ in values} | {str(spec.get("name")) for spec in offering.characteristics}
    values.extend(
        (name, {key: c[key] for key in ("valueType", "value") if key in c})
        for name, c in given.items()
        if name not in declared
    )
    return tuple(values)


def _default_value(spec: dict[str, Any], instance: int) -> dict[str, Any] | None:
    candidates = [v for v in spec.get("productSpecCharacteristicValue") or [] if "value" in v]
    defaults = [v for v in candidates if v.get("isDefault")]
    others = [v for v in candidates if not v.get("isDefault")]
    if not defaults:
        return None
    chosen = others[0] if instance > 0 and others and spec.get("configurable") else defaults[0]
    value = chosen["value"]
    if chosen.get("unitOfMeasure"):
        # The same shape an order gives for a quantity with a unit.
        return {"valueType": "object", "value": {"amount": value, "units": chosen["unitOfMeasure"]}}
    return {"valueType": chosen.get("valueType") or spec.get("valueType"), "value": value}


def _service_orders(order: dict[str, Any], products: list[DecomposedProduct]) -> list[ServiceOrderPlan]:
    roots: dict[str, str] = {}
    for product in products:
        roots[product.key] = roots[product.parent] if product.parent is not None else product.order_item
    groups: dict[str, list[DecomposedProduct]] = {}
    for product in products:
        groups.setdefault(roots[product.key], []).append(product)
    plans: list[ServiceOrderPlan] = []
    for root, members in groups.items():
        service_items = _service_items(order, members)
        if not service_items:
            continue
        order_items = tuple(dict.fromkeys(product.order_item for product in members))
        plans.append(ServiceOrderPlan(root, order_items, _service_order_body(order, root, service_items)))
    return plans


def _service_items(order: dict[str, Any], products: list[DecomposedProduct]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    first_item_of: dict[str, str] = {}
    for product in products:
        action = SERVICE_ACTIONS.get(product.action)
        if action is None:
            continue  # noChange: nothing to provision
        for reference in product.offering.service_specifications:
            item_id = str(len(items) + 1)
            first_item_of.setdefault(product.key, item_id)
            service: dict[str, Any] = {
                "@type": "Service",
                "name": reference.get("name"),
                "serviceSpecification": {
                    key: reference[key] for key in ("id", "href", "name", "version") if key in reference
                }
                | {"@referredType": "ServiceSpecification"},
                "relatedEntity": [
                    {
                        "id": str(order.get("id")),
                        "href": order.get("href"),
                        "role": "productOrder",
                        "@referredType": "ProductOrder",
                    },
                    {"id": product.order_item, "role": "productOrderItem", "@referredType": "ProductOrderItem"},
                ],
            }
            characteristics = [{"name": name, **value} for name, value in product.characteristics]
            if characteristics:
                service["serviceCharacteristic"] = characteristics
            if product.place:
                service["place"] = [dict(place) for place in product.place]
            item: dict[str, Any] = {"id": item_id, "action": action, "quantity": 1, "service": service}
            parent_item = first_item_of.get(product.parent or "")
            if parent_item is not None:
                item["serviceOrderItemRelationship"] = [
                    {"relationshipType": "reliesOn", "orderItem": {"id": parent_item, "itemId": parent_item}}
                ]
            items.append(item)
    return items


def _service_order_body(order: dict[str, Any], root: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    order_id = str(order.get("id"))
    body: dict[str, Any] = {
        "externalId": f"{order_id}/{root}",
        "description": f"Fulfilment of productOrder {order_id}, item {root}",
        "priority": str(order.get("priority", "4")),
        "externalReference": [
            {
                "id": order_id,
                "href": order.get("href"),
                "externalReferenceType": "ProductOrder",
                "name": f"productOrder {order_id} item {root}",
            }
        ],
        "serviceOrderItem": items,
    }
    for attribute in ("category", "requestedStartDate", "requestedCompletionDate"):
        if order.get(attribute) is not None:
            body[attribute] = order[attribute]
    parties = [
        {"role": "customer", **party, "@type": party.get("@type", "RelatedParty")}
        for party in order.get("relatedParty") or []
        if party.get("id")
    ]
    if parties:
        body["relatedParty"] = [{"@referredType": "Individual", **party} for party in parties]
    return {key: value for key, value in body.items() if value is not None}
