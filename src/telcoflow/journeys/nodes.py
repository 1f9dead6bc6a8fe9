"""The compiled pieces of a journey: state nodes and flat transitions (plain frozen data).

This module sits at the bottom of :mod:`telcoflow.journeys`: the compiler builds these, the
runtime, the diagrams and the path search read them, and it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from telcoflow.loading.source import PathKey

__all__ = [
    "DONE_PREFIX",
    "EVENTLESS",
    "TIMEOUT_PREFIX",
    "FlatTransition",
    "Guard",
    "StateNode",
    "descriptor_matches",
]

#: Triggers of timeouts are ``@timeout:<state path>``; they never come from outside.
TIMEOUT_PREFIX = "@timeout:"
#: The trigger of an eventless (``always``) microstep, as recorded in an instance's history.
EVENTLESS = "@always"
#: Internal events raised when a compound or parallel state completes: ``done.state.<path>``.
DONE_PREFIX = "done.state."

Guard = Callable[[Mapping[str, Any]], Any]


def descriptor_matches(descriptor: str, event: str) -> bool:
    """SCXML event matching: ``payment`` matches ``payment`` and ``payment.failed``.

    A descriptor matches an event when it equals it or is a prefix of it made of whole
    dot-separated tokens; ``*`` matches every event; a trailing ``.*`` is ignored
    (``payment.*`` is ``payment``). Eventless transitions match no event.

    A full completion event ``done.state.<path>`` matches only that event: state paths are
    dotted, so ``done.state.checkout`` must not match ``done.state.checkout.kyc`` (``done``
    and ``done.state`` still match every completion event).
    """
    if descriptor == "*":
        return True
    if descriptor.startswith(DONE_PREFIX):
        return event == descriptor
    if descriptor.endswith(".*"):
        descriptor = descriptor[:-2]
    return event == descriptor or event.startswith(descriptor + ".")


@dataclass(frozen=True, slots=True)
class StateNode:
    """One declared state, by its full dotted path."""

    path: str
    parent: str | None
    kind: str  # "leaf" | "compound" | "parallel"
    children: tuple[str, ...]
    initial: str | None
    outcome: str | None
    final: bool
    #: ``"deep"``, ``"shallow"`` or None (no history kept).
    history: str | None
    timeout: float | None
    order: int
    yaml_path: PathKey


@dataclass(frozen=True, slots=True)
class FlatTransition:
    """One step between two configurations, with every effect precomputed.

    A step is one SCXML microstep (the optimal transition set one event selects) followed
    by every microstep the compiler could settle ahead (unconditional eventless transitions
    and ``done.state`` events); ``raises`` holds the internal events left for the runtime.
    """

    index: int
    source: str
    trigger: str
    target: str
    guard: str | None
    actions: tuple[str, ...]
    emit: tuple[str, ...]
    increment: tuple[str, ...]
    declared_on: str
    #: ``resume`` transitions: fire only when ``memory.get(key) == value`` (value None: absent).
    memory_key: str | None = None
    memory_value: str | None = None
    memory_updates: tuple[tuple[str, str], ...] = ()
    deadlines_clear: frozenset[str] = frozenset()
    deadlines_set: tuple[tuple[str, float], ...] = ()
    #: True when the transition clears every deadline the source can have (then the new
    #: deadlines are exactly ``deadlines_set``, sorted): a fast path for the runtime.
    deadlines_replace: bool = False
    #: Outcome of the target when it is a top-level final state.
    outcome: str | None = None
    #: The compiled guard (every guard of ``guards`` must hold), for the hot path.
    check: Guard | None = field(default=None, compare=False, repr=False)
    #: True when a guard reads ``channel``, ``trigger`` or a payload field (then it needs
    #: a scope built per event; otherwise it reads the context as it is).
    check_event: bool = field(default=False, compare=False, repr=False)
    #: Every history condition ``(state, remembered configuration or None)``; the first one
    #: is also ``memory_key`` / ``memory_value``.
    memory_conditions: tuple[tuple[str, str | None], ...] = ()
    #: The guards that must hold (the step's selection assumed them true).
    guards: tuple[str, ...] = ()
    #: Internal events still queued after the step (``done.state.*``), in order.
    raises: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``source --trigger--> target`` (for messages and test ids)."""
        return f"{self.source} --{self.trigger}--> {self.target}"

    def memory_allows(self, memory: Mapping[str, str] | None) -> bool:
        """True when every history condition holds for ``memory``."""
        return all((memory or {}).get(key) == value for key, value in self.memory_conditions)
