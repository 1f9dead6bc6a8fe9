"""The state tree -> flat configurations and steps, by running the SCXML algorithm.

From the initial configuration, every event (declared triggers, timeouts, ``done.state``
events and the eventless ``@always``) is offered to every reachable configuration with every
remembered history; where guards decide, each combination of guard values that selects a
different transition set becomes one candidate step (tried in order by the runtime: the
candidates' guards are listed so that the first whose guards all hold is the one the SCXML
selection makes). After a microstep, eventless transitions and queued ``done.state`` events
that need no guard and no unknown history are taken at once (the step is the rest of the
macrostep); anything conditional is left to the runtime (``FlatTransition.raises`` and the
``@always`` row of the target).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from itertools import product
from typing import Any

from telcoflow._optional import requires
from telcoflow.journeys.builder import GUARD_BUILTINS, Builder
from telcoflow.journeys.nodes import (
    DONE_PREFIX,
    EVENTLESS,
    TIMEOUT_PREFIX,
    FlatTransition,
    Guard,
)
from telcoflow.journeys.semantics import HISTORY, Chart, ChartTransition, Microstep

with requires("journeys", "journeys"):
    import networkx as nx

__all__ = ["Compiled", "compile_chart"]

#: At most this many candidate steps per (configuration, event): beyond, a journey's guards
#: combine too freely to tabulate and it is refused.
MAX_CANDIDATES = 256


class _NeedGuardError(Exception):
    """Raised by the guard oracle when a guard value is not yet decided (a DFS branch)."""

    def __init__(self, guard: str) -> None:
        self.guard = guard


class Compiled:
    """What compilation found: the initial configuration, steps and configurations."""

    def __init__(self) -> None:
        self.initial = ""
        self.initial_raises: tuple[str, ...] = ()
        self.initial_memory: tuple[tuple[str, str], ...] = ()
        self.flat: list[FlatTransition] = []
        self.configs: set[str] = set()
        #: Every state some microstep enters (a state passed through within a macrostep is
        #: entered, though no configuration holds it).
        self.entered: set[str] = set()


def _all_guards(fns: tuple[Guard, ...]) -> Guard:
    def check(scope: Mapping[str, Any]) -> bool:
        return all(fn(scope) for fn in fns)

    return check


class _Compiler:
    def __init__(self, b: Builder, chart: Chart) -> None:
        self.b = b
        self.chart = chart
        self.states = b.states
        self.memories: dict[str, set[str]] = {p: set() for p, n in b.states.items()
                                              if n.history}
        self.events = [*b.spec.triggers]
        self.done_events = [DONE_PREFIX + p for p, n in b.states.items() if n.kind != "leaf"]
        self.limit = 4 * len(b.states) + 16
        self.entered: set[str] = set()

    def config(self, leaves: list[str]) -> str:
        return sys.intern("+".join(sorted(set(leaves), key=self.chart.order)))

    def enumerate(self, leaves: list[str], event: str | None, memory: Mapping[str, str],
                  ) -> list[tuple[tuple[str, ...], list[ChartTransition]]]:
        """(guards assumed true, selection) per guard combination, true-first DFS order."""
        out: list[tuple[tuple[str, ...], list[ChartTransition]]] = []

        def explore(assign: dict[str, bool]) -> None:
            if len(out) > MAX_CANDIDATES:
                return

            def holds(t: ChartTransition) -> bool:
                g = t.guard or ""
                if g not in assign:
                    raise _NeedGuardError(g)
                return assign[g]

            try:
                selected = self.chart.select(leaves, event, holds, memory)
            except _NeedGuardError as need:
                explore({**assign, need.guard: True})
                explore({**assign, need.guard: False})
                return
            out.append((tuple(g for g, v in assign.items() if v), selected))

        explore({})
        return out

    def history_owners(self, cands: list[ChartTransition]) -> list[str]:
        owners: dict[str, None] = {}
        for t in cands:
            for x in t.targets:
                if x.endswith("." + HISTORY):
                    owners[x[: -len(HISTORY) - 1]] = None
        return list(owners)

    def settle(self, leaves: list[str], first: Microstep, memory: dict[str, str],
               known: set[str]) -> tuple[list[Microstep], list[str], list[str]] | None:
        """Take the unconditional rest of the macrostep; (microsteps, leaves, queue)."""
        steps = [first]
        leaves = first.leaves
        queue = list(first.raised)
        memory.update(first.memory)
        known.update(first.memory)
        for _ in range(self.limit):
            if len(leaves) == 1 and self.states[leaves[0]].parent is None and \
                    self.states[leaves[0]].final:
                return steps, leaves, []
            event: str | None = None
            cands = self.chart.candidates(leaves, None)
            if not cands:
                while queue and not self.chart.candidates(leaves, queue[0]):
                    queue.pop(0)
                if not queue:
                    return steps, leaves, queue
                event = queue[0]
                cands = self.chart.candidates(leaves, event)
            if any(t.guard for t in cands) or any(o not in known
                                                  for o in self.history_owners(cands)):
                return steps, leaves, queue
            if event is not None:
                queue.pop(0)
            selected = self.chart.select(leaves, event, lambda t: True, memory)
            ms = self.chart.microstep(leaves, selected, memory)
            steps.append(ms)
            leaves = ms.leaves
            queue += ms.raised
            memory.update(ms.memory)
            known.update(ms.memory)
        return None

    def flat(self, index: int, source: str, trigger: str, before: list[str],
             steps: list[Microstep], leaves: list[str], queue: list[str],
             guards: tuple[str, ...], conditions: tuple[tuple[str, str | None], ...],
             ) -> FlatTransition:
        states = self.states
        memory_updates: dict[str, str] = {}
        exited: set[str] = set()
        entered: list[str] = []
        actions: list[str] = []
        emit: list[str] = []
        increment: list[str] = []
        for ms in steps:
            memory_updates.update(ms.memory)
            exited.update(ms.exited)
            entered = [s for s in entered if s not in ms.exited] + ms.entered
            for t in ms.transitions:
                actions += t.actions
                emit += t.emit
                increment += t.increment
        before_active = self.chart.active(before)
        after = self.chart.active(leaves)
        clear = frozenset(s for s in exited if s in before_active
                          and states[s].timeout is not None)
        dl = tuple((s, states[s].timeout or 0.0) for s in entered
                   if s in after and states[s].timeout is not None)
        target = self.config(leaves)
        fns = tuple(self.b.guards[g] for g in guards if g in self.b.guards)
        check: Guard | None = None
        if len(fns) == 1:
            check = fns[0]
        elif fns:
            check = _all_guards(fns)
        names: frozenset[str] = frozenset()
        for g in guards:
            names |= self.b.guard_names.get(g, frozenset())
        first = conditions[0] if conditions else (None, None)
        declared_on = steps[0].transitions[0].source if steps[0].transitions else ""
        return FlatTransition(
            index, source, trigger, target, " and ".join(guards) or None, tuple(actions),
            tuple(emit), tuple(increment), declared_on, first[0], first[1],
            tuple(sorted(memory_updates.items())), clear,
            tuple(sorted(dl, key=lambda d: (d[1], d[0]))),
            all(s in clear for s in before_active if states[s].timeout is not None),
            states[target].outcome if target in states else None, check,
            bool(names & (GUARD_BUILTINS | self.b.payload_fields)), conditions, guards,
            tuple(queue))

    def row(self, config: str, event: str, flat: list[FlatTransition]) -> None:
        leaves = config.split("+")
        chart_event = None if event == EVENTLESS else event
        cands = self.chart.candidates(leaves, chart_event)
        if not cands:
            return
        owners = self.history_owners(cands)
        options = [[*sorted(self.memories.get(o, ())), None] for o in owners]
        for combo in product(*options):
            memory = {o: v for o, v in zip(owners, combo, strict=True) if v is not None}
            conditions = tuple(zip(owners, combo, strict=True))
            leaves_of = self.enumerate(leaves, chart_event, memory)
            if len(leaves_of) > MAX_CANDIDATES:
                self.b.problem(self.states[leaves[0]].yaml_path, f"event `{event}` in "
                               f"`{config}`: guards combine into more than {MAX_CANDIDATES} "
                               "cases", "E-journey-guards")
                return
            for guards, selected in leaves_of:
                if not selected:
                    continue
                mem = dict(memory)
                ms = self.chart.microstep(leaves, selected, mem)
                settled = self.settle(leaves, ms, mem, set(owners))
                if settled is None:
                    self.b.problem(self.states[selected[0].source].yaml_path,
                                   f"event `{event}` in `{config}` never settles (eventless "
                                   "transitions or completion events loop)",
                                   "E-journey-livelock")
                    return
                steps, new_leaves, queue = settled
                for ms_ in steps:
                    self.entered.update(ms_.entered)
                    for k, v in ms_.memory.items():
                        self.memories[k].add(v)
                flat.append(self.flat(len(flat), config, event, leaves, steps, new_leaves,
                                      queue, guards, conditions))

    def run(self) -> Compiled:
        out = Compiled()
        top = [p for p, n in self.states.items() if n.parent is None
               and self.b.specs[p].initial]
        if not top:
            return out
        ms = self.chart.initial_entry(top[0])
        mem: dict[str, str] = {}
        settled = self.settle([], ms, mem, set())
        if settled is None:
            self.b.problem(("states",), "the initial configuration never settles",
                           "E-journey-livelock")
            return out
        _steps, leaves, queue = settled
        out.initial = self.config(leaves)
        out.initial_raises = tuple(queue)
        out.initial_memory = tuple(sorted(mem.items()))
        for k, v in mem.items():
            self.memories[k].add(v)
        while True:
            flat: list[FlatTransition] = []
            configs = {out.initial}
            todo = [out.initial]
            # completion events that may still be queued when a configuration is entered
            pending: dict[str, set[str]] = {out.initial: set(out.initial_raises)}
            done: dict[str, set[str]] = {}
            seen = {k: set(v) for k, v in self.memories.items()}
            while todo:
                config = todo.pop()
                leaves = config.split("+")
                if len(leaves) == 1 and self.states[leaves[0]].outcome is not None:
                    continue
                if config in done:
                    events: list[str] = sorted(pending.get(config, set()) - done[config])
                else:
                    active = self.chart.active(leaves)
                    timeouts = [TIMEOUT_PREFIX + s
                                for s in sorted(active, key=self.chart.order)
                                if self.states[s].timeout is not None]
                    events = [*self.events, *timeouts, EVENTLESS,
                              *sorted(pending.get(config, set()))]
                    done[config] = set()
                done[config].update(e for e in events if e.startswith(DONE_PREFIX))
                for event in events:
                    start = len(flat)
                    self.row(config, event, flat)
                    inner = event == EVENTLESS or event.startswith(DONE_PREFIX)
                    for t in flat[start:]:
                        arriving = set(t.raises) | (pending.get(config, set()) if inner
                                                    else set())
                        fresh = arriving - pending.setdefault(t.target, set())
                        pending[t.target] |= arriving
                        if t.target not in configs:
                            configs.add(t.target)
                            todo.append(t.target)
                        elif fresh and t.target in done:
                            todo.append(t.target)
            if seen == self.memories or (self.b.problems and any(
                    p.code in ("E-journey-livelock", "E-journey-guards")
                    for p in self.b.problems)):
                out.flat = _drop_dead_memory(flat)
                out.configs = configs
                out.entered = self.entered
                return out


def _drop_dead_memory(flat: list[FlatTransition]) -> list[FlatTransition]:
    """Keep a history update only where a ``resume`` reading it can still be reached.

    SCXML records a state's history on every exit (its completion included); a record no
    later step can read changes no configuration, so it is not written (it would cost a
    memory dict per instance on the hot path).
    """
    readers: dict[str, set[str]] = {}
    for t in flat:
        for key, _ in t.memory_conditions:
            readers.setdefault(key, set()).add(t.source)
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_edges_from((t.source, t.target) for t in flat)
    reach: dict[str, set[str]] = {}
    out: list[FlatTransition] = []
    for t in flat:
        if t.memory_updates:
            if t.target not in reach:
                reach[t.target] = ({t.target} | nx.descendants(g, t.target)
                                   if t.target in g else {t.target})
            kept = tuple((k, v) for k, v in t.memory_updates
                         if readers.get(k, set()) & reach[t.target])
            if kept != t.memory_updates:
                t = replace(t, memory_updates=kept)
        out.append(t)
    return out


def compile_chart(b: Builder) -> Compiled:
    """Run the SCXML algorithm over ``b``'s tree (see the module docstring)."""
    chart = Chart(b.states, b.chart_transitions, b.history_defaults)
    return _Compiler(b, chart).run()

