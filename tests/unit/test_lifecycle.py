"""Unit tests of the generic Lifecycle and PatchPolicy types."""

from __future__ import annotations

from enum import StrEnum

import pytest

from tmf_common.lifecycle import (
    AttributeNotPatchable,
    ForbiddenTransition,
    Lifecycle,
    LifecycleError,
    PatchPolicy,
    UnknownState,
)


class Door(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CHECKING = "checking"
    LOCKED = "locked"
    BROKEN = "broken"


def make_door(**overrides: object) -> Lifecycle[Door]:
    arguments: dict[str, object] = {
        "name": "door",
        "states": Door,
        "initial": frozenset({Door.CLOSED}),
        "terminal": frozenset({Door.BROKEN}),
        "transitions": {
            Door.OPEN: frozenset({Door.CLOSED, Door.CHECKING, Door.BROKEN}),
            Door.CLOSED: frozenset({Door.OPEN, Door.LOCKED, Door.CHECKING}),
            Door.CHECKING: frozenset({Door.OPEN, Door.CLOSED, Door.BROKEN}),
            Door.LOCKED: frozenset({Door.CLOSED}),
        },
    }
    arguments.update(overrides)
    return Lifecycle(**arguments)  # type: ignore[arg-type]


DOOR = make_door()


def test_allowed_move_returns_the_target() -> None:
    assert DOOR.transition(Door.CLOSED, Door.LOCKED) is Door.LOCKED
    assert DOOR.can(Door.CLOSED, Door.LOCKED)


def test_forbidden_move_raises_with_both_states_named() -> None:
    assert not DOOR.can(Door.LOCKED, Door.OPEN)
    with pytest.raises(ForbiddenTransition) as caught:
        DOOR.transition(Door.LOCKED, Door.OPEN)
    assert str(caught.value) == "door cannot move from 'locked' to 'open'"
    assert (caught.value.lifecycle, caught.value.from_state, caught.value.to_state) == (
        "door",
        "locked",
        "open",
    )
    assert isinstance(caught.value, LifecycleError)


@pytest.mark.parametrize("state", list(Door))
def test_same_state_is_an_allowed_no_op_even_when_terminal(state: Door) -> None:
    assert DOOR.can(state, state)
    assert DOOR.transition(state, state) is state


def test_terminal_and_initial_queries() -> None:
    assert DOOR.is_terminal(Door.BROKEN)
    assert not DOOR.is_terminal(Door.OPEN)
    assert DOOR.is_initial(Door.CLOSED)
    assert not DOOR.is_initial(Door.OPEN)
    assert DOOR.next_states(Door.BROKEN) == frozenset()
    assert DOOR.next_states(Door.LOCKED) == frozenset({Door.CLOSED})


def test_parse_known_value() -> None:
    assert DOOR.parse("locked") is Door.LOCKED


@pytest.mark.parametrize("value", ["Locked", "LOCKED", "ajar", "", " open"])
def test_parse_unknown_value_names_the_allowed_ones(value: str) -> None:
    with pytest.raises(UnknownState) as caught:
        DOOR.parse(value)
    assert caught.value.allowed == ("open", "closed", "checking", "locked", "broken")
    assert caught.value.value == value
    assert (
        str(caught.value) == f"{value!r} is not a door state; expected one of: open, closed, checking, locked, broken"
    )
    assert isinstance(caught.value, ValueError)


def test_the_table_cannot_be_changed_through_the_callers_dict() -> None:
    table = {
        Door.CLOSED: frozenset({Door.BROKEN}),
    }
    lifecycle = make_door(
        initial=frozenset({Door.CLOSED}),
        terminal=frozenset({Door.BROKEN, Door.OPEN, Door.CHECKING, Door.LOCKED}),
        transitions=table,
    )
    table[Door.CLOSED] = frozenset({Door.OPEN})
    assert not lifecycle.can(Door.CLOSED, Door.OPEN)
    with pytest.raises(TypeError):
        lifecycle.transitions[Door.CLOSED] = frozenset()  # type: ignore[index]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"terminal": frozenset({Door.BROKEN, Door.LOCKED})}, id="terminal-with-exits"),
        pytest.param(
            {"transitions": {Door.OPEN: frozenset({Door.OPEN}), Door.CLOSED: frozenset({Door.OPEN})}},
            id="self-loop",
        ),
        pytest.param(
            {"transitions": {Door.OPEN: frozenset({Door.CLOSED}), Door.CLOSED: frozenset({Door.OPEN})}},
            id="stranded-non-terminal",
        ),
        pytest.param({"initial": frozenset()}, id="no-initial"),
        pytest.param({"initial": frozenset({"ajar"})}, id="foreign-initial"),
    ],
)
def test_inconsistent_tables_are_refused_at_definition(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_door(**overrides)


def test_return_transition_goes_back_only_where_it_came_from() -> None:
    # checking is entered from open and closed; leaving it "backwards" must return to the entry state.
    assert DOOR.return_transition(Door.CHECKING, Door.OPEN, Door.OPEN) is Door.OPEN
    assert DOOR.return_transition(Door.CHECKING, Door.OPEN, Door.BROKEN) is Door.BROKEN
    with pytest.raises(ForbiddenTransition) as caught:
        DOOR.return_transition(Door.CHECKING, Door.OPEN, Door.CLOSED)
    assert "'checking' to 'closed'" in str(caught.value)
    assert "'open'" in str(caught.value)


def test_return_transition_refuses_an_impossible_previous_state() -> None:
    with pytest.raises(ForbiddenTransition) as caught:
        DOOR.return_transition(Door.CHECKING, Door.LOCKED, Door.LOCKED)
    assert "'locked' to 'checking'" in str(caught.value)


def test_return_transition_still_applies_the_table() -> None:
    with pytest.raises(ForbiddenTransition):
        DOOR.return_transition(Door.CHECKING, Door.CLOSED, Door.LOCKED)


POLICY: PatchPolicy[Door] = PatchPolicy(
    resource="door",
    read_only=frozenset({"id", "serial"}),
    restricted={Door.BROKEN: frozenset({"note"}), Door.LOCKED: frozenset({"note", "state"})},
)


def test_patch_policy_open_state_allows_anything_not_read_only() -> None:
    POLICY.check(Door.OPEN, ["colour", "state", "note"])
    assert POLICY.may_patch(Door.OPEN, "anything")
    assert not POLICY.may_patch(Door.OPEN, "serial")


def test_patch_policy_read_only_attribute_is_refused_in_every_state() -> None:
    for state in Door:
        with pytest.raises(AttributeNotPatchable) as caught:
            POLICY.check(state, ["serial"])
        assert caught.value.read_only
        assert caught.value.attribute == "serial"
        assert f"'{state}'" in str(caught.value)
        assert "'serial'" in str(caught.value)


def test_patch_policy_restricted_state_allows_only_its_list() -> None:
    POLICY.check(Door.LOCKED, ["note", "state"])
    with pytest.raises(AttributeNotPatchable) as caught:
        POLICY.check(Door.LOCKED, ["state", "colour", "note"])
    assert caught.value.attribute == "colour"
    assert not caught.value.read_only
    assert str(caught.value) == "'colour' of a door cannot be changed while it is 'locked'"


def test_patch_policy_reports_the_first_offender_in_sorted_order() -> None:
    with pytest.raises(AttributeNotPatchable) as caught:
        POLICY.check(Door.BROKEN, ["zeta", "alpha", "note"])
    assert caught.value.attribute == "alpha"


def test_patch_policy_nothing_changed_is_fine_in_any_state() -> None:
    for state in Door:
        POLICY.check(state, [])


def test_patch_policy_refuses_restricted_read_only_overlap() -> None:
    with pytest.raises(ValueError):
        PatchPolicy(resource="door", read_only=frozenset({"id"}), restricted={Door.BROKEN: frozenset({"id"})})
