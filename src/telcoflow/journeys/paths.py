"""Test paths from a journey's graph: the shortest way to every state, and a transition cover.

Paths are searched over (configuration, history memory) pairs, so that a ``resume`` edge is
only taken when the memory it needs can really be there. Guards are not evaluated here: the
test that runs a path supplies payloads that make the guards of its steps hold (see
:func:`telcoflow.testing.journeys.run_journey_path`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from telcoflow.journeys.definition import (
    DONE_PREFIX,
    EVENTLESS,
    TIMEOUT_PREFIX,
    FlatTransition,
    Journey,
)

__all__ = ["JourneyPath", "PathStep", "shortest_paths", "transition_cover", "uncoverable"]

_Memory = tuple[tuple[str, str], ...]
_Node = tuple[str, _Memory]


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of a path: send ``trigger`` in ``source``, expect ``target``."""

    trigger: str
    source: str
    target: str
    guard: str | None
    index: int

    @property
    def is_timeout(self) -> bool:
        """True when the step is a deadline firing (``@timeout:<state>``)."""
        return self.trigger.startswith(TIMEOUT_PREFIX)

    @property
    def timeout_state(self) -> str | None:
        """The state whose deadline fires, for a timeout step."""
        return self.trigger[len(TIMEOUT_PREFIX):] if self.is_timeout else None


@dataclass(frozen=True, slots=True)
class JourneyPath:
    """A sequence of steps from the initial state; ``goal`` names what it reaches or covers."""

    journey_id: str
    version: int
    goal: str
    steps: tuple[PathStep, ...]

    @property
    def id(self) -> str:
        """A readable id (for pytest parameters)."""
        return f"{self.journey_id}-v{self.version}:{self.goal}"

    @property
    def final_state(self) -> str | None:
        """Where the path ends (None for the empty path)."""
        return self.steps[-1].target if self.steps else None

    def triggers(self) -> list[str]:
        """The triggers of the path, in order."""
        return [s.trigger for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[PathStep]:
        return iter(self.steps)


def _internal(t: FlatTransition) -> bool:
    """Steps the journey takes itself (``@always``, ``done.state.*``): not sent by a path."""
    return t.trigger == EVENTLESS or t.trigger.startswith(DONE_PREFIX)


def _step(t: FlatTransition) -> PathStep:
    return PathStep(t.trigger, t.source, t.target, t.guard, t.index)


def _search(journey: Journey) -> tuple[dict[_Node, tuple[_Node, FlatTransition] | None],
                                       list[_Node]]:
    start: _Node = (journey.initial, ())
    parent: dict[_Node, tuple[_Node, FlatTransition] | None] = {start: None}
    order = [start]
    queue = deque([start])
    while queue:
        node = queue.popleft()
        config, memory = node
        mem = dict(memory)
        for candidates in journey.table.get(config, {}).values():
            for t in candidates:
                if not t.memory_allows(mem) or _internal(t):
                    continue
                new_mem = memory
                if t.memory_updates:
                    new_mem = tuple(sorted({**mem, **dict(t.memory_updates)}.items()))
                nxt = (t.target, new_mem)
                if nxt not in parent:
                    parent[nxt] = (node, t)
                    order.append(nxt)
                    queue.append(nxt)
    return parent, order


def _path_to(parent: dict[_Node, tuple[_Node, FlatTransition] | None],
             node: _Node) -> list[PathStep]:
    steps: list[PathStep] = []
    link = parent[node]
    while link is not None:
        node, t = link
        steps.append(_step(t))
        link = parent[node]
    steps.reverse()
    return steps


def shortest_paths(journey: Journey) -> list[JourneyPath]:
    """One shortest path (fewest events) to every reachable configuration."""
    parent, order = _search(journey)
    seen: set[str] = set()
    out = []
    for node in order:
        if node[0] in seen:
            continue
        seen.add(node[0])
        out.append(JourneyPath(journey.id, journey.version, node[0],
                               tuple(_path_to(parent, node))))
    return out


def _cover(journey: Journey) -> tuple[list[JourneyPath], list[FlatTransition]]:
    parent, order = _search(journey)
    first: dict[int, list[PathStep]] = {}
    for node in order:
        config, memory = node
        mem = dict(memory)
        for candidates in journey.table.get(config, {}).values():
            for t in candidates:
                if t.index in first:
                    continue
                if not t.memory_allows(mem) or _internal(t):
                    continue
                first[t.index] = [*_path_to(parent, node), _step(t)]
    missing = [t for t in journey.transitions if t.index not in first and not _internal(t)]
    paths = sorted(first.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    kept: list[tuple[int, list[PathStep]]] = []
    for index, steps in paths:
        if any(other[: len(steps)] == steps for _, other in kept):
            continue  # a longer kept path already covers this one
        kept.append((index, steps))
    kept.sort(key=lambda kv: kv[0])
    out = [JourneyPath(journey.id, journey.version,
                       journey.transitions[i].label.replace(" ", ""), tuple(steps))
           for i, steps in kept]
    return out, missing


def transition_cover(journey: Journey) -> list[JourneyPath]:
    """Paths that together take every coverable transition at least once."""
    return _cover(journey)[0]


def uncoverable(journey: Journey) -> list[FlatTransition]:
    """Transitions no path can take (a ``resume`` whose memory can never be there)."""
    return _cover(journey)[1]
