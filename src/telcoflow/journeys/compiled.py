"""The compiled journey: :class:`Journey` (one checked, flattened version of a definition).

Built by :mod:`telcoflow.journeys.loader`; read by the runtime, the paths, the metrics and
the diagrams. Immutable once built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import Problem
from telcoflow.journeys.drawing import to_html
from telcoflow.journeys.models import JourneyFile, TransitionSpec
from telcoflow.journeys.nodes import FlatTransition, Guard, StateNode
from telcoflow.loading.source import Document

with requires("journeys", "journeys"):
    import networkx as nx

__all__ = ["Journey"]


@dataclass(eq=False)
class Journey:
    """A checked, compiled journey definition (one version). Immutable once built."""

    id: str
    version: int
    title: str | None
    file: str
    channels: frozenset[str]
    context: Mapping[str, Any]
    triggers: Mapping[str, tuple[str, ...]]
    guards: Mapping[str, Guard]
    guard_sources: Mapping[str, str]
    actions: tuple[str, ...]
    states: Mapping[str, StateNode]
    initial: str
    configurations: tuple[str, ...]
    outcomes: Mapping[str, str]
    transitions: tuple[FlatTransition, ...]
    initial_deadlines: tuple[tuple[str, float], ...]
    migrations: Mapping[int, Mapping[str, str]]
    spec: JourneyFile
    #: Transitions as written: (source state, trigger, spec, resolved target), document order.
    declared: tuple[tuple[str, str, TransitionSpec, str], ...] = ()
    document: Document | None = None
    #: configuration -> trigger -> candidate transitions in the order they are tried.
    table: dict[str, dict[str, tuple[FlatTransition, ...]]] = field(default_factory=dict)
    #: Lint findings at level ``warning`` (see :mod:`telcoflow.journeys.lint`).
    warnings: tuple[Problem, ...] = ()
    #: Internal events still queued after the initial entry (the runtime takes them).
    initial_raises: tuple[str, ...] = ()
    #: History remembered while settling the initial entry.
    initial_memory: tuple[tuple[str, str], ...] = ()
    _graph: Any = None

    @property
    def key(self) -> tuple[str, int]:
        """``(id, version)``."""
        return (self.id, self.version)

    def leaves(self, configuration: str) -> tuple[str, ...]:
        """The active leaf states of a configuration."""
        return tuple(configuration.split("+"))

    def active_states(self, configuration: str) -> tuple[str, ...]:
        """Every active state (leaves and their ancestors) of a configuration."""
        out: dict[str, None] = {}
        for leaf in self.leaves(configuration):
            node: str | None = leaf
            while node is not None:
                out[node] = None
                node = self.states[node].parent
        return tuple(sorted(out, key=lambda s: self.states[s].order))

    def is_final(self, configuration: str) -> bool:
        """True when the configuration is a top-level final state."""
        return configuration in self.outcomes

    def graph(self) -> nx.MultiDiGraph[str]:
        """Configurations as nodes, transitions as edges (``key`` = transition index)."""
        if self._graph is None:
            g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
            g.add_nodes_from(self.configurations)
            for t in self.transitions:
                g.add_edge(t.source, t.target, key=t.index, trigger=t.trigger, transition=t)
            self._graph = g
        graph: nx.MultiDiGraph[str] = self._graph
        return graph

    def user_triggers(self) -> tuple[str, ...]:
        """Declared triggers (timeouts excluded), sorted."""
        return tuple(sorted(self.triggers))

    def _repr_html_(self) -> str:
        # the drawing (SVG inside HTML); no _repr_markdown_: JupyterLab would prefer it and
        # show Mermaid source instead of the drawing
        return to_html(self)

    def __repr__(self) -> str:
        return (f"Journey({self.id!r}, version={self.version}, "
                f"configurations={len(self.configurations)}, transitions={len(self.transitions)})")
