"""Validated journey YAML -> the state tree and its transitions, with the structural rules.

The rules here are what makes a file a statechart at all (every problem is collected, each
located in the YAML); the business checks (reachability, traps, finishing) are lint, in
:mod:`telcoflow.journeys.lint`. Rules:

* state names are identifiers; exactly one top-level state and one child of each compound
  state is ``initial: true``; a region of a parallel state is never ``initial``; a parallel
  state has at least one region (a region may be a leaf);
* a final state (``final: true`` or an ``outcome``) has no child states, no transitions and
  no timeout; only top-level states carry an ``outcome`` (a top-level ``final: true`` means
  ``outcome: completed``);
* ``history`` needs child states; ``resume: true`` needs a target that keeps a history;
  ``history_default`` targets lie inside their state;
* every target resolves (sibling first, then up the tree, then the full path, then a child
  of the source); the targets
  of one transition lie in different regions (no two on one branch);
* every ``on`` descriptor is ``*``, a declared trigger, a dotted prefix of one, or a
  ``done.state`` event; triggers named ``done...`` are reserved; ``on_done`` is for compound
  and parallel states; a timeout has no guard; guards, actions and counters are declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telcoflow.errors import DefinitionError, Problem
from telcoflow.journeys.models import JourneyFile, StateSpec, TransitionSpec
from telcoflow.journeys.nodes import (
    DONE_PREFIX,
    TIMEOUT_PREFIX,
    Guard,
    StateNode,
    descriptor_matches,
)
from telcoflow.journeys.semantics import HISTORY, ChartTransition
from telcoflow.loading.source import Document, PathKey
from telcoflow.rules.expressions import compile_expression

__all__ = ["GUARD_BUILTINS", "Builder", "Declared"]

#: Names a guard may use besides context keys and payload fields.
GUARD_BUILTINS = frozenset({"channel", "trigger"})

#: Per state, the transitions as written: (trigger label, spec, resolved targets or None).
Declared = dict[str, list[tuple[str, TransitionSpec, tuple[str, ...] | None]]]


class Builder:
    """Collects problems while turning a validated :class:`JourneyFile` into a state tree."""

    def __init__(self, spec: JourneyFile, doc: Document) -> None:
        self.spec = spec
        self.doc = doc
        self.problems: list[Problem] = []
        self.states: dict[str, StateNode] = {}
        self.specs: dict[str, StateSpec] = {}
        self.guards: dict[str, Guard] = {}
        self.guard_names: dict[str, frozenset[str]] = {}
        self.payload_fields = frozenset(f for t in spec.triggers.values() for f in t.payload)
        self.chart_transitions: dict[str, list[ChartTransition]] = {}
        self.history_defaults: dict[str, tuple[str, ...]] = {}

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
            outcome = spec.outcome
            if outcome is None and spec.final and parent is None:
                outcome = "completed"
            node = StateNode(path, parent, kind, children, initial, outcome,
                             spec.final or spec.outcome is not None, spec.history,
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
            if node.kind == "parallel":
                if not node.children:
                    self.problem(ypath, f"parallel state `{path}` has no regions",
                                 "E-journey-parallel")
                for child in node.children:
                    if self.specs[child].initial:
                        self.problem(self.states[child].yaml_path, f"region `{child}` must not "
                                     "be `initial` (every region of a parallel state starts)",
                                     "E-journey-initial")
            elif spec.on_done is not None and node.kind == "leaf":
                self.problem((*ypath, "on_done"), f"`on_done` is for compound and parallel "
                             f"states (`{path}` is a leaf)", "E-journey-on-done")
            if node.kind != "leaf" and (spec.outcome or spec.final):
                self.problem(ypath, f"final state `{path}` cannot have child states",
                             "E-journey-final")
            if spec.outcome is not None and node.parent is not None:
                self.problem((*ypath, "outcome"), f"only top-level states carry an outcome "
                             f"(`{path}` is nested; use `final: true`)", "E-journey-final")
            if node.final and (spec.on or spec.timeout or spec.always or spec.on_done):
                self.problem(ypath, f"final state `{path}` cannot have transitions or a timeout",
                             "E-journey-final")
            if spec.history and node.kind == "leaf":
                self.problem((*ypath, "history"), f"`history` needs child states (`{path}` is "
                             "a leaf)", "E-journey-history")
            if spec.history_default is not None and not spec.history:
                self.problem((*ypath, "history_default"), f"`history_default` needs "
                             f"`history` (`{path}` keeps none)", "E-journey-history")
        top_initials = [p for p, n in self.states.items() if n.parent is None
                        and self.specs[p].initial]
        if len(top_initials) != 1:
            found = ", ".join(top_initials) or "none"
            self.problem(("states",), f"a journey needs exactly one initial top-level state "
                         f"(found {found})", "E-journey-initial")

    def resolve(self, source: str | None, target: str) -> str | None:
        """Resolve ``target`` from ``source``: sibling first, then up the tree, then the full
        path, then a child of ``source``."""
        scope = self.states[source].parent if source else None
        while scope is not None:
            candidate = f"{scope}.{target}"
            if candidate in self.states:
                return candidate
            scope = self.states[scope].parent
        if target in self.states:
            return target
        child = f"{source}.{target}"
        return child if source and child in self.states else None

    # ---- references

    def compile_guards(self) -> None:
        if not self.spec.guards:
            return
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

    def check_targets(self, t: TransitionSpec, source: str, ypath: PathKey,
                      ) -> tuple[str, ...] | None:
        where = (*ypath, "target") if self._is_mapping(ypath) else ypath
        targets: list[str] = []
        ok = True
        for written in t.all_targets:
            target = self.resolve(source, written)
            if target is None:
                self.problem(where, f"unknown target state `{written}` (from `{source}`)",
                             "E-journey-target")
                ok = False
            else:
                targets.append(target)
        for i, a in enumerate(targets):
            for b in targets[i + 1:]:
                if a == b or a.startswith(b + ".") or b.startswith(a + "."):
                    self.problem(where, f"targets `{a}` and `{b}` lie on one branch (each "
                                 "target of a transition must be in its own region)",
                                 "E-journey-target")
                    ok = False
                elif not self._in_parallel_apart(a, b):
                    self.problem(where, f"targets `{a}` and `{b}` cannot be active together "
                                 "(their nearest common ancestor is not a parallel state)",
                                 "E-journey-target")
                    ok = False
        if t.resume and ok and targets and not any(self.states[x].history for x in targets):
            self.problem((*ypath, "resume"), f"`resume` needs a target with `history` "
                         f"(`{', '.join(targets)}` keeps none)", "E-journey-history")
        return tuple(targets) if ok else None

    def _in_parallel_apart(self, a: str, b: str) -> bool:
        anc = self.states[a].parent
        while anc is not None and not b.startswith(anc + "."):
            anc = self.states[anc].parent
        return anc is not None and self.states[anc].kind == "parallel"

    def check_transition(self, t: TransitionSpec, source: str, ypath: PathKey,
                         ) -> tuple[str, ...] | None:
        targets = self.check_targets(t, source, ypath)
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
        return targets

    def _is_mapping(self, ypath: PathKey) -> bool:
        cur: Any = self.doc.data
        for part in ypath:
            try:
                cur = cur[part]
            except (KeyError, IndexError, TypeError):
                return False
        return isinstance(cur, dict)

    def transition_path(self, base: PathKey, key: tuple[str, ...], i: int) -> PathKey:
        cur: Any = self.doc.data
        for part in (*base, *key):
            cur = cur.get(part) if isinstance(cur, dict) else None
        return (*base, *key, i) if isinstance(cur, list) else (*base, *key)

    def _check_descriptors(self, trigger: str, where: PathKey) -> tuple[str, ...]:
        descriptors = tuple(trigger.split())
        for d in descriptors:
            if d == "*" or d.startswith("done.") or d == "done":
                continue
            if not any(descriptor_matches(d, event) for event in self.spec.triggers):
                self.problem(where, f"unknown trigger `{d}` (declare it under `triggers`; "
                             "a dotted prefix of a declared trigger also matches)",
                             "E-journey-trigger")
        return descriptors

    def check_references(self) -> Declared:
        """Per state: (trigger, spec, resolved targets) in declaration order.

        Also builds the chart transitions of :mod:`telcoflow.journeys.semantics`.
        """
        declared: Declared = {}
        index = 0

        def add(path: str, label: str, events: tuple[str, ...], t: TransitionSpec,
                targets: tuple[str, ...] | None) -> None:
            nonlocal index
            declared[path].append((label, t, targets))
            if targets is None:
                return
            chart_targets = tuple(
                f"{x}.{HISTORY}" if t.resume and self.states[x].history else x for x in targets)
            self.chart_transitions.setdefault(path, []).append(ChartTransition(
                index, path, events, t.guard, chart_targets, t.type == "internal", t.actions,
                t.emit, t.increment))
            index += 1

        for name in self.spec.triggers:
            if name == "done" or name.startswith("done."):
                self.problem(("triggers", name), f"trigger `{name}`: names starting with "
                             "`done` are reserved for completion events", "E-journey-trigger")
        for path, spec in self.specs.items():
            base = self.states[path].yaml_path
            declared[path] = []
            for trigger, items in spec.on.items():
                events = self._check_descriptors(trigger, (*base, "on", trigger))
                for i, t in enumerate(items):
                    where = self.transition_path(base, ("on", trigger), i)
                    add(path, trigger, events, t, self.check_transition(t, path, where))
            for i, t in enumerate(spec.always):
                where = self.transition_path(base, ("always",), i)
                add(path, "@always", (), t, self.check_transition(t, path, where))
            if spec.timeout is not None:
                if spec.timeout.guard is not None:
                    self.problem((*base, "timeout", "guard"), "a timeout cannot have a guard "
                                 "(a deadline always fires)", "E-journey-timeout")
                label = TIMEOUT_PREFIX + path
                add(path, label, (label,), spec.timeout,
                    self.check_transition(spec.timeout, path, (*base, "timeout")))
            if spec.on_done is not None:
                add(path, "@done", (DONE_PREFIX + path,), spec.on_done,
                    self.check_transition(spec.on_done, path, (*base, "on_done")))
            if spec.history:
                self.history_defaults[path] = self._history_default(path, spec, base)
        for name in self.spec.channels:
            if name == "system":
                self.problem(("channels",), "`system` is reserved for timeouts",
                             "E-journey-channel")
        return declared

    def _history_default(self, path: str, spec: StateSpec, base: PathKey) -> tuple[str, ...]:
        node = self.states[path]
        default = node.children if node.kind == "parallel" else (
            (node.initial,) if node.initial else ())
        if spec.history_default is None:
            return default
        where = (*base, "history_default")
        targets = self.check_targets(spec.history_default, path, where)
        if not targets:
            return default
        for x in targets:
            if not x.startswith(path + "."):
                self.problem(where, f"`history_default` of `{path}` must target states "
                             f"inside it (found `{x}`)", "E-journey-history")
                return default
        return targets
