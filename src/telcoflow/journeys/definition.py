"""Journey YAML -> a checked, compiled :class:`Journey` (flat configurations and steps).

Loading runs in separate modules: :mod:`.builder` (the state tree and the structural rules),
:mod:`.compiler` (the SCXML algorithm of :mod:`.semantics` over every reachable configuration)
and :mod:`.lint` (business checks with levels). This module holds the compiled
:class:`Journey` and the entry points.

Nested and parallel states are compiled into *configurations*: the set of active leaf states,
written ``leaf`` or ``checkout.kyc.pending+checkout.payment.pending`` for parallel regions.
Each event in each configuration becomes one or more :class:`FlatTransition` candidates with
every effect worked out (entered and exited states, deadlines, history memory), so that the
runtime only looks them up. The semantics are the W3C SCXML algorithm; see docs/journeys.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from telcoflow.errors import DefinitionError, JourneyError, Problem
from telcoflow.journeys.builder import GUARD_BUILTINS, Builder
from telcoflow.journeys.compiler import compile_chart
from telcoflow.journeys.lint import run_checks
from telcoflow.journeys.models import JourneyFile, TransitionSpec
from telcoflow.journeys.nodes import (
    DONE_PREFIX,
    EVENTLESS,
    TIMEOUT_PREFIX,
    FlatTransition,
    Guard,
    StateNode,
)
from telcoflow.loading.source import Document, iter_yaml_files, load_document, parse_yaml
from telcoflow.loading.validate import load_each, validate_document

__all__ = [
    "DONE_PREFIX",
    "EVENTLESS",
    "GUARD_BUILTINS",
    "TIMEOUT_PREFIX",
    "FlatTransition",
    "Guard",
    "Journey",
    "StateNode",
    "load_journey",
    "load_journeys",
    "parse_journey",
    "validate_journey_files",
]

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

    def _repr_markdown_(self) -> str:
        from telcoflow.journeys.diagrams import to_mermaid

        return f"**{self.id}** v{self.version}\n\n```mermaid\n{to_mermaid(self)}\n```\n"

    def _repr_html_(self) -> str:
        from telcoflow.journeys.diagrams import to_html

        return to_html(self)

    def __repr__(self) -> str:
        return (f"Journey({self.id!r}, version={self.version}, "
                f"configurations={len(self.configurations)}, transitions={len(self.transitions)})")


# --------------------------------------------------------------------------- building


def _build(spec: JourneyFile, doc: Document) -> Journey:
    b = Builder(spec, doc)
    b.add_states(spec.states, None, ())
    b.check_tree()
    b.compile_guards()
    declared = b.check_references()
    if any(p.code in ("E-journey-initial", "E-journey-parallel") for p in b.problems):
        # no single start, or a parallel state without regions: nothing to compile, so the
        # graph checks cannot run
        raise JourneyError(b.problems)
    compiled = compile_chart(b)
    initial, flat, configs = compiled.initial, compiled.flat, compiled.configs
    outcomes, warnings = run_checks(b, initial, flat, configs)
    migrations: dict[int, dict[str, str]] = {}
    for i, m in enumerate(spec.migrations):
        for old, new in m.states.items():
            if new not in b.states or b.states[new].kind != "leaf":
                b.problem(("migrations", i, "states", old), f"migration target `{new}` is not "
                          f"a leaf state of version {spec.version}", "E-journey-migration")
        migrations[m.from_version] = dict(m.states)
    if b.problems:
        raise JourneyError(b.problems)
    table: dict[str, dict[str, list[FlatTransition]]] = {c: {} for c in configs}
    for t in flat:
        table[t.source].setdefault(t.trigger, []).append(t)
    ordered = tuple(sorted(configs, key=lambda c: [b.states[s].order for s in c.split("+")]))
    init_active: set[str] = set()
    for leaf in initial.split("+"):
        node: str | None = leaf
        while node is not None:
            init_active.add(node)
            node = b.states[node].parent
    return Journey(
        id=spec.id, version=spec.version, title=spec.title, file=doc.file,
        channels=frozenset(spec.channels), context=dict(spec.context),
        triggers={k: v.payload for k, v in spec.triggers.items()},
        guards=b.guards, guard_sources=dict(spec.guards), actions=spec.actions,
        states=b.states, initial=initial, configurations=ordered, outcomes=outcomes,
        transitions=tuple(flat),
        initial_deadlines=tuple((s, b.states[s].timeout or 0.0) for s in b.states
                                if s in init_active and b.states[s].timeout is not None),
        migrations=migrations, spec=spec, document=doc,
        declared=tuple((src, trig, sp, tgt) for src, rows in declared.items()
                       for trig, sp, tgts in rows if tgts is not None
                       for tgt in (tgts or (src,))),
        table={c: {k: tuple(v) for k, v in row.items()} for c, row in table.items()},
        warnings=tuple(warnings), initial_raises=compiled.initial_raises,
        initial_memory=compiled.initial_memory,
    )


# --------------------------------------------------------------------------- entry points


def parse_journey(text: str, file: str = "<string>") -> Journey:
    """Parse, validate, check and compile a journey from YAML text.

    Raises :class:`~telcoflow.errors.JourneyError` listing every problem with file and line.
    """
    return _from_document(parse_yaml(text, file))


def load_journey(path: str | Path) -> Journey:
    """Load, check and compile one journey file (see :func:`parse_journey`)."""
    return _from_document(load_document(path))


def _from_document(doc: Document) -> Journey:
    try:
        spec = validate_document(doc, JourneyFile)
    except JourneyError:
        raise
    except DefinitionError as exc:
        raise JourneyError(exc.problems) from None
    return _build(spec, doc)


def load_journeys(paths: Sequence[str | Path]) -> list[Journey]:
    """Load every journey file under ``paths``; all problems of all files raised together."""
    return load_each(iter_yaml_files(list(paths)), load_journey, error=JourneyError)


def validate_journey_files(files: Sequence[Path]) -> list[Journey]:
    """Validator for ``telcoflow validate`` (``kind: journey``); see :func:`load_journeys`."""
    return load_journeys(list(files))
