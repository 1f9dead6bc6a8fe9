"""A journey version compiled for one runtime: the hot-path dispatch table.

:class:`~telcoflow.journeys.definition.Journey` holds the flat transitions with their effects
worked out; this module turns them into what :meth:`JourneyRuntime.send
<telcoflow.journeys.runtime.JourneyRuntime.send>` reads per event, so that an event costs a few
dictionary lookups and attribute reads and creates no intermediate objects:

* ``rows[state][trigger]`` -> the first candidate :class:`PlannedTransition`; when it is
  ``choose``-flagged (it has a guard or a history condition, or the runtime runs the
  ``transitions`` engine) the runtime tries its ``candidates`` in order, otherwise the step
  fires at once;
* each step has its host actions already resolved to callables (bound when the journey is
  registered: a registry never drops or replaces an action), a single ``gated`` flag (a guard
  or a history condition to test, else the step fires at once), and its deadline change as a
  small op code with its constants, so the common "replace by one deadline" and "clear all"
  cases build one tuple and nothing else;
* ``channels`` maps each accepted channel (the journey's and ``system``) to the journey's own
  interned string, and each step carries the frozenset of its trigger's payload fields
  (``fields``), so the two event checks are one lookup and one C-level ``issuperset``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from telcoflow.journeys.definition import Journey
from telcoflow.journeys.instance import SYSTEM_CHANNEL
from telcoflow.journeys.nodes import DONE_PREFIX, EVENTLESS, FlatTransition

__all__ = [
    "DL_CLEAR",
    "DL_NONE",
    "DL_OTHER",
    "DL_REPLACE1",
    "Plan",
    "PlannedTransition",
    "compile_plan",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NO_FIELDS: frozenset[str] = frozenset()
_NO_ROW: Mapping[str, Any] = MappingProxyType({})

#: Deadline op codes of a step.
DL_NONE = 0  # deadlines unchanged
DL_CLEAR = 1  # no deadline afterwards (final state, or every deadline cleared, none set)
DL_REPLACE1 = 2  # exactly one deadline afterwards: (now + after, state)
DL_OTHER = 3  # anything else: PlannedTransition.new_deadlines


class PlannedTransition:
    """One compiled transition, as the runtime's hot path reads it."""

    __slots__ = ("after", "candidates", "check", "check_event", "choose", "deadline_op",
                 "deadline_state", "deadlines_clear", "deadlines_replace", "deadlines_set",
                 "effects", "fields", "fns", "gated", "increment", "memory_conditions",
                 "memory_key", "memory_updates", "memory_value", "outcome", "raises", "settle",
                 "target", "transition", "trigger")

    def __init__(self, t: FlatTransition, fns: tuple[Callable[..., Any], ...],
                 fields: frozenset[str] = frozenset()) -> None:
        self.transition = t
        #: The payload fields the trigger declares (an event may send a subset).
        self.fields = fields
        #: The steps of this step's row (same source and trigger) in the order they are
        #: tried, and whether the runtime must try them (set by :class:`Plan` on the row's
        #: first step; a step that is not first in its row is never read for either).
        self.candidates: tuple[PlannedTransition, ...] = (self,)
        self.choose = False
        self.trigger = t.trigger
        self.target = t.target
        self.fns = fns
        self.check = t.check
        self.check_event = t.check_event
        self.memory_key = t.memory_key
        self.memory_value = t.memory_value
        self.memory_conditions = t.memory_conditions
        self.gated = t.check is not None or bool(t.memory_conditions)
        #: Internal events left queued, and whether the runtime must settle the macrostep
        #: after this step (queued events, or eventless transitions in the target; set by
        #: :class:`Plan`).
        self.raises = t.raises
        self.settle = bool(t.raises)
        self.increment = t.increment
        self.memory_updates = dict(t.memory_updates) if t.memory_updates else None
        #: False when the step only moves (no actions, counters or history memory): the
        #: runtime then only applies the payload.
        self.effects = bool(fns or t.increment or t.memory_updates)
        self.outcome = t.outcome
        self.deadlines_set = t.deadlines_set
        self.deadlines_clear = t.deadlines_clear
        self.deadlines_replace = t.deadlines_replace
        self.after = 0.0
        self.deadline_state = ""
        if t.outcome is not None or (t.deadlines_replace and not t.deadlines_set):
            self.deadline_op = DL_CLEAR
        elif t.deadlines_replace and len(t.deadlines_set) == 1:
            self.deadline_op = DL_REPLACE1
            self.deadline_state, self.after = t.deadlines_set[0]
        elif t.deadlines_replace or t.deadlines_clear or t.deadlines_set:
            self.deadline_op = DL_OTHER
        else:
            self.deadline_op = DL_NONE

    def allows(self, memory: Mapping[str, str] | None, context: dict[str, Any],
               payload: Mapping[str, Any], channel: str, trigger: str) -> bool:
        """True when the step's history condition and guard hold for this event."""
        if self.memory_key is not None:
            mem = memory or _EMPTY
            for key, value in self.memory_conditions:
                if mem.get(key) != value:
                    return False
        check = self.check
        if check is None:
            return True
        if not self.check_event:
            return bool(check(context))
        return bool(check({**context, **payload, "channel": channel, "trigger": trigger}))

    def new_deadlines(self, old: tuple[tuple[float, str], ...], now: float,
                      ) -> tuple[tuple[float, str], ...]:
        """The deadlines after this step (the ``DL_OTHER`` cases), sorted by due time."""
        if self.deadlines_replace:
            return tuple([(now + after, s) for s, after in self.deadlines_set])
        if self.deadlines_clear:
            clear = self.deadlines_clear
            kept = [d for d in old if d[1] not in clear]
        else:
            kept = list(old)
        if self.deadlines_set:
            kept += [(now + after, s) for s, after in self.deadlines_set]
            kept.sort()
        return tuple(kept)


class Plan:
    """A journey version compiled for one runtime (see the module docstring)."""

    __slots__ = ("channels", "id", "initial_settle", "inner", "journey", "payloads", "rows",
                 "steps", "version")

    def __init__(self, journey: Journey | None,
                 actions: Callable[[str], Callable[..., Any] | None], *,
                 choose_all: bool = False) -> None:
        self.journey = journey
        self.id: str | None = None
        self.version = 0
        self.channels: dict[str, str] = {}
        self.payloads: dict[str, frozenset[str]] = {}
        self.rows: dict[str, dict[str, PlannedTransition]] = {}
        #: Rows of the events the journey raises itself (``@always``, ``done.state.*``):
        #: apart from ``rows`` so that no caller can send them.
        self.inner: dict[str, dict[str, PlannedTransition]] = {}
        self.steps: dict[int, PlannedTransition] = {}
        self.initial_settle = False
        if journey is None:
            return  # the "no journey yet" sentinel: matches no instance
        self.id = journey.id
        self.version = journey.version
        self.channels = {c: sys.intern(c) for c in journey.channels}
        self.channels[SYSTEM_CHANNEL] = SYSTEM_CHANNEL
        self.payloads = {trigger: frozenset(fields)
                         for trigger, fields in journey.triggers.items()}
        for t in journey.transitions:
            fns = []
            for name in t.actions:
                fn = actions(name)
                if fn is None:  # JourneyRuntime.register checked this first
                    raise KeyError(name)
                fns.append(fn)
            self.steps[t.index] = PlannedTransition(t, tuple(fns),
                                                    self.payloads.get(t.trigger, _NO_FIELDS))
        for state, row in journey.table.items():
            entries: dict[str, PlannedTransition] = {}
            for trigger, candidates in row.items():
                steps = tuple(self.steps[t.index] for t in candidates)
                first = steps[0]
                first.candidates = steps
                first.choose = choose_all or first.gated
                if trigger == EVENTLESS or trigger.startswith(DONE_PREFIX):
                    self.inner.setdefault(state, {})[trigger] = first
                else:
                    entries[trigger] = first
            self.rows[state] = entries
        for step in self.steps.values():
            if EVENTLESS in self.inner.get(step.target, _NO_ROW):
                step.settle = True
        self.initial_settle = bool(journey.initial_raises) or (
            EVENTLESS in self.inner.get(journey.initial, _NO_ROW))


def compile_plan(journey: Journey, actions: Callable[[str], Callable[..., Any] | None], *,
                 choose_all: bool = False) -> Plan:
    """The runtime plan of ``journey`` with its actions resolved through ``actions``.

    ``choose_all``: flag every row's first step ``choose`` (the ``transitions`` engine
    chooses every transition itself).
    """
    return Plan(journey, actions, choose_all=choose_all)
