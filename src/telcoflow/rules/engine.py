"""Compiled decisions: rules and table rows indexed on their equality conditions, evaluated
under a hit policy.

The DMN 1.3 hit policies are spelt as in DMN: ``U`` ``A`` ``P`` ``F`` ``R`` ``O`` ``C``
``C+`` ``C<`` ``C>`` ``C#`` (see :data:`DMN_HITS` and docs/rules.md). telcoflow's own
spellings (``unique``, ``any``, ``priority``, ``first``, ``collect`` with ``aggregate``,
``rule-order``) keep their earlier meaning: no match under ``collect`` gives ``[]`` (or 0
summed), ``priority`` takes one integer per rule, ``count`` counts matched rows, and a
violated ``unique`` / ``any`` raises.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from telcoflow.errors import (
    DecisionError,  # re-exported: defined in errors.py
    PathKey,
    TelcoflowError,
)
from telcoflow.rules.cells import dmn_eq
from telcoflow.rules.expressions import _MISSING as _STEP_MISSING
from telcoflow.rules.expressions import CompiledExpression, _step
from telcoflow.rules.trace import DecisionTrace, Match, NearMiss
from telcoflow.rules.values import Result, Violation

__all__ = ["DMN_HITS", "CompiledDecision", "DecisionError", "CompiledRule", "Outputs", "RuleIndex",
           "Term"]

DMN_HITS: Mapping[str, str] = {
    "U": "unique", "A": "any", "P": "priority", "F": "first", "R": "rule order",
    "O": "output order", "C": "collect", "C+": "collect sum", "C<": "collect min",
    "C>": "collect max", "C#": "collect count",
}
"""The DMN 1.3 hit policies, by their DMN letter, with their names."""
SINGLE_HITS = frozenset({"U", "A", "P", "F"})
AGGREGATES = frozenset({"C+", "C<", "C>", "C#"})

_MISSING = _STEP_MISSING  # one sentinel for "absent" across expressions and indexes
_LEAF_SIZE = 4
_MAX_LEVELS = 4





class Outputs:
    """The outputs of one rule or row: literals shared read-only, expressions evaluated."""

    __slots__ = ("computed", "static")

    def __init__(self, values: Mapping[str, Any]) -> None:
        literal = {k: v for k, v in values.items() if not isinstance(v, CompiledExpression)}
        self.static: Mapping[str, Any] = Result(literal)
        self.computed: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = tuple(
            (k, v.fn) for k, v in values.items() if isinstance(v, CompiledExpression))

    def __call__(self, ctx: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self.computed:
            return self.static
        out = dict(self.static)
        for name, fn in self.computed:
            out[name] = fn(ctx)
        return Result(out)


Term = tuple["PathKey | None", str]
"""One conjunct of a rule's condition: (the path it tests for equality or None, its text)."""


class CompiledRule:
    """One rule or table row, compiled.

    ``terms`` (optional) are the conjuncts of the condition; a term tied to a path is an
    equality the index can settle, so :meth:`residual` compiles the condition without the
    terms the index already checked on the way to a leaf.
    """

    __slots__ = ("_residuals", "cond", "equalities", "expr", "id", "make", "outputs",
                 "position", "priority", "static", "terms")

    def __init__(self, id: str, position: int, priority: int, expr: CompiledExpression | None,
                 outputs: Outputs, *, terms: tuple[Term, ...] = (),
                 make: Callable[[str], CompiledExpression | None] | None = None) -> None:
        self.id = id
        self.position = position
        self.priority = priority
        self.expr = expr
        self.cond: Callable[[Mapping[str, Any]], Any] | None = expr.fn if expr else None
        self.equalities: Mapping[PathKey, frozenset[Any]] = expr.equalities if expr else {}
        self.outputs = outputs
        self.static: Mapping[str, Any] | None = None if outputs.computed else outputs.static
        self.terms = terms
        self.make = make
        self._residuals: dict[frozenset[PathKey], CompiledRule] = {}

    def residual(self, settled: frozenset[PathKey]) -> CompiledRule:
        """This item with the equality terms on ``settled`` paths removed from its condition
        (the index has checked them); ``self`` when nothing can be removed."""
        drop = frozenset(p for p, _ in self.terms if p is not None and p in settled)
        if not drop or self.make is None:
            return self
        found = self._residuals.get(drop)
        if found is None:
            rest = [text for p, text in self.terms if p is None or p not in drop]
            expr = self.make(" and ".join(rest)) if rest else None
            found = CompiledRule.__new__(CompiledRule)
            for name in CompiledRule.__slots__:
                setattr(found, name, getattr(self, name))
            found.cond = expr.fn if expr is not None else None
            found._residuals = {}
            self._residuals[drop] = found
        return found


class _Node:
    __slots__ = ("children", "default", "getter", "items", "path")

    def __init__(self) -> None:
        self.path: PathKey | None = None
        self.getter: Callable[[Any], Any] = _no_getter
        self.children: dict[Any, _Node] = {}
        self.default: _Node | None = None
        self.items: tuple[CompiledRule, ...] = ()


def _no_getter(ctx: Any) -> Any:
    return _MISSING


def _get(ctx: Any, path: PathKey) -> Any:
    """The value at ``path`` through mappings, sequences and attributes, or ``_MISSING``."""
    cur = ctx
    for key in path:
        cur = _step(cur, key)
        if cur is _STEP_MISSING:
            return _MISSING
    return cur


def _getter(path: PathKey) -> Callable[[Any], Any]:
    """A fast reader of ``path`` (plain dicts without raising), falling back to
    :func:`_get`; ``_MISSING`` when absent."""
    if len(path) == 1:
        (a,) = path

        def get1(ctx: Any) -> Any:
            if type(ctx) is dict:
                return ctx.get(a, _MISSING)
            return _get(ctx, path)

        return get1
    if len(path) == 2:
        a, b = path

        def get2(ctx: Any) -> Any:
            if type(ctx) is dict:
                inner = ctx.get(a, _MISSING)
                if type(inner) is dict:
                    return inner.get(b, _MISSING)
            return _get(ctx, path)

        return get2

    def get_n(ctx: Any) -> Any:
        return _get(ctx, path)

    return get_n


class RuleIndex:
    """A decision tree over equality conditions: the candidates for a context, in order.

    At each level the path constrained by the most items is chosen; each value gets the
    items requiring it plus the items that do not constrain that path, so candidates stay in
    their original order and no item that could match is ever skipped.
    """

    __slots__ = ("root", "size")

    def __init__(self, items: Sequence[CompiledRule]) -> None:
        self.size = len(items)
        self.root = self._build(list(items), frozenset(), 0)

    def _build(self, items: list[CompiledRule], used: frozenset[PathKey], level: int) -> _Node:
        node = _Node()
        # a leaf: each item without the equality terms settled on the way here
        node.items = tuple(it.residual(used) for it in items)
        if len(items) <= _LEAF_SIZE or level >= _MAX_LEVELS:
            return node
        counts = Counter(p for it in items for p in it.equalities if p not in used)
        if not counts:
            return node
        path, n = counts.most_common(1)[0]
        if n < 2:
            return node
        wild = [it for it in items if path not in it.equalities]
        buckets: dict[Any, list[CompiledRule]] = {}
        for it in items:
            for value in it.equalities.get(path, ()):
                buckets.setdefault(value, []).append(it)
        node.path = path
        node.getter = _getter(path)
        node.items = ()
        seen_used = used | {path}
        for value, bucket in buckets.items():
            merged = sorted({id(i): i for i in bucket + wild}.values(), key=_position)
            node.children[value] = self._build(merged, seen_used, level + 1)
        node.default = self._build(wild, seen_used, level + 1)
        return node

    def candidates(self, ctx: Mapping[str, Any]) -> tuple[CompiledRule, ...]:
        """Items that may match ``ctx``, in order."""
        node = self.root
        while node.path is not None:
            value = node.getter(ctx)
            try:
                child = node.children.get(value)
            except TypeError:  # unhashable value: only the wildcard items can match
                child = None
            node = child if child is not None else node.default  # type: ignore[assignment]
        return node.items

    def depth(self) -> int:
        """Levels of the tree (for diagnostics)."""
        def walk(n: _Node) -> int:
            if n.path is None:
                return 0
            kids = [*n.children.values(), *([n.default] if n.default else [])]
            return 1 + max(walk(k) for k in kids)
        return walk(self.root)


def _position(item: CompiledRule) -> int:
    return item.position


class CompiledDecision:
    """One decision of a pack, ready to evaluate many times.

    For the DMN hit policies (:data:`DMN_HITS`): ``single`` names the one output of a
    one-output table (its results are that output's value, not a mapping, as in DMN);
    ``priorities`` maps outputs to their values in decreasing priority (``P`` and ``O``);
    ``on_violation`` is ``"error"`` (the value is a :class:`~telcoflow.rules.values.Violation`)
    or ``"raise"``. ``label`` / ``labels`` are the names shown to people (traces, exports).
    """

    __slots__ = ("aggregate", "default", "fast", "guard", "hit", "index", "items", "kind",
                 "label", "labels", "name", "on_violation", "output", "priorities", "single",
                 "where")

    def __init__(self, name: str, kind: str, hit: str, items: Sequence[CompiledRule], *,
                 aggregate: str | None = None, output: str | None = None,
                 guard: CompiledExpression | None = None, default: Outputs | None = None,
                 where: str = "", single: str | None = None,
                 priorities: Mapping[str, Sequence[Any]] | None = None,
                 on_violation: str = "error", label: str = "",
                 labels: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.kind = kind
        self.hit = hit
        self.aggregate = aggregate
        self.output = output
        self.guard = guard
        self.default = default
        self.where = where
        self.single = single if hit in DMN_HITS else None
        self.priorities: Mapping[str, tuple[Any, ...]] = {
            k: tuple(v) for k, v in (priorities or {}).items()}
        self.on_violation = on_violation
        self.label = label
        self.labels: Mapping[str, str] = dict(labels or {})
        ordered = list(items)
        if hit == "priority":
            ordered.sort(key=lambda it: (-it.priority, it.position))
            for pos, it in enumerate(ordered):
                it.position = pos
        self.items = tuple(ordered)
        self.index = RuleIndex(self.items)
        self.fast: Callable[[Mapping[str, Any]], Any] = self._specialise()
        """The decision as one function of the context (same result as :meth:`evaluate`)."""

    # -- DMN hit policies ---------------------------------------------------------------------
    def _rank(self, outputs: Mapping[str, Any]) -> tuple[int, ...]:
        """The output-value priority of ``outputs``: per output with a priority list (in
        the list's order), the position of its value (0 is the highest; a value not in the
        list ranks after every listed one)."""
        key = []
        for name, values in self.priorities.items():
            value = outputs.get(name)
            pos = len(values)
            for n, v in enumerate(values):
                if dmn_eq(value, v):
                    pos = n
                    break
            key.append(pos)
        return tuple(key)

    def _value(self, outputs: Mapping[str, Any]) -> Any:
        return outputs[self.single] if self.single is not None and self.single in outputs \
            else (None if self.single is not None else outputs)

    def _violate(self, matched: Sequence[CompiledRule], why: str) -> Violation:
        ids = tuple(it.id for it in matched)
        message = (f"{self.where}decision {self.name!r} has hit policy {self.hit} "
                   f"({DMN_HITS[self.hit]}) but {why}: {', '.join(ids)}")
        if self.on_violation == "raise":
            raise DecisionError(message)
        return Violation(self.name, self.hit, ids, message)

    def _dmn(self, ctx: Mapping[str, Any], matched: list[CompiledRule]) -> Any:
        """The DMN 1.3 result of ``matched`` (the matching rules in rule order)."""
        hit = self.hit
        outs = [it.outputs(ctx) for it in matched]
        if not outs:
            if self.default is None:
                return None  # no match: null, whatever the hit policy
            if hit in SINGLE_HITS:
                return self._value(self.default(ctx))
            outs = [self.default(ctx)]
        if hit == "F":
            return self._value(outs[0])
        if hit == "U":
            if len(outs) > 1:
                return self._violate(matched, f"{len(outs)} rules matched")
            return self._value(outs[0])
        if hit == "A":
            if any(dict(o) != dict(outs[0]) for o in outs[1:]):
                return self._violate(matched, "the matching rules give different outputs")
            return self._value(outs[0])
        if hit == "P":
            best = min(range(len(outs)), key=lambda n: self._rank(outs[n]))
            return self._value(outs[best])
        if hit == "O":
            order = sorted(range(len(outs)), key=lambda n: self._rank(outs[n]))
            return [self._value(outs[n]) for n in order]
        if hit in ("R", "C"):
            return [self._value(o) for o in outs]
        return self._dmn_aggregate(outs)

    def _dmn_aggregate(self, outs: list[Mapping[str, Any]]) -> Any:
        name = self.single or self.output
        values = self._output_values(outs, name, f"aggregate ({self.hit})")
        if self.hit == "C#":
            distinct: list[Any] = []
            for v in values:
                if not any(dmn_eq(v, d) for d in distinct):
                    distinct.append(v)
            return len(distinct)
        if any(v is None for v in values):
            return None  # FEEL: sum, min and max of a list holding null are null
        try:
            if self.hit == "C+":
                total: Any = values[0]
                for v in values[1:]:
                    total = total + v
                return total
            return min(values) if self.hit == "C<" else max(values)
        except TypeError as exc:
            raise DecisionError(f"{self.where}decision {self.name!r}: cannot {self.hit} the "
                                f"values of {name!r} ({exc})") from None

    def _specialise(self) -> Callable[[Mapping[str, Any]], Any]:
        """Build the evaluation function for this hit policy, with everything it needs bound
        as local variables (the hot path of every pack)."""
        candidates = self.index.candidates
        default = self.default
        guard = self.guard.fn if self.guard is not None else None
        combine = self._combine
        if self.hit in DMN_HITS:
            return self._specialise_dmn(candidates, guard)
        if self.hit in ("first", "priority"):
            def first(ctx: Mapping[str, Any]) -> Any:
                if guard is not None and not guard(ctx):
                    return None
                for it in candidates(ctx):
                    cond = it.cond
                    if cond is None or cond(ctx):
                        out = it.static
                        return out if out is not None else it.outputs(ctx)
                return default(ctx) if default is not None else None

            return first
        name = self.output
        if self.hit == "collect" and self.aggregate == "sum" and name is not None and \
                all(it.static is not None and name in it.static for it in self.items):
            zero = Decimal(0)

            def collect_sum(ctx: Mapping[str, Any]) -> Any:
                if guard is not None and not guard(ctx):
                    return None
                total: Any = zero
                found = False
                for it in candidates(ctx):
                    cond = it.cond
                    if cond is None or cond(ctx):
                        total = total + it.static[name]  # type: ignore[index]
                        found = True
                if not found and default is not None:
                    return combine(ctx, [])
                return total

            return collect_sum

        def collect(ctx: Mapping[str, Any]) -> Any:
            if guard is not None and not guard(ctx):
                return None
            return combine(ctx, [it for it in candidates(ctx)
                                 if it.cond is None or it.cond(ctx)])

        return collect

    def _specialise_dmn(self, candidates: Callable[[Mapping[str, Any]], tuple[CompiledRule, ...]],
                        guard: Callable[[Mapping[str, Any]], Any] | None,
                        ) -> Callable[[Mapping[str, Any]], Any]:
        dmn = self._dmn
        default = self.default
        value = self._value
        if self.hit == "F":
            def first_hit(ctx: Mapping[str, Any]) -> Any:
                if guard is not None and not guard(ctx):
                    return None
                for it in candidates(ctx):
                    cond = it.cond
                    if cond is None or cond(ctx):
                        out = it.static
                        return value(out if out is not None else it.outputs(ctx))
                return value(default(ctx)) if default is not None else None

            return first_hit

        def hits(ctx: Mapping[str, Any]) -> Any:
            if guard is not None and not guard(ctx):
                return None
            return dmn(ctx, [it for it in candidates(ctx) if it.cond is None or it.cond(ctx)])

        return hits

    # -- fast path --------------------------------------------------------------------------
    def evaluate(self, ctx: Mapping[str, Any]) -> Any:
        """The decision's value for ``ctx`` (outputs mapping, list, aggregate or None)."""
        return self.fast(ctx)

    def _combine(self, ctx: Mapping[str, Any], matched: list[CompiledRule]) -> Any:
        hit = self.hit
        if hit in ("unique", "any"):
            if not matched:
                return self.default(ctx) if self.default is not None else None
            outs = [it.outputs(ctx) for it in matched]
            if len(matched) > 1:
                if hit == "unique":
                    ids = ", ".join(it.id for it in matched)
                    raise DecisionError(f"{self.where}decision {self.name!r} has hit policy "
                                        f"unique but {len(matched)} rules matched: {ids}")
                if any(dict(o) != dict(outs[0]) for o in outs[1:]):
                    ids = ", ".join(it.id for it in matched)
                    raise DecisionError(f"{self.where}decision {self.name!r} has hit policy "
                                        f"any but the matching rules disagree: {ids}")
            return outs[0]
        outs = [it.outputs(ctx) for it in matched]
        if not outs and self.default is not None:
            outs = [self.default(ctx)]
        if self.aggregate is None:
            return outs
        return self._aggregate(outs)

    def _output_values(self, outs: list[Mapping[str, Any]], name: str | None,
                       doing: str) -> list[Any]:
        """The values of output ``name`` of every matching rule (to aggregate them)."""
        assert name is not None
        try:
            return [o[name] for o in outs]
        except KeyError:
            raise DecisionError(f"{self.where}decision {self.name!r}: a matching rule has no "
                                f"output {name!r} to {doing}") from None

    def _aggregate(self, outs: list[Mapping[str, Any]]) -> Any:
        if self.aggregate == "count":
            return len(outs)
        name = self.output
        values = self._output_values(outs, name, str(self.aggregate))
        if self.aggregate == "sum":
            total: Any = Decimal(0)
            for v in values:
                total = total + v
            return total
        if not values:
            return None
        return min(values) if self.aggregate == "min" else max(values)

    # -- traced path ------------------------------------------------------------------------
    def explain(self, ctx: Mapping[str, Any]) -> DecisionTrace:
        """Evaluate and record what matched and which values each match read."""
        if self.guard is not None and not self.guard.fn(ctx):
            return DecisionTrace(self.name, self.kind, self._hit_text(), False, 0,
                                 len(self.items), (), None, label=self.label,
                                 labels=self.labels)
        cands = self.index.candidates(ctx)
        matched: list[CompiledRule] = []
        tested = 0
        for it in cands:
            tested += 1
            if it.cond is None or it.cond(ctx):
                matched.append(it)
                if self.hit in ("first", "priority", "F"):
                    break
        defaulted = not matched and self.default is not None
        if self.hit in DMN_HITS:
            value = self._dmn(ctx, matched)
        elif self.hit in ("first", "priority"):
            value = matched[0].outputs(ctx) if matched else (
                self.default(ctx) if self.default is not None else None)
        else:
            value = self._combine(ctx, matched)
        matches = tuple(
            Match(self.name, it.id, it.expr.seen(ctx) if it.expr else {}, it.outputs(ctx),
                  it.priority)
            for it in matched)
        near = self._near_misses(ctx) if not matched else ()
        return DecisionTrace(self.name, self.kind, self._hit_text(), True, tested,
                             len(self.items), matches, value, defaulted, label=self.label,
                             labels=self.labels, near_misses=near)

    def _near_misses(self, ctx: Mapping[str, Any], keep: int = 3) -> tuple[NearMiss, ...]:
        """The ``keep`` rules with the most conditions holding (earliest first on ties), each
        with its first failing condition: what ``telcoflow explain`` shows when nothing
        matched. Each ``and`` term is compiled and evaluated on its own (slow path only)."""
        found: list[tuple[int, int, NearMiss]] = []
        for it in self.items:
            if it.expr is None:
                continue
            texts = [part for _, text in it.terms for part in _conjuncts(text)] \
                if it.terms and it.make else [it.expr.source]
            held = 0
            failed: tuple[str, CompiledExpression | None] | None = None
            for text in texts:
                expr = it.make(text) if it.make is not None and len(texts) > 1 else it.expr
                try:
                    ok = expr is None or bool(expr.fn(ctx))
                except TelcoflowError as exc:
                    ok = False
                    text = f"{text} (error: {exc})"
                if ok:
                    held += 1
                elif failed is None:
                    failed = (text, expr)
            if failed is None:
                continue
            seen = failed[1].seen(ctx) if failed[1] is not None else {}
            found.append((-held, it.position,
                          NearMiss(it.id, held, len(texts), failed[0], seen)))
        found.sort(key=lambda f: (f[0], f[1]))
        return tuple(f[2] for f in found[:keep])

    def _hit_text(self) -> str:
        if self.hit in DMN_HITS:
            return f"{self.hit} {DMN_HITS[self.hit]}"
        if self.hit == "collect" and self.aggregate:
            return f"collect {self.aggregate}"
        return self.hit


def _conjuncts(text: str) -> list[str]:
    """The top-level ``and`` terms of an expression text (itself when it has none or does
    not parse as one): ``a == 1 and (b or c)`` -> ``["a == 1", "(b or c)"]``."""
    source = text.strip()
    while source.startswith("(") and source.endswith(")"):
        try:
            ast.parse(source[1:-1], mode="eval")
        except SyntaxError:
            break
        source = source[1:-1].strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return [text]
    body = tree.body
    if not (isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And)):
        return [source]
    parts = [ast.get_source_segment(source, v) for v in body.values]
    if any(p is None for p in parts):
        return [source]
    return [p for p in parts if p is not None]
