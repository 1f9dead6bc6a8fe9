"""The process graph: steps that declare what they need and provide, checked once, run often.

Build a graph with :class:`GraphBuilder` (add, replace or remove steps; hook before or after
any step), then :meth:`GraphBuilder.build` checks it once -- cycles, missing inputs, two
providers of one output, every offender named in one :class:`~telcoflow.errors.GraphError` --
and precomputes a flat execution plan. :meth:`ProcessGraph.run` then walks that plan for each
batch: no graph traversal, no lookups, only the steps and their hooks.

Hooks are called with keyword arguments only and must accept ``**future_kwargs``::

    def audit(*, step: str, batch: Batch, **future_kwargs: object) -> None: ...

``after`` hooks also receive ``elapsed`` (seconds spent in the step for this batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from telcoflow import tracing as _tracing
from telcoflow._optional import requires
from telcoflow.errors import GraphError, Problem
from telcoflow.money import money_context

with requires("billing", "the real-time process graph"):
    import networkx as nx

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.trace import Tracer

    from telcoflow.billing.batch import Batch
    from telcoflow.billing.kpis import Kpis

__all__ = ["GraphBuilder", "Hook", "ProcessGraph", "Step"]

Hook = Callable[..., None]
ANY_STEP = "*"


@runtime_checkable
class Step(Protocol):
    """A step of the graph: a small object configured in ``__init__``, working in ``__call__``.

    ``needs`` and ``provides`` name facts about the batch (``"rated"``, ``"taxed"``...).
    """

    @property
    def name(self) -> str:
        """The step's unique name."""
        ...

    @property
    def needs(self) -> tuple[str, ...]:
        """Facts this step reads."""
        ...

    @property
    def provides(self) -> tuple[str, ...]:
        """Facts this step establishes."""
        ...

    def __call__(self, batch: Batch) -> None:
        """Process every item of ``batch``."""
        ...


@contextmanager
def _networkx_errors(what: str) -> Iterator[None]:
    """Translate :mod:`networkx` errors into :class:`GraphError` at the boundary."""
    try:
        yield
    except nx.NetworkXException as exc:
        raise GraphError([Problem(f"{what}: {exc}", "E-graph")]) from exc


@dataclass(frozen=True, slots=True)
class _PlanEntry:
    step: Step
    before: tuple[Hook, ...]
    after: tuple[Hook, ...]


class GraphBuilder:
    """A mutable description of a process graph; :meth:`build` checks and freezes it.

    ``inputs`` are the facts available before any step runs (default ``("events",)``).
    """

    def __init__(self, steps: Iterable[Step] = (), *, inputs: Sequence[str] = ("events",)):
        self._steps: list[Step] = []
        self._inputs = tuple(inputs)
        self._before: dict[str, list[Hook]] = {}
        self._after: dict[str, list[Hook]] = {}
        for step in steps:
            self.add(step)

    @property
    def step_names(self) -> list[str]:
        """Names of the steps, in the order they were added."""
        return [s.name for s in self._steps]

    def _index(self, name: str) -> int:
        for i, s in enumerate(self._steps):
            if s.name == name:
                return i
        raise GraphError([Problem(
            f"no step named {name!r} (steps: {', '.join(self.step_names)})",
            "E-graph-unknown-step",
        )])

    def add(self, step: Step) -> GraphBuilder:
        """Add a step (its position in the plan follows from what it needs and provides)."""
        if any(s.name == step.name for s in self._steps):
            raise GraphError([Problem(
                f"a step named {step.name!r} already exists; use replace()",
                "E-graph-duplicate-step",
            )])
        self._steps.append(step)
        return self

    def replace(self, name: str, step: Step) -> GraphBuilder:
        """Replace the step called ``name`` by ``step`` (hooks on ``name`` stay)."""
        self._steps[self._index(name)] = step
        if step.name != name:
            for hooks in (self._before, self._after):
                if name in hooks:
                    hooks[step.name] = hooks.pop(name)
        return self

    def remove(self, name: str) -> GraphBuilder:
        """Remove the step called ``name`` and its hooks."""
        del self._steps[self._index(name)]
        self._before.pop(name, None)
        self._after.pop(name, None)
        return self

    def before(self, step: str, hook: Hook) -> GraphBuilder:
        """Call ``hook(step=..., batch=..., **future_kwargs)`` before ``step`` (``"*"``: all)."""
        if step != ANY_STEP:
            self._index(step)
        self._before.setdefault(step, []).append(hook)
        return self

    def after(self, step: str, hook: Hook) -> GraphBuilder:
        """Call ``hook(step=..., batch=..., elapsed=..., **future_kwargs)`` after ``step``."""
        if step != ANY_STEP:
            self._index(step)
        self._after.setdefault(step, []).append(hook)
        return self

    def copy(self) -> GraphBuilder:
        """An independent builder with the same steps and hooks."""
        other = GraphBuilder(self._steps, inputs=self._inputs)
        other._before = {k: list(v) for k, v in self._before.items()}
        other._after = {k: list(v) for k, v in self._after.items()}
        return other

    def build(self, *, kpis: Kpis | None = None) -> ProcessGraph:
        """Check the graph (every problem at once) and precompute its execution plan."""
        problems: list[Problem] = []
        providers: dict[str, str] = dict.fromkeys(self._inputs, "<input>")
        for step in self._steps:
            for fact in step.provides:
                if fact in providers:
                    problems.append(Problem(
                        f"steps {providers[fact]!r} and {step.name!r} both provide {fact!r}",
                        "E-graph-two-providers", path=f"$.steps.{step.name}.provides",
                    ))
                else:
                    providers[fact] = step.name
        graph: nx.DiGraph[str] = nx.DiGraph()
        order = {s.name: i for i, s in enumerate(self._steps)}
        for step in self._steps:
            graph.add_node(step.name)
            for fact in step.needs:
                provider = providers.get(fact)
                if provider is None:
                    problems.append(Problem(
                        f"step {step.name!r} needs {fact!r}, which no step provides "
                        f"(provided: {', '.join(sorted(providers))})",
                        "E-graph-missing-input", path=f"$.steps.{step.name}.needs",
                    ))
                elif provider != "<input>":
                    graph.add_edge(provider, step.name)
        with _networkx_errors("checking the graph for cycles"):
            cycles = list(nx.simple_cycles(graph))
        for found in cycles:
            first = min(range(len(found)), key=lambda i: order[found[i]])
            cycle = found[first:] + found[:first]  # start at the first-added step
            problems.append(Problem(
                "cycle between steps " + " -> ".join(repr(n) for n in [*cycle, cycle[0]]),
                "E-graph-cycle",
            ))
        if problems:
            raise GraphError(problems)
        with _networkx_errors("ordering the steps"):
            names = list(nx.lexicographical_topological_sort(graph, key=order.__getitem__))
        by_name = {s.name: s for s in self._steps}
        any_before = tuple(self._before.get(ANY_STEP, ()))
        any_after = tuple(self._after.get(ANY_STEP, ()))
        plan = tuple(
            _PlanEntry(
                by_name[n],
                any_before + tuple(self._before.get(n, ())),
                tuple(self._after.get(n, ())) + any_after,
            )
            for n in names
        )
        return ProcessGraph(plan, self.copy(), kpis)


class ProcessGraph:
    """A checked graph with its flat execution plan; run it on as many batches as needed."""

    __slots__ = ("_builder", "_plan", "kpis")

    def __init__(self, plan: tuple[_PlanEntry, ...], builder: GraphBuilder,
                 kpis: Kpis | None) -> None:
        self._plan = plan
        self._builder = builder
        self.kpis = kpis

    @property
    def order(self) -> list[str]:
        """Step names in execution order."""
        return [e.step.name for e in self._plan]

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        for e in self._plan:
            if e.step.name == name:
                return e.step
        raise GraphError([Problem(f"no step named {name!r} (steps: {', '.join(self.order)})",
                                  "E-graph-unknown-step")])

    def builder(self) -> GraphBuilder:
        """A builder with this graph's steps and hooks, to derive a changed graph."""
        return self._builder.copy()

    def run(self, batch: Batch) -> Batch:
        """Run every step of the plan on ``batch``, with hooks and per-step timing, in the
        library's money context (:func:`~telcoflow.money.money_context`)."""
        found = _tracing.tracer() if _tracing.ENABLED else None
        with money_context():
            if found is not None:
                return self._run_traced(batch, found)
            return self._run(batch)

    def _run_traced(self, batch: Batch, tracer: Tracer) -> Batch:
        """:meth:`_run` with a ``telcoflow.step <name>`` span around each step
        (:mod:`telcoflow.tracing`)."""
        kpis = self.kpis
        for entry in self._plan:
            step = entry.step
            name = step.name
            for hook in entry.before:
                hook(step=name, batch=batch)
            with tracer.start_as_current_span(f"telcoflow.step {name}",
                                              attributes={"telcoflow.step.name": name}):
                t0 = perf_counter()
                step(batch)
                elapsed = perf_counter() - t0
            if kpis is not None:
                kpis.observe_step(name, elapsed)
            for hook in entry.after:
                hook(step=name, batch=batch, elapsed=elapsed)
        return batch

    def _run(self, batch: Batch) -> Batch:
        kpis = self.kpis
        for entry in self._plan:
            step = entry.step
            for hook in entry.before:
                hook(step=step.name, batch=batch)
            t0 = perf_counter()
            step(batch)
            elapsed = perf_counter() - t0
            if kpis is not None:
                kpis.observe_step(step.name, elapsed)
            for hook in entry.after:
                hook(step=step.name, batch=batch, elapsed=elapsed)
        return batch

    def describe(self) -> list[dict[str, Any]]:
        """The plan as data: each step's name, needs and provides, in order."""
        return [
            {"name": e.step.name, "needs": list(e.step.needs), "provides": list(e.step.provides)}
            for e in self._plan
        ]
