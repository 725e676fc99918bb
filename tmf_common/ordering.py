"""Order structure shared by product and service orders: nested items, their relationships and their states."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tmf_common.errors import BadRequest, Conflict
from tmf_common.lifecycle import ForbiddenTransition, Lifecycle, PatchPolicy, UnknownState
from tmf_common.patch import top_level_changes

RelationshipTarget = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class OrderShape:
    """The attribute names that differ between TMF622 and TMF641 orders."""

    resource_key: str
    item_key: str
    relationship_key: str
    relationship_target: RelationshipTarget

    def walk(self, order: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every item, nested ones included, with a readable path for error messages."""
        pending: list[tuple[str, Any]] = [(self.item_key, order.get(self.item_key) or [])]
        while pending:
            path, items = pending.pop(0)
            for index, item in enumerate(items):
                item_path = f"{path}[{index}]"
                yield item_path, item
                if item.get(self.item_key):
                    pending.append((f"{item_path}.{self.item_key}", item[self.item_key]))

    def items_by_id(self, order: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {str(item.get("id")): item for _, item in self.walk(order)}


def _check_item_types(container: dict[str, Any], shape: OrderShape, path: str) -> None:
    """Items and their relationships are arrays of objects, so walking them cannot fail (a PATCH is not validated
    against the schema before the order rules run)."""
    items = container.get(shape.item_key)
    if items is None:
        return
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BadRequest(f"{path}{shape.item_key} must be an array of objects")
    for index, item in enumerate(items):
        item_path = f"{path}{shape.item_key}[{index}]"
        relationships = item.get(shape.relationship_key)
        if relationships is not None and (
            not isinstance(relationships, list) or not all(isinstance(link, dict) for link in relationships)
        ):
            raise BadRequest(f"{item_path}.{shape.relationship_key} must be an array of objects")
        _check_item_types(item, shape, f"{item_path}.")


def check_item_structure(order: dict[str, Any], shape: OrderShape) -> None:
    """Item ids are unique in the order and every relationship points at an item of the order."""
    if not order.get(shape.item_key):
        raise BadRequest(f"A {shape.resource_key} needs at least one {shape.item_key}")
    _check_item_types(order, shape, "")
    seen: dict[str, str] = {}
    for path, item in shape.walk(order):
        item_id = str(item.get("id"))
        if item_id in seen:
            raise BadRequest(f"{shape.item_key} id '{item_id}' is used twice: {seen[item_id]} and {path}")
        seen[item_id] = path
    for path, item in shape.walk(order):
        for index, relationship in enumerate(item.get(shape.relationship_key) or []):
            target = shape.relationship_target(relationship)
            if target is not None and target not in seen:
                raise BadRequest(
                    f"{path}.{shape.relationship_key}[{index}] refers to {shape.item_key} '{target}', "
                    "which is not in this order"
                )


def set_item_states(order: dict[str, Any], shape: OrderShape, state: str, only_ids: set[str] | None = None) -> None:
    """Set the state of every item (or of the given ids) in place."""
    for _, item in shape.walk(order):
        if only_ids is None or str(item.get("id")) in only_ids:
            item["state"] = state


def item_states(order: dict[str, Any], shape: OrderShape) -> dict[str, str]:
    return {item_id: str(item.get("state")) for item_id, item in shape.items_by_id(order).items()}


def check_item_changes(
    before: dict[str, Any], after: dict[str, Any], shape: OrderShape, lifecycle: Lifecycle[Any]
) -> dict[str, tuple[str, str]]:
    """Items are fixed after creation; each item state change must follow the item lifecycle.

    Returns item id -> (old state, new state) for the items whose state changed.
    """
    old_items, new_items = shape.items_by_id(before), shape.items_by_id(after)
    if set(old_items) != set(new_items):
        added, removed = sorted(set(new_items) - set(old_items)), sorted(set(old_items) - set(new_items))
        raise BadRequest(
            f"{shape.item_key} entries cannot be added or removed after creation (added {added}, removed {removed})",
            code="ITEMS_FIXED",
        )
    changes: dict[str, tuple[str, str]] = {}
    for item_id, new_item in new_items.items():
        old_item = old_items[item_id]
        if new_item.get("action") != old_item.get("action"):
            raise BadRequest(f"{shape.item_key} '{item_id}': action cannot change after creation")
        old_state, new_state = str(old_item.get("state")), new_item.get("state")
        if new_state == old_state:
            continue
        if not isinstance(new_state, str):
            raise BadRequest(f"{shape.item_key} '{item_id}': state is required and must be a string")
        try:
            lifecycle.transition(lifecycle.parse(old_state), lifecycle.parse(new_state))
        except UnknownState as error:
            raise BadRequest(f"{shape.item_key} '{item_id}': {error}", code="UNKNOWN_STATE") from error
        except ForbiddenTransition as error:
            raise lifecycle_conflict(error, f"{shape.item_key} '{item_id}'") from error
        changes[item_id] = (old_state, new_state)
    return changes


def lifecycle_conflict(error: ForbiddenTransition, subject: str) -> Conflict:
    return Conflict(f"{subject}: {error}", code="FORBIDDEN_TRANSITION")


RollUpSteps = Callable[[Sequence[Any], Any], tuple[Any, ...]]
RollUpState = Callable[[Sequence[Any], Any], Any]

CANCELLATION_FLOW_STATES = frozenset({"assessingCancellation", "pendingCancellation"})
OUTCOME_STATES = frozenset({"completed", "failed", "partial"})


@dataclass(frozen=True)
class OrderRules:
    """Everything that makes a product order or a service order behave as its TMF lifecycle says."""

    shape: OrderShape
    type_name: str
    order_lifecycle: Lifecycle[Any]
    item_lifecycle: Lifecycle[Any]
    roll_up_state: RollUpState
    roll_up_steps: RollUpSteps
    patch_policy: PatchPolicy[Any]
    read_only_on_create: frozenset[str]
    item_read_only_on_create: frozenset[str]
    defaults: tuple[tuple[str, Any], ...] = ()
    start_date_attribute: str | None = None
    # Item attributes the fulfilling party reports while the order runs; the rest is fixed once treatment starts.
    item_progress_attributes: frozenset[str] = frozenset({"state"})
    # TMF641 v4.1 requires `@type` on every relatedParty; an untyped party is completed rather than refused.
    related_party_type: str | None = None


class OrderPolicy:
    """Creation defaults, lifecycle-checked PATCHes with item roll-up, and delete only when final."""

    def __init__(self, rules: OrderRules) -> None:
        self.rules = rules

    def prepare_create(self, body: dict[str, Any], now: str) -> dict[str, Any]:
        rules = self.rules
        refused = sorted(rules.read_only_on_create & set(body))
        if refused:
            raise BadRequest(
                f"'{refused[0]}' is set by the server and cannot be given on create", code="READ_ONLY_ATTRIBUTE"
            )
        check_item_structure(body, rules.shape)
        for path, item in rules.shape.walk(body):
            refused = sorted(rules.item_read_only_on_create & set(item))
            if refused:
                raise BadRequest(
                    f"{path}.{refused[0]} is set by the server and cannot be given on create",
                    code="READ_ONLY_ATTRIBUTE",
                )
        for attribute, value in rules.defaults:
            body.setdefault(attribute, value)
        if rules.related_party_type is not None and body.get("relatedParty"):
            body["relatedParty"] = [{"@type": rules.related_party_type, **party} for party in body["relatedParty"]]
        body["state"] = "acknowledged"
        body["orderDate"] = now
        set_item_states(body, rules.shape, "acknowledged")
        return body

    def prepare_update(self, before: dict[str, Any], after: dict[str, Any], now: str) -> dict[str, Any]:
        rules = self.rules
        lifecycle = rules.order_lifecycle
        old_state = lifecycle.parse(str(before.get("state")))
        # The patched order obeys the same structure rules as a new one: no duplicate item ids slipped in as
        # nested items, no relationship to an item the order does not have.
        check_item_structure(after, rules.shape)
        explicit = after.get("state") != before.get("state")
        new_state = old_state
        if explicit:
            requested = after.get("state")
            if not isinstance(requested, str):
                raise BadRequest(f"state of a {rules.shape.resource_key} must be a string")
            new_state = lifecycle.parse(requested)
            if new_state in CANCELLATION_FLOW_STATES:
                raise Conflict(
                    f"{rules.shape.resource_key} cannot be moved to '{new_state}' by PATCH; "
                    f"POST a cancel{rules.type_name} request instead",
                    code="FORBIDDEN_TRANSITION",
                )
            try:
                lifecycle.transition(old_state, new_state)
            except ForbiddenTransition as error:
                raise lifecycle_conflict(error, f"{rules.shape.resource_key} '{before.get('id')}'") from error
        # After the move itself is checked, so that a forbidden move out of a final state names both states.
        rules.patch_policy.check(old_state, top_level_changes(before, after))
        item_changes = check_item_changes(before, after, rules.shape, rules.item_lifecycle)
        if old_state != "acknowledged" and self._fixed_item_content(before) != self._fixed_item_content(after):
            raise Conflict(
                f"{rules.shape.item_key} content can change only while the {rules.shape.resource_key} is "
                f"acknowledged (it is '{old_state}'); only {sorted(rules.item_progress_attributes)} may still change",
                code="NOT_PATCHABLE_NOW",
            )
        states = self._rolled_up_item_states(after)
        if explicit and new_state in OUTCOME_STATES:
            derived = rules.roll_up_state(states, lifecycle.parse("inProgress"))
            if derived != new_state:
                raise Conflict(
                    f"{rules.shape.resource_key} cannot be '{new_state}' while its items roll up to '{derived}'",
                    code="STATE_CONTRADICTS_ITEMS",
                )
        elif item_changes or explicit:
            try:
                steps = rules.roll_up_steps(states, new_state)
            except ForbiddenTransition as error:
                raise lifecycle_conflict(error, f"{rules.shape.resource_key} '{before.get('id')}'") from error
            if steps:
                new_state = steps[-1]
        if explicit and new_state == "cancelled":
            self._cancel_items(after)
        after["state"] = str(new_state)
        if after["state"] != before.get("state"):
            if rules.start_date_attribute and after["state"] == "inProgress":
                after.setdefault(rules.start_date_attribute, now)
            if lifecycle.is_terminal(new_state):
                after["completionDate"] = now
        return after

    def state_path(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        """A roll-up may make two moves in one write (held -> inProgress -> completed): each gets its event."""
        lifecycle = self.rules.order_lifecycle
        old, new = lifecycle.parse(str(before.get("state"))), lifecycle.parse(str(after.get("state")))
        if old == new or lifecycle.can(old, new):
            return [str(new)]
        return [str(step) for step in self.rules.roll_up_steps(self._rolled_up_item_states(after), old)] or [str(new)]

    def check_delete(self, current: dict[str, Any]) -> None:
        lifecycle = self.rules.order_lifecycle
        state = lifecycle.parse(str(current.get("state")))
        if not lifecycle.is_terminal(state):
            final = ", ".join(sorted(str(s) for s in lifecycle.terminal))
            raise Conflict(
                f"{self.rules.shape.resource_key} '{current.get('id')}' is '{state}'; only an order in a final "
                f"state ({final}) can be deleted",
                code="NOT_FINAL",
            )

    def _rolled_up_item_states(self, order: dict[str, Any]) -> list[Any]:
        """Item states that count for the order state: noChange items do not, unless every item is noChange."""
        items = [item for _, item in self.rules.shape.walk(order)]
        counted = [item for item in items if item.get("action") != "noChange"] or items
        return [self.rules.item_lifecycle.parse(str(item.get("state"))) for item in counted]

    def _fixed_item_content(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        skipped = self.rules.item_progress_attributes | {self.rules.shape.item_key}
        return [
            {key: value for key, value in item.items() if key not in skipped}
            for _, item in self.rules.shape.walk(order)
        ]

    def _cancel_items(self, order: dict[str, Any]) -> None:
        lifecycle = self.rules.item_lifecycle
        cancelled = lifecycle.parse("cancelled")
        for _, item in self.rules.shape.walk(order):
            if lifecycle.can(lifecycle.parse(str(item.get("state"))), cancelled):
                item["state"] = "cancelled"
