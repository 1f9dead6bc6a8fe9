"""Journey YAML -> a checked, compiled :class:`Journey` (flat configurations and transitions).

Nested and parallel states are compiled into *configurations*: the set of active leaf states,
written ``leaf`` or ``checkout.kyc.pending+checkout.payment.pending`` for parallel regions.
Every transition of the YAML becomes one :class:`FlatTransition` per configuration it applies
to, with its effects (entered and exited states, deadlines to set and clear, history memory to
record) worked out once here, so that the runtime only looks them up.

Semantics (the usual statechart rules, one transition per event):

* An event is offered to the active leaves in document order, each leaf before its ancestors;
  the first transition whose guard holds fires (others are not tried).
* A transition exits every active state under the nearest common ancestor of its source and
  target, then enters the target (a compound target enters its ``initial`` child, a parallel
  one every region). Other parallel regions keep their state.
* When every region of a parallel state sits in a ``final`` leaf, its ``on_done`` transition
  fires at once.
* ``resume: true`` enters a ``history: true`` state in the configuration it had when last left
  (or its initial configuration if it was never left).
* A state's ``timeout`` is a deadline set when it is entered and cleared when it is left.

Checks (all offenders are listed at once, each with file and line): exactly one initial state
at each level, no unreachable state, no trap state, a final state reachable from every state,
every trigger, guard, action, counter and target defined, guards valid rule expressions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from telcoflow.errors import DefinitionError, JourneyError, Problem
from telcoflow.journeys.models import JourneyFile, StateSpec, TransitionSpec
from telcoflow.loading.source import Document, PathKey, load_document, parse_yaml
from telcoflow.loading.validate import validate_document

__all__ = [
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

#: Triggers of timeouts are ``@timeout:<state path>``; they never come from outside.
TIMEOUT_PREFIX = "@timeout:"
#: Names a guard may use besides context keys and payload fields.
GUARD_BUILTINS = frozenset({"channel", "trigger"})

Guard = Callable[[Mapping[str, Any]], Any]


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
    history: bool
    timeout: float | None
    order: int
    yaml_path: PathKey


@dataclass(frozen=True, slots=True)
class FlatTransition:
    """One transition between two configurations, with every effect precomputed."""

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
    #: The compiled guard (``guard``'s expression), for the hot path.
    check: Guard | None = field(default=None, compare=False, repr=False)
    #: True when the guard reads ``channel``, ``trigger`` or a payload field (then it needs
    #: a scope built per event; otherwise it reads the context as it is).
    check_event: bool = field(default=False, compare=False, repr=False)

    @property
    def label(self) -> str:
        """``source --trigger--> target`` (for messages and test ids)."""
        return f"{self.source} --{self.trigger}--> {self.target}"


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


class _Builder:
    """Collects problems while turning a validated :class:`JourneyFile` into a :class:`Journey`."""

    def __init__(self, spec: JourneyFile, doc: Document) -> None:
        self.spec = spec
        self.doc = doc
        self.problems: list[Problem] = []
        self.states: dict[str, StateNode] = {}
        self.specs: dict[str, StateSpec] = {}
        self.guards: dict[str, Guard] = {}
        self.guard_names: dict[str, frozenset[str]] = {}
        self.payload_fields = frozenset(f for t in spec.triggers.values() for f in t.payload)

    def problem(self, path: PathKey, message: str, code: str) -> None:
        self.problems.append(self.doc.problem(path, message, code))

    # ---- tree

    def add_states(self, states: Mapping[str, StateSpec], parent: str | None,
                   yaml_base: PathKey) -> tuple[str, ...]:
        paths: list[str] = []
        for name, spec in states.items():
            path = f"{parent}.{name}" if parent else name
            ypath = (*yaml_base, "states", name)
            children = self.add_states(spec.states, path, ypath) if spec.states else ()
            kind = "parallel" if spec.parallel else ("compound" if children else "leaf")
            initials = [c for c in children if self.specs[c].initial]
            initial: str | None = None
            if kind == "compound":
                if len(initials) != 1:
                    found = ", ".join(initials) or "none"
                    self.problem(ypath, f"compound state `{path}` needs exactly one initial "
                                 f"child (found {found})", "E-journey-initial")
                initial = initials[0] if initials else (children[0] if children else None)
            node = StateNode(path, parent, kind, children, initial, spec.outcome, spec.final
                             or spec.outcome is not None, spec.history,
                             spec.timeout.after if spec.timeout else None, len(self.states),
                             ypath)
            self.states[path] = node
            self.specs[path] = spec
            paths.append(path)
        return tuple(paths)

    def check_tree(self) -> None:
        for path, node in self.states.items():
            spec = self.specs[path]
            ypath = node.yaml_path
            in_region = self._in_parallel(path)
            if node.kind == "parallel":
                if not node.children:
                    self.problem(ypath, f"parallel state `{path}` has no regions",
                                 "E-journey-parallel")
                for child in node.children:
                    c = self.states[child]
                    if c.kind == "leaf":
                        self.problem(c.yaml_path, f"region `{child}` of parallel state `{path}` "
                                     "must have states", "E-journey-parallel")
                    if self.specs[child].initial:
                        self.problem(c.yaml_path, f"region `{child}` must not be `initial` "
                                     "(every region of a parallel state starts)",
                                     "E-journey-initial")
            elif spec.on_done is not None:
                self.problem((*ypath, "on_done"), f"`on_done` is only for parallel states "
                             f"(`{path}` is not parallel)", "E-journey-on-done")
            if node.kind != "leaf" and (spec.outcome or spec.final):
                self.problem(ypath, f"final state `{path}` cannot have child states",
                             "E-journey-final")
            if spec.outcome is not None and node.parent is not None:
                self.problem((*ypath, "outcome"), f"only top-level states carry an outcome "
                             f"(`{path}` is nested; use `final: true` in a region)",
                             "E-journey-final")
            if spec.final and spec.outcome is None and not in_region:
                self.problem((*ypath, "final"), f"final state `{path}` needs an `outcome` "
                             "(completed, abandoned or rejected)", "E-journey-final")
            if node.final and (spec.on or spec.timeout):
                self.problem(ypath, f"final state `{path}` cannot have transitions or a timeout",
                             "E-journey-final")
            if spec.history and node.kind == "leaf":
                self.problem((*ypath, "history"), f"`history` needs child states (`{path}` is "
                             "a leaf)", "E-journey-history")
        top_initials = [p for p, n in self.states.items() if n.parent is None
                        and self.specs[p].initial]
        if len(top_initials) != 1:
            found = ", ".join(top_initials) or "none"
            self.problem(("states",), f"a journey needs exactly one initial top-level state "
                         f"(found {found})", "E-journey-initial")
        for path, node in self.states.items():
            if node.kind == "parallel":
                regions_final = all(any(self.states[d].final for d in self._descendants(r))
                                    for r in node.children)
                if regions_final and node.children and self.specs[path].on_done is None:
                    self.problem(node.yaml_path, f"parallel state `{path}` has a final state in "
                                 "every region but no `on_done`", "E-journey-on-done")

    def _in_parallel(self, path: str) -> bool:
        parent = self.states[path].parent
        while parent is not None:
            if self.states[parent].kind == "parallel":
                return True
            parent = self.states[parent].parent
        return False

    def _descendants(self, path: str) -> list[str]:
        out = []
        for child in self.states[path].children:
            out.append(child)
            out.extend(self._descendants(child))
        return out

    def resolve(self, source: str | None, target: str) -> str | None:
        """Resolve ``target`` from ``source``: sibling first, then up the tree, then absolute."""
        scope = self.states[source].parent if source else None
        while scope is not None:
            candidate = f"{scope}.{target}"
            if candidate in self.states:
                return candidate
            scope = self.states[scope].parent
        return target if target in self.states else None

    # ---- references

    def compile_guards(self) -> None:
        if not self.spec.guards:
            return
        from telcoflow.rules.expressions import compile_expression

        allowed = set(self.spec.context) | GUARD_BUILTINS
        for payload in self.spec.triggers.values():
            allowed.update(payload.payload)
        for name, source in self.spec.guards.items():
            line, col = self.doc.locate(("guards", name))
            try:
                expr = compile_expression(source, file=self.doc.file, line=line, column=col,
                                          allowed_names=sorted(allowed))
            except DefinitionError as exc:
                self.problems.extend(exc.problems)
                continue
            self.guards[name] = expr.fn
            self.guard_names[name] = frozenset(expr.names)

    def check_transition(self, t: TransitionSpec, source: str, ypath: PathKey) -> str | None:
        target = self.resolve(source, t.target)
        if target is None:
            self.problem((*ypath, "target") if self._is_mapping(ypath) else ypath,
                         f"unknown target state `{t.target}` (from `{source}`)",
                         "E-journey-target")
        if t.guard is not None and t.guard not in self.spec.guards:
            self.problem((*ypath, "guard"), f"unknown guard `{t.guard}` (define it under "
                         "`guards`)", "E-journey-guard")
        for action in t.actions:
            if action not in self.spec.actions:
                self.problem((*ypath, "actions"), f"unknown action `{action}` (list it under "
                             "`actions` and register it in code)", "E-journey-action")
        for counter in t.increment:
            if not isinstance(self.spec.context.get(counter), int):
                self.problem((*ypath, "increment"), f"counter `{counter}` must be an integer "
                             "in `context`", "E-journey-counter")
        if t.resume and target is not None and not self.states[target].history:
            self.problem((*ypath, "resume"), f"`resume` needs a target with `history: true` "
                         f"(`{target}` has none)", "E-journey-history")
        return target

    def _is_mapping(self, ypath: PathKey) -> bool:
        cur: Any = self.doc.data
        for part in ypath:
            try:
                cur = cur[part]
            except (KeyError, IndexError, TypeError):
                return False
        return isinstance(cur, dict)

    def transition_path(self, base: PathKey, trigger: str, i: int) -> PathKey:
        cur: Any = self.doc.data
        for part in (*base, "on", trigger):
            cur = cur.get(part) if isinstance(cur, dict) else None
        return (*base, "on", trigger, i) if isinstance(cur, list) else (*base, "on", trigger)

    def check_references(self) -> dict[str, list[tuple[str, TransitionSpec, str | None]]]:
        """Per state: (trigger, spec, resolved target) in declaration order."""
        declared: dict[str, list[tuple[str, TransitionSpec, str | None]]] = {}
        for path, spec in self.specs.items():
            base = self.states[path].yaml_path
            rows: list[tuple[str, TransitionSpec, str | None]] = []
            for trigger, items in spec.on.items():
                if trigger not in self.spec.triggers:
                    self.problem((*base, "on", trigger), f"unknown trigger `{trigger}` (declare "
                                 "it under `triggers`)", "E-journey-trigger")
                for i, t in enumerate(items):
                    target = self.check_transition(t, path, self.transition_path(base, trigger, i))
                    rows.append((trigger, t, target))
            if spec.timeout is not None:
                if spec.timeout.guard is not None:
                    self.problem((*base, "timeout", "guard"), "a timeout cannot have a guard "
                                 "(a deadline always fires)", "E-journey-timeout")
                target = self.check_transition(spec.timeout, path, (*base, "timeout"))
                rows.append((TIMEOUT_PREFIX + path, spec.timeout, target))
            if spec.on_done is not None:
                target = self.check_transition(spec.on_done, path, (*base, "on_done"))
                rows.append(("@done", spec.on_done, target))
            declared[path] = rows
        for name in self.spec.channels:
            if name == "system":
                self.problem(("channels",), "`system` is reserved for timeouts",
                             "E-journey-channel")
        return declared


# --------------------------------------------------------------------------- semantics


class _Semantics:
    """Entry, exit and completion over the state tree (shared by build and checks)."""

    def __init__(self, states: Mapping[str, StateNode], on_done: Mapping[str, tuple[
            TransitionSpec, str]]) -> None:
        self.states = states
        self.on_done = on_done

    def ancestors(self, path: str) -> list[str]:
        """``path`` and its ancestors, innermost first."""
        out = []
        node: str | None = path
        while node is not None:
            out.append(node)
            node = self.states[node].parent
        return out

    def default_entry(self, path: str) -> tuple[list[str], list[str]]:
        """(entered states, leaves) when entering ``path`` by default."""
        node = self.states[path]
        if node.kind == "leaf":
            return [path], [path]
        entered, leaves = [path], []
        children = node.children if node.kind == "parallel" else (
            (node.initial,) if node.initial else ())
        for child in children:
            e, lv = self.default_entry(child)
            entered += e
            leaves += lv
        return entered, leaves

    def sort(self, paths: Iterable[str]) -> list[str]:
        return sorted(set(paths), key=lambda p: self.states[p].order)

    def config(self, leaves: Iterable[str]) -> str:
        """The configuration id (interned: instances share the compiled string)."""
        return sys.intern("+".join(self.sort(leaves)))

    def active(self, leaves: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for leaf in leaves:
            out.update(self.ancestors(leaf))
        return out

    def under(self, path: str, scope: str | None) -> bool:
        """True when ``path`` is a proper descendant of ``scope`` (None: the root)."""
        return scope is None or (path != scope and path.startswith(scope + "."))

    def step(self, leaves: list[str], source: str, target: str,
             resume: tuple[str, ...] | None) -> tuple[list[str], list[str], list[str]]:
        """Take one transition; return (new leaves, exited states, entered states)."""
        src_anc = self.ancestors(source)[1:]
        tgt_anc = set(self.ancestors(target)[1:])
        domain = next((a for a in src_anc if a in tgt_anc), None)
        active = self.active(leaves)
        exited = [s for s in active if self.under(s, domain)]
        kept = [leaf for leaf in leaves if not self.under(leaf, domain)]
        chain = [a for a in reversed(self.ancestors(target)) if self.under(a, domain)]
        entered: list[str] = []
        new_leaves: list[str] = []
        for i, state in enumerate(chain):
            node = self.states[state]
            if state == target:
                if resume is not None:
                    entered += self.active(resume) - set(self.ancestors(state)[1:])
                    new_leaves += list(resume)
                else:
                    e, lv = self.default_entry(state)
                    entered += e
                    new_leaves += lv
            else:
                entered.append(state)
                if node.kind == "parallel":
                    for region in node.children:
                        if region != chain[i + 1]:
                            e, lv = self.default_entry(region)
                            entered += e
                            new_leaves += lv
        return self.sort(kept + new_leaves), exited, self.sort(entered)

    def done_parallel(self, leaves: list[str]) -> str | None:
        """The innermost active parallel state whose regions are all final, if any."""
        active = self.active(leaves)
        leafset = set(leaves)
        for state in sorted(active, key=lambda p: -p.count(".")):
            node = self.states[state]
            if node.kind != "parallel" or state not in self.on_done:
                continue
            if all(any(leaf in leafset and self.states[leaf].final and self.under(leaf, region)
                       for leaf in leafset) for region in node.children):
                return state
        return None


@dataclass
class _Effect:
    leaves: list[str]
    exited: list[str]
    entered: list[str]
    actions: list[str]
    emit: list[str]
    increment: list[str]
    memory: dict[str, str]


def _apply(sem: _Semantics, leaves: list[str], source: str, spec: TransitionSpec, target: str,
           resume: tuple[str, ...] | None) -> _Effect:
    """Take a transition and any ``on_done`` it triggers; net effects."""
    eff = _Effect(list(leaves), [], [], [], [], [], {})
    src, tgt, sp, res = source, target, spec, resume
    for step in range(len(sem.states) + 1):
        before = eff.leaves
        new, exited, entered = sem.step(before, src, tgt, res)
        for state in exited:
            # history is what an interruption leaves; a completed parallel state keeps none
            if sem.states[state].history and step == 0:
                eff.memory[state] = sem.config(lf for lf in before if sem.under(lf, state))
        eff.exited += exited
        eff.entered = [s for s in eff.entered if s not in exited] + entered
        eff.actions += sp.actions
        eff.emit += sp.emit
        eff.increment += sp.increment
        eff.leaves = new
        done = sem.done_parallel(new)
        if done is None:
            break
        sp, tgt = sem.on_done[done]
        src, res = done, None
    return eff


def _flatten(b: _Builder, declared: Mapping[str, list[tuple[str, TransitionSpec, str | None]]],
             ) -> tuple[str, list[FlatTransition], set[str]]:
    """Explore configurations from the initial one; return (initial, transitions, configs)."""
    states = b.states
    on_done = {p: (spec, tgt) for p, rows in declared.items() for trig, spec, tgt in rows
               if trig == "@done" and tgt is not None}
    sem = _Semantics(states, on_done)
    top = [p for p, n in states.items() if n.parent is None and b.specs[p].initial]
    if not top:
        return "", [], set()
    _, init_leaves = sem.default_entry(top[0])
    initial = sem.config(init_leaves)
    memories: dict[str, set[str]] = {p: set() for p, n in states.items() if n.history}
    flat: list[FlatTransition] = []
    while True:
        flat.clear()
        configs = {initial}
        todo = [initial]
        seen_mem = {k: set(v) for k, v in memories.items()}
        while todo:
            config = todo.pop()
            leaves = config.split("+")
            if len(leaves) == 1 and states[leaves[0]].outcome is not None:
                continue
            # innermost states first; at equal depth, document order
            owners = sorted(sem.active(leaves), key=lambda p: (-p.count("."), states[p].order))
            for owner in owners:
                for trigger, spec, target in declared.get(owner, ()):
                    if target is None or trigger == "@done":
                        continue
                    options: list[tuple[str | None, tuple[str, ...] | None]] = [(None, None)]
                    if spec.resume:
                        options = [(m, tuple(m.split("+")))
                                   for m in sorted(memories.get(target, ()))]
                        options.append((None, None))
                    for mem, resume in options:
                        eff = _apply(sem, leaves, owner, spec, target, resume)
                        new_config = sem.config(eff.leaves)
                        for k, v in eff.memory.items():
                            memories[k].add(v)
                        before = set(sem.active(leaves))
                        after = sem.active(eff.leaves)
                        clear = frozenset(s for s in eff.exited if s in before
                                          and states[s].timeout is not None)
                        dl = tuple((s, states[s].timeout or 0.0) for s in eff.entered
                                   if s in after and states[s].timeout is not None)
                        flat.append(FlatTransition(
                            len(flat), config, trigger, new_config, spec.guard,
                            tuple(eff.actions), tuple(eff.emit), tuple(eff.increment),
                            owner, target if spec.resume else None, mem,
                            tuple(sorted(eff.memory.items())), clear,
                            tuple(sorted(dl, key=lambda d: (d[1], d[0]))),
                            all(s in clear for s in before if states[s].timeout is not None),
                            states[new_config].outcome if new_config in states else None,
                            b.guards.get(spec.guard) if spec.guard else None,
                            bool(b.guard_names.get(spec.guard or "", frozenset()) & (
                                GUARD_BUILTINS | b.payload_fields))))
                        if new_config not in configs:
                            configs.add(new_config)
                            todo.append(new_config)
        if seen_mem == memories:
            return initial, flat, configs


def _graph_checks(b: _Builder, initial: str, flat: Sequence[FlatTransition],
                  configs: set[str]) -> dict[str, str]:
    states = b.states
    outcomes = {c: states[c].outcome or "" for c in configs
                if "+" not in c and states[c].outcome is not None}
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(configs)
    g.add_edges_from((t.source, t.target) for t in flat)
    active: set[str] = set()
    for c in configs:
        for leaf in c.split("+"):
            cur: str | None = leaf
            while cur is not None:
                active.add(cur)
                cur = states[cur].parent
    for path, state in states.items():
        if path not in active:
            b.problem(state.yaml_path, f"state `{path}` is unreachable from the initial state",
                      "E-journey-unreachable")
    can_finish: set[str] = set()
    for final in outcomes:
        can_finish |= nx.ancestors(g, final) | {final}
    for c in sorted(configs, key=lambda c: [states[s].order for s in c.split("+")]):
        if c in outcomes:
            continue
        where = states[c.split("+")[0]].yaml_path
        if g.out_degree(c) == 0:
            b.problem(where, f"trap state `{c}`: not final and no transition leaves it",
                      "E-journey-trap")
        elif c not in can_finish:
            b.problem(where, f"no final state is reachable from `{c}`", "E-journey-no-final")
    if not outcomes and initial:
        b.problem(("states",), "the journey has no reachable final state (a top-level state "
                  "with an `outcome`)", "E-journey-no-final")
    return outcomes


def _build(spec: JourneyFile, doc: Document) -> Journey:
    b = _Builder(spec, doc)
    b.add_states(spec.states, None, ())
    b.check_tree()
    b.compile_guards()
    declared = b.check_references()
    if any(p.code in ("E-journey-initial", "E-journey-parallel") for p in b.problems):
        # no single start, or a parallel state without regions: nothing to flatten, so the
        # graph checks cannot run
        raise JourneyError(b.problems)
    initial, flat, configs = _flatten(b, declared)
    outcomes = _graph_checks(b, initial, flat, configs)
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
    init_active = set(_Semantics(b.states, {}).active(initial.split("+")))
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
                       for trig, sp, tgt in rows if tgt is not None),
        table={c: {k: tuple(v) for k, v in row.items()} for c, row in table.items()},
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
    from telcoflow.loading.source import iter_yaml_files
    from telcoflow.loading.validate import load_each

    return load_each(iter_yaml_files(list(paths)), load_journey, error=JourneyError)


def validate_journey_files(files: Sequence[Path]) -> list[Journey]:
    """Validator for ``telcoflow validate`` (``kind: journey``); see :func:`load_journeys`."""
    return load_journeys(list(files))
