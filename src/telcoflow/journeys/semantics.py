"""The W3C SCXML algorithm (Appendix D of the recommendation) over a journey's state tree.

This is the reference semantics of journeys; the compiler runs it over every reachable
configuration to build the runtime's flat table. It follows the recommendation's procedures
by name, restricted to the structural subset (no data model, no executable content besides
the transitions' own actions, which the runtime runs):

* :meth:`Chart.select` is ``selectTransitions`` / ``selectEventlessTransitions``: for each
  active atomic state in document order, the first transition (the state's, then its
  ancestors') whose event descriptor matches and whose guard holds; then
  ``removeConflictingTransitions`` keeps document order, except that a transition whose
  source is a descendant of an earlier one's source preempts it.
* :meth:`Chart.microstep` is ``microstep``: ``computeExitSet`` from each transition's domain
  (``getTransitionDomain``: the source for an internal transition whose targets are all its
  descendants, else the least common *compound* ancestor, so a parallel state is never a
  domain), ``exitStates`` in exit order recording history (shallow: the active children;
  deep: the active atomic descendants), then ``computeEntrySet`` with
  ``addDescendantStatesToEnter`` / ``addAncestorStatesToEnter`` (a parallel ancestor
  re-enters every region not already being entered), ``enterStates`` in entry order raising
  ``done.state.<parent>`` for an entered final state and ``done.state.<grandparent>`` when
  that completes a parallel state.

A history pseudo-state of state ``P`` is written ``P.@history`` here (a target of a
``resume: true`` transition); it is never part of a configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from telcoflow.journeys.nodes import DONE_PREFIX, StateNode, descriptor_matches

__all__ = ["HISTORY", "Chart", "ChartTransition", "Microstep"]

#: Suffix of a history pseudo-state id (``P.@history``).
HISTORY = "@history"


@dataclass(frozen=True, slots=True)
class ChartTransition:
    """One transition as written (document order ``index``), with resolved targets."""

    index: int
    source: str
    #: Event descriptors; empty for an eventless transition.
    events: tuple[str, ...]
    guard: str | None
    #: Resolved target states (``P.@history`` for a history pseudo-state); empty: targetless.
    targets: tuple[str, ...]
    internal: bool
    actions: tuple[str, ...] = ()
    emit: tuple[str, ...] = ()
    increment: tuple[str, ...] = ()

    def matches(self, event: str | None) -> bool:
        """True when the transition is enabled by ``event`` (None: eventless)."""
        if event is None:
            return not self.events
        return any(descriptor_matches(d, event) for d in self.events)


@dataclass(slots=True)
class Microstep:
    """What one microstep did."""

    leaves: list[str]
    exited: list[str]
    entered: list[str]
    memory: dict[str, str]
    raised: list[str]
    transitions: list[ChartTransition]


#: ``holds(transition)`` says whether a transition's guard holds.
Holds = Callable[[ChartTransition], bool]


class Chart:
    """A state tree with its transitions, and the SCXML procedures over it."""

    def __init__(self, states: Mapping[str, StateNode],
                 transitions: Mapping[str, Sequence[ChartTransition]],
                 history_defaults: Mapping[str, tuple[str, ...]]) -> None:
        self.states = states
        self.transitions = transitions
        self.history_defaults = history_defaults

    # ---------------------------------------------------------------- tree helpers

    def parent(self, state: str) -> str | None:
        if state.endswith("." + HISTORY):
            return state[: -len(HISTORY) - 1]
        return self.states[state].parent

    @staticmethod
    def is_descendant(state: str, ancestor: str | None) -> bool:
        """True when ``state`` is a proper descendant of ``ancestor`` (None: the root)."""
        return ancestor is None or state.startswith(ancestor + ".")

    def proper_ancestors(self, state: str, upto: str | None) -> list[str]:
        """Ancestors of ``state`` innermost first, stopping before ``upto`` (None: root)."""
        out = []
        node = self.parent(state)
        while node is not None and node != upto:
            out.append(node)
            node = self.states[node].parent
        return out

    def order(self, state: str) -> int:
        return self.states[state].order

    def active(self, leaves: Iterable[str]) -> set[str]:
        """Every active state of a configuration given by its atomic states."""
        out: set[str] = set()
        for leaf in leaves:
            out.add(leaf)
            out.update(self.proper_ancestors(leaf, None))
        return out

    def is_in_final_state(self, state: str, active: set[str]) -> bool:
        node = self.states[state]
        if node.kind == "compound":
            return any(c in active and self.states[c].final for c in node.children)
        if node.kind == "parallel":
            return all(self.is_in_final_state(c, active) for c in node.children)
        return False

    # ---------------------------------------------------------------- selection

    def candidates(self, leaves: Sequence[str], event: str | None) -> list[ChartTransition]:
        """Every transition of an active state that ``event`` enables, ignoring guards."""
        out: dict[int, ChartTransition] = {}
        for leaf in leaves:
            for state in (leaf, *self.proper_ancestors(leaf, None)):
                for t in self.transitions.get(state, ()):
                    if t.matches(event):
                        out[t.index] = t
        return list(out.values())

    def select(self, leaves: Sequence[str], event: str | None, holds: Holds,
               memory: Mapping[str, str]) -> list[ChartTransition]:
        """The optimal enabled transition set (``selectTransitions``)."""
        enabled: dict[int, ChartTransition] = {}
        for leaf in sorted(leaves, key=self.order):
            found = False
            for state in (leaf, *self.proper_ancestors(leaf, None)):
                for t in self.transitions.get(state, ()):
                    if t.matches(event) and (t.guard is None or holds(t)):
                        enabled.setdefault(t.index, t)
                        found = True
                        break
                if found:
                    break
        return self.remove_conflicts(list(enabled.values()), leaves, memory)

    def remove_conflicts(self, enabled: list[ChartTransition], leaves: Sequence[str],
                         memory: Mapping[str, str]) -> list[ChartTransition]:
        """``removeConflictingTransitions``."""
        active = self.active(leaves)
        exits = {t.index: self.exit_set([t], active, memory) for t in enabled}
        filtered: list[ChartTransition] = []
        for t1 in enabled:
            preempted = False
            remove: list[ChartTransition] = []
            for t2 in filtered:
                if exits[t1.index] & exits[t2.index]:
                    if self.is_descendant(t1.source, t2.source):
                        remove.append(t2)
                    else:
                        preempted = True
                        break
            if not preempted:
                filtered = [t for t in filtered if t not in remove]
                filtered.append(t1)
        return filtered

    # ---------------------------------------------------------------- exit and entry

    def effective_targets(self, t: ChartTransition, memory: Mapping[str, str]) -> list[str]:
        out: list[str] = []
        for target in t.targets:
            if target.endswith("." + HISTORY):
                owner = self.parent(target) or ""
                stored = memory.get(owner)
                out.extend(stored.split("+") if stored else self.history_defaults[owner])
            else:
                out.append(target)
        return out

    def domain(self, t: ChartTransition, memory: Mapping[str, str]) -> str | None:
        """``getTransitionDomain`` (None is the root; only called with targets)."""
        targets = self.effective_targets(t, memory)
        if (t.internal and self.states[t.source].kind == "compound"
                and all(self.is_descendant(s, t.source) for s in targets)):
            return t.source
        return self.lcca([t.source, *targets])

    def lcca(self, states: list[str]) -> str | None:
        """``findLCCA``: the nearest compound proper ancestor of the first holding the rest."""
        for anc in self.proper_ancestors(states[0], None):
            if self.states[anc].kind != "compound":
                continue
            if all(self.is_descendant(s, anc) for s in states[1:]):
                return anc
        return None

    def exit_set(self, transitions: Iterable[ChartTransition], active: set[str],
                 memory: Mapping[str, str]) -> set[str]:
        out: set[str] = set()
        for t in transitions:
            if t.targets:
                domain = self.domain(t, memory)
                out.update(s for s in active if self.is_descendant(s, domain))
        return out

    def entry_set(self, transitions: Iterable[ChartTransition],
                  memory: Mapping[str, str]) -> list[str]:
        """``computeEntrySet`` (states to enter, any order)."""
        enter: dict[str, None] = {}
        for t in transitions:
            for s in t.targets:
                self._add_descendants(s, enter, memory)
            domain = self.domain(t, memory) if t.targets else None
            for s in self.effective_targets(t, memory):
                self._add_ancestors(s, domain, enter, memory)
        return list(enter)

    def _add_descendants(self, state: str, enter: dict[str, None],
                         memory: Mapping[str, str]) -> None:
        if state.endswith("." + HISTORY):
            owner = self.parent(state) or ""
            stored = memory.get(owner)
            states = stored.split("+") if stored else list(self.history_defaults[owner])
            for s in states:
                self._add_descendants(s, enter, memory)
            for s in states:
                self._add_ancestors(s, owner, enter, memory)
            return
        enter[state] = None
        node = self.states[state]
        if node.kind == "compound" and node.initial is not None:
            self._add_descendants(node.initial, enter, memory)
        elif node.kind == "parallel":
            for child in node.children:
                if not any(self.is_descendant(s, child) or s == child for s in enter):
                    self._add_descendants(child, enter, memory)

    def _add_ancestors(self, state: str, upto: str | None, enter: dict[str, None],
                       memory: Mapping[str, str]) -> None:
        for anc in self.proper_ancestors(state, upto):
            enter[anc] = None
            if self.states[anc].kind == "parallel":
                for child in self.states[anc].children:
                    if not any(self.is_descendant(s, child) or s == child for s in enter):
                        self._add_descendants(child, enter, memory)

    def memory_of(self, state: str, active: set[str]) -> str | None:
        """What a state's history remembers when it is exited (None: it keeps none)."""
        node = self.states[state]
        if node.history is None:
            return None
        if node.history == "deep":
            kept = [s for s in active if self.states[s].kind == "leaf"
                    and self.is_descendant(s, state)]
        else:
            kept = [s for s in active if self.states[s].parent == state]
        return "+".join(sorted(kept, key=self.order))

    def microstep(self, leaves: Sequence[str], transitions: list[ChartTransition],
                  memory: Mapping[str, str]) -> Microstep:
        """Take an optimal transition set (``microstep``)."""
        active = self.active(leaves)
        exit_set = self.exit_set(transitions, active, memory)
        exited = sorted(exit_set, key=lambda s: -self.order(s))  # exit order
        recorded: dict[str, str] = {}
        for state in exited:
            kept = self.memory_of(state, active)
            if kept is not None:
                recorded[state] = kept
        remaining = active - exit_set
        entered = sorted(self.entry_set(transitions, memory), key=self.order)  # entry order
        now = remaining | set(entered)
        raised: list[str] = []
        for state in entered:
            node = self.states[state]
            if not node.final or node.parent is None:
                continue
            parent = node.parent
            raised.append(DONE_PREFIX + parent)
            grand = self.states[parent].parent
            if grand is not None and self.states[grand].kind == "parallel" and all(
                    self.is_in_final_state(c, now) for c in self.states[grand].children):
                raised.append(DONE_PREFIX + grand)
        new_leaves = sorted((s for s in now if self.states[s].kind == "leaf"
                             or not any(c in now for c in self.states[s].children)),
                            key=self.order)
        return Microstep(new_leaves, exited, entered, recorded, raised, transitions)

    def initial_entry(self, initial: str) -> Microstep:
        """Entering the document's initial state (an initial transition from the root)."""
        t = ChartTransition(-1, "", (), None, (initial,), False)
        enter: dict[str, None] = {}
        self._add_descendants(initial, enter, {})
        self._add_ancestors(initial, None, enter, {})
        entered = sorted(enter, key=self.order)
        raised: list[str] = []
        now = set(entered)
        for state in entered:
            node = self.states[state]
            if node.final and node.parent is not None:
                raised.append(DONE_PREFIX + node.parent)
                grand = self.states[node.parent].parent
                if grand is not None and self.states[grand].kind == "parallel" and all(
                        self.is_in_final_state(c, now) for c in self.states[grand].children):
                    raised.append(DONE_PREFIX + grand)
        leaves = sorted((s for s in now if self.states[s].kind == "leaf"
                         or not any(c in now for c in self.states[s].children)),
                        key=self.order)
        return Microstep(leaves, [], entered, {}, raised, [t])
