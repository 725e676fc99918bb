"""State machines and per-state patch rules as data: one pure transition check for every lifecycle."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class LifecycleError(Exception):
    """Base of the errors raised by lifecycle and patch-rule checks, so one handler can render them."""


class ForbiddenTransition(LifecycleError):
    """A move the lifecycle does not allow; the API answers it with 409."""

    def __init__(self, lifecycle: str, from_state: str, to_state: str, reason: str | None = None) -> None:
        self.lifecycle = lifecycle
        self.from_state = str(from_state)
        self.to_state = str(to_state)
        self.reason = reason
        message = f"{lifecycle} cannot move from '{self.from_state}' to '{self.to_state}'"
        super().__init__(f"{message}: {reason}" if reason else message)


class UnknownState(LifecycleError, ValueError):
    """A state value that is not in the lifecycle's enum; the API answers it with 400."""

    def __init__(self, lifecycle: str, value: object, allowed: Iterable[str]) -> None:
        self.lifecycle = lifecycle
        self.value = value
        self.allowed = tuple(allowed)
        super().__init__(f"{value!r} is not a {lifecycle} state; expected one of: {', '.join(self.allowed)}")


class AttributeNotPatchable(LifecycleError):
    """A PATCH touching an attribute the resource's current state does not let a client change."""

    def __init__(self, resource: str, attribute: str, state: str, *, read_only: bool) -> None:
        self.resource = resource
        self.attribute = attribute
        self.state = str(state)
        # read_only tells the renderer whether the attribute is never patchable (400) or only not now (409).
        self.read_only = read_only
        if read_only:
            message = f"'{attribute}' of a {resource} is set by the server and cannot be patched (state '{state}')"
        else:
            message = f"'{attribute}' of a {resource} cannot be changed while it is '{state}'"
        super().__init__(message)


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """A lifecycle: its enum, the states a resource may be created in, the final states and the allowed moves.

    Moving to the current state is always allowed and changes nothing: a PATCH that repeats the current state
    (a client re-sending the whole resource, a retried request) must not be answered with a conflict.
    The table itself therefore never lists a state as its own successor.
    """

    name: str
    states: type[S]
    initial: frozenset[S]
    terminal: frozenset[S]
    transitions: Mapping[S, frozenset[S]] = field(hash=False)

    def __post_init__(self) -> None:
        members = frozenset(self.states)
        if not self.initial or not self.initial <= members or not self.terminal <= members:
            raise ValueError(f"{self.name}: initial and terminal states must be non-empty members of the enum")
        for source, targets in self.transitions.items():
            if source not in members or not targets <= members:
                raise ValueError(f"{self.name}: transition table names states outside {self.states.__name__}")
            if source in targets:
                raise ValueError(f"{self.name}: '{source}' lists itself; same-state moves are implicit")
            if source in self.terminal and targets:
                raise ValueError(f"{self.name}: terminal state '{source}' has outgoing transitions")
        for state in members - self.terminal:
            if not self.transitions.get(state):
                # A non-final state with no way out would strand resources forever.
                raise ValueError(f"{self.name}: non-terminal state '{state}' has no outgoing transitions")
        # Freeze a private copy so a caller's dict cannot change the lifecycle afterwards.
        object.__setattr__(self, "transitions", MappingProxyType(dict(self.transitions)))

    def next_states(self, state: S) -> frozenset[S]:
        """The states reachable from `state` in one move (without the implicit same-state move)."""
        return self.transitions.get(state, frozenset())

    def can(self, from_state: S, to_state: S) -> bool:
        return from_state == to_state or to_state in self.next_states(from_state)

    def transition(self, from_state: S, to_state: S) -> S:
        """Return `to_state` if the move is allowed, else raise `ForbiddenTransition`."""
        if not self.can(from_state, to_state):
            raise ForbiddenTransition(self.name, from_state, to_state)
        return to_state

    def is_terminal(self, state: S) -> bool:
        return state in self.terminal

    def is_initial(self, state: S) -> bool:
        return state in self.initial

    def parse(self, value: str) -> S:
        """The enum member for a client-supplied value, or `UnknownState` naming the allowed values."""
        try:
            return self.states(value)
        except ValueError:
            raise UnknownState(self.name, value, [str(s) for s in self.states]) from None

    def return_transition(self, via: S, previous: S, target: S) -> S:
        """Move out of `via`, a state that goes forward or back to `previous`, the state it was entered from.

        TMF draws such states (assessingCancellation) with one "back to where it came from" arrow, which a
        plain table cannot express: the table allows every way back, and this check narrows it to `previous`.
        """
        entered_from = frozenset(s for s, targets in self.transitions.items() if via in targets)
        if previous not in entered_from:
            raise ForbiddenTransition(self.name, previous, via, "so it cannot be the state to return to")
        self.transition(via, target)
        if target in entered_from and target != previous:
            raise ForbiddenTransition(
                self.name, via, target, f"it can only return to the state it came from, '{previous}'"
            )
        return target


@dataclass(frozen=True)
class PatchPolicy(Generic[S]):
    """Which top-level attributes a client may change, by resource state.

    `read_only` attributes are never patchable. A state listed in `restricted` allows only its listed
    attributes; any other state allows everything not read-only (schema validation is done elsewhere).
    """

    resource: str
    read_only: frozenset[str]
    restricted: Mapping[S, frozenset[str]] = field(hash=False)

    def __post_init__(self) -> None:
        for state, allowed in self.restricted.items():
            if allowed & self.read_only:
                raise ValueError(f"{self.resource}: state '{state}' allows read-only attributes")
        object.__setattr__(self, "restricted", MappingProxyType(dict(self.restricted)))

    def may_patch(self, state: S, attribute: str) -> bool:
        if attribute in self.read_only:
            return False
        allowed = self.restricted.get(state)
        return allowed is None or attribute in allowed

    def check(self, state: S, changed_attributes: Iterable[str]) -> None:
        """Raise `AttributeNotPatchable` for the first offending attribute (sorted, so the error is stable).

        Pass only the attributes whose value actually changes: a body that repeats a read-only value (a client
        PATCHing back what it read) is not a change and must not be refused.
        """
        for attribute in sorted(set(changed_attributes)):
            if not self.may_patch(state, attribute):
                raise AttributeNotPatchable(self.resource, attribute, state, read_only=attribute in self.read_only)
