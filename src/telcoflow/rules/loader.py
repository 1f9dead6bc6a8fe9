"""Loading rule packs: YAML (a file or a folder with ``pack.yaml``) -> a compiled
:class:`~telcoflow.rules.runtime.RulePack`; every expression and rule is checked against the
registry, and *every* problem is reported at once, each located ``file:line:col``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from telcoflow.errors import DefinitionError, ExpressionError, Problem, RuleError
from telcoflow.loading.source import (
    Document,
    PathKey,
    format_path,
    iter_yaml_files,
    parse_yaml,
    read_yaml_text,
)
from telcoflow.loading.validate import validate_document
from telcoflow.rules.cells import PATH_RE, cell_text, dmn_eq, eq_text, is_indexable
from telcoflow.rules.engine import (
    AGGREGATES,
    DMN_HITS,
    CompiledDecision,
    CompiledRule,
    Outputs,
    Term,
)
from telcoflow.rules.expressions import CompiledExpression, compile_expression
from telcoflow.rules.model import (
    DecisionModel,
    RulePackModel,
    RulePackPartModel,
    StatefulRuleModel,
    TableModel,
)
from telcoflow.rules.registry import Registry, default_registry
from telcoflow.rules.runtime import PackTest, RulePack, StatefulRule
from telcoflow.rules.trace import Trace

__all__ = ["explain", "is_pack_path", "load_pack", "pack_from_text"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def is_pack_path(path: str | Path) -> bool:
    """Whether ``path`` is a rule pack: a ``*.rules.yaml`` file or a folder with pack.yaml."""
    p = Path(path)
    if p.is_dir():
        return (p / "pack.yaml").is_file()
    return p.name.endswith((".rules.yaml", ".rules.yml"))


def explain(pack: RulePack | str | Path, event: Mapping[str, Any]) -> Trace:
    """Evaluate ``pack`` (a pack or its path) on ``event`` (the context mapping, e.g.
    ``{"event": {...}, "subscriber": {...}}``) and return the trace; render it with
    ``trace.render()``."""
    p = pack if isinstance(pack, RulePack) else load_pack(pack)
    return p.explain(event)



class _Source:
    """One parsed file with its lines, to locate values (not only keys)."""

    def __init__(self, doc: Document, text: str) -> None:
        self.doc = doc
        self.lines = text.splitlines()

    def value_at(self, path: PathKey) -> tuple[int | None, int | None]:
        line, col = self.doc.locate(path)
        if line is None or col is None or line > len(self.lines):
            return line, col
        text = self.lines[line - 1]
        if path and isinstance(path[-1], str) and self.doc.positions.get(path) == (line, col):
            j = text.find(":", col - 1)
            if j < 0:
                return line, col
            k = j + 1
            while k < len(text) and text[k] == " ":
                k += 1
            if k >= len(text) or text[k] in "|>":
                for n in range(line, len(self.lines)):
                    nxt = self.lines[n]
                    if nxt.strip():
                        return n + 1, len(nxt) - len(nxt.lstrip()) + 1
                return line, k + 1
            col = k + 1
        if col - 1 < len(text) and text[col - 1] in "\"'":
            col += 1
        return line, col

    def problem(self, path: PathKey, message: str, code: str) -> Problem:
        return self.doc.problem(path, message, code)


class _Builder:
    def __init__(self, registry: Registry, context: Sequence[str] | None) -> None:
        self.registry = registry
        self.functions = registry.functions
        self.allowed: set[str] | None = set(context) if context is not None else None
        self.problems: list[Problem] = []

    def expr(self, src: _Source, path: PathKey, text: Any,
             extra: Sequence[str] = ()) -> CompiledExpression | None:
        if not isinstance(text, str):
            self.problems.append(src.problem(path, f"expected an expression (text), found "
                                                   f"{text!r}", "E-expr-type"))
            return None
        line, col = src.value_at(path)
        allowed = None if self.allowed is None else self.allowed | set(extra)
        try:
            return compile_expression(text, file=src.doc.file, line=line, column=col,
                                      functions=self.functions, allowed_names=allowed)
        except ExpressionError as exc:
            self.problems.extend(
                Problem(p.message, p.code, p.file, p.line, p.column, format_path(path))
                for p in exc.problems)
            return None

    def outputs(self, src: _Source, path: PathKey, values: Mapping[str, Any],
                extra: Sequence[str] = ()) -> Outputs:
        out: dict[str, Any] = {}
        allowed = None if self.allowed is None else self.allowed | set(extra)
        for key, value in values.items():
            if isinstance(value, str) and value.startswith("="):
                line, col = src.value_at((*path, key))
                try:
                    out[key] = compile_expression(
                        value[1:], file=src.doc.file, line=line,
                        column=None if col is None else col + 1, functions=self.functions,
                        allowed_names=allowed)
                except ExpressionError as exc:
                    self.problems.extend(
                        Problem(p.message, p.code, p.file, p.line, p.column,
                                format_path((*path, key))) for p in exc.problems)
            elif isinstance(value, float):  # pragma: no cover - the loader gives Decimals
                out[key] = Decimal(str(value))
            else:
                out[key] = value
        return Outputs(out)

    def check_kind(self, src: _Source, path: PathKey, kind: str,
                   then: Mapping[str, Any]) -> None:
        rk = self.registry.kinds.get(kind)
        if rk is None:
            return
        missing = [r for r in rk.required if r not in then]
        if missing:
            self.problems.append(src.problem(
                path, f"a {kind} rule must give {', '.join(missing)} (found "
                      f"{', '.join(then) or 'nothing'})", "E-rule-outputs"))
        if rk.allowed:
            extra = [k for k in then if k not in rk.allowed]
            if extra:
                self.problems.append(src.problem(
                    path, f"a {kind} rule may not give {', '.join(extra)} (allowed: "
                          f"{', '.join(rk.allowed)})", "E-rule-outputs"))
        if rk.check is not None:
            for msg in rk.check(then):
                self.problems.append(src.problem(path, msg, "E-rule-outputs"))

    # -- decisions ----------------------------------------------------------------------
    def decision(self, src: _Source, path: PathKey, model: DecisionModel,
                 earlier: Sequence[str]) -> CompiledDecision | None:
        kind = self.registry.kinds.get(model.kind)
        if kind is None:
            known = ", ".join(sorted(self.registry.kinds))
            self.problems.append(src.problem((*path, "kind"), f"unknown rule kind "
                                             f"{model.kind!r} (known: {known})", "E-rule-kind"))
            return None
        hit = model.hit or kind.default_hit
        if (model.table is None) == (not model.rules):
            self.problems.append(src.problem(path, "a decision needs either `rules` or a "
                                             "`table` (exactly one)", "E-rule-decision"))
            return None
        if model.aggregate and hit != "collect" and hit not in DMN_HITS:
            self.problems.append(src.problem((*path, "aggregate"), f"`aggregate` needs hit "
                                             f"policy collect (found {hit})", "E-rule-hit"))
        output = model.output
        if model.aggregate and model.aggregate != "count" and output is None:
            if model.table is not None and len(model.table.outputs) == 1:
                output = model.table.outputs[0]
            else:
                self.problems.append(src.problem(
                    path, f"`aggregate: {model.aggregate}` needs `output` (which output to "
                          f"{model.aggregate})", "E-rule-hit"))
        single = None
        if hit in DMN_HITS:
            single = self.dmn_checks(src, path, model, hit)
        guard = self.expr(src, (*path, "when"), model.when, earlier) if model.when else None
        if model.table is not None:
            items = self.table(src, (*path, "table"), model.table, model.kind, earlier)
        else:
            items = self.rules(src, path, model, earlier)
        default = (self.outputs(src, (*path, "default"), model.default, earlier)
                   if model.default is not None else None)
        if model.output_values:
            self.check_values(src, path, model, items, default)
        line, col = src.doc.locate(path)
        return CompiledDecision(model.name, model.kind, hit, items, aggregate=model.aggregate,
                                output=output, guard=guard, default=default,
                                where=f"{src.doc.file}:{line}:{col}: ", single=single,
                                priorities=model.output_values, on_violation=model.on_violation,
                                label=model.label,
                                labels=model.table.labels if model.table is not None else None)

    def dmn_checks(self, src: _Source, path: PathKey, model: DecisionModel,
                   hit: str) -> str | None:
        """Check what a DMN hit policy needs; return the one output of a one-output table."""
        table = model.table
        outputs = list(table.outputs) if table is not None else None
        if model.aggregate:
            self.problems.append(src.problem(
                (*path, "aggregate"), f"with DMN hit policy {hit} the aggregation is in the "
                f"letter (C+, C<, C>, C#), not in `aggregate`", "E-rule-hit"))
        if table is not None and table.priorities is not None:
            self.problems.append(src.problem(
                (*path, "table", "priorities"), f"hit policy {hit} takes no row priorities: "
                "DMN priorities come from `output_values` (each output's values, highest "
                "first)", "E-rule-hit"))
        if hit in AGGREGATES:
            if outputs is not None and len(outputs) != 1:
                self.problems.append(src.problem(
                    (*path, "table", "outputs"), f"hit policy {hit} aggregates one output; "
                    f"this table has {len(outputs)} ({', '.join(outputs)})", "E-rule-hit"))
            if outputs is None and model.output is None:
                self.problems.append(src.problem(
                    path, f"hit policy {hit} needs `output` (which output to aggregate)",
                    "E-rule-hit"))
        if hit in ("P", "O") and not model.output_values:
            self.problems.append(src.problem(
                path, f"hit policy {hit} needs `output_values`: each output's values in "
                "decreasing priority, e.g. {risk: [high, medium, low]}", "E-rule-hit"))
        if table is not None:
            known = set(table.inputs) | set(table.outputs)
            for key in table.labels:
                if key not in known:
                    self.problems.append(src.problem(
                        (*path, "table", "labels", key), f"label for {key!r}, which is no "
                        f"input or output (inputs: {', '.join(table.inputs)}; outputs: "
                        f"{', '.join(table.outputs)})", "E-table-label"))
        return outputs[0] if outputs is not None and len(outputs) == 1 else None

    def check_values(self, src: _Source, path: PathKey, model: DecisionModel,
                     items: Sequence[CompiledRule], default: Outputs | None) -> None:
        """Every literal output is one of its output's allowed values (DMN output values)."""
        assert model.output_values is not None
        if model.table is not None:
            for name in model.output_values:
                if name not in model.table.outputs:
                    self.problems.append(src.problem(
                        (*path, "output_values", name), f"output_values for {name!r}, which "
                        f"is no output (outputs: {', '.join(model.table.outputs)})",
                        "E-rule-values"))
        candidates = [(it.id, it.outputs.static) for it in items]
        if default is not None:
            candidates.append(("default", default.static))
        for rid, static in candidates:
            for name, allowed in model.output_values.items():
                if name in static and not any(dmn_eq(static[name], v) for v in allowed):
                    self.problems.append(src.problem(
                        path, f"{rid} gives {name} = {static[name]!r}, not one of its "
                        f"output_values ({', '.join(map(repr, allowed))})", "E-rule-values"))

    def rules(self, src: _Source, path: PathKey, model: DecisionModel,
              earlier: Sequence[str]) -> list[CompiledRule]:
        items: list[CompiledRule] = []
        seen: dict[str, int] = {}
        for i, rule in enumerate(model.rules):
            rpath = (*path, "rules", i)
            if rule.id in seen:
                self.problems.append(src.problem((*rpath, "id"), f"duplicate rule id "
                                                 f"{rule.id!r} (also rule {seen[rule.id]})",
                                                 "E-rule-duplicate"))
            seen[rule.id] = i
            if not rule.enabled:
                continue
            terms: list[Term] = []
            for key, value in rule.when.items():
                if not PATH_RE.match(key):
                    self.problems.append(src.problem((*rpath, "when", key),
                                                     f"`when` keys must be dotted paths such "
                                                     f"as event.zone (found {key!r})",
                                                     "E-rule-when"))
                    continue
                terms.append((tuple(key.split(".")), eq_text(key, value)))
            if rule.if_ is not None:
                checked = self.expr(src, (*rpath, "if"), rule.if_, earlier)
                if checked is not None:
                    terms.append((None, f"({checked.source})"))
            expr = None
            line, col = src.value_at((*rpath, "when") if rule.when else (*rpath, "if"))
            if terms:
                expr = self.expr_text(src, rpath, " and ".join(t for _, t in terms), earlier,
                                      line, col)
            self.check_kind(src, (*rpath, "then"), model.kind, rule.then)
            outputs = self.outputs(src, (*rpath, "then"), rule.then, earlier)
            items.append(CompiledRule(rule.id, i, rule.priority, expr, outputs, terms=tuple(terms),
                              make=self.maker(src, rpath, earlier, line, col)))
        return items

    def maker(self, src: _Source, path: PathKey, earlier: Sequence[str], line: int | None,
              col: int | None) -> Callable[[str], CompiledExpression | None]:
        """Compile a residual condition (a subset of terms that already compiled)."""
        def make(text: str) -> CompiledExpression | None:
            return self.expr_text(src, path, text, earlier, line, col)

        return make

    def expr_text(self, src: _Source, path: PathKey, text: str, earlier: Sequence[str],
                  line: int | None, col: int | None) -> CompiledExpression | None:
        allowed = None if self.allowed is None else self.allowed | set(earlier)
        try:
            return compile_expression(text, file=src.doc.file, line=line, column=col,
                                      functions=self.functions, allowed_names=allowed)
        except ExpressionError as exc:
            self.problems.extend(
                Problem(p.message, p.code, p.file, line, col, format_path(path))
                for p in exc.problems)
            return None

    def table(self, src: _Source, path: PathKey, table: TableModel, kind: str,
              earlier: Sequence[str]) -> list[CompiledRule]:
        inputs: list[str] = []
        for j, text in enumerate(table.inputs):
            checked = self.expr(src, (*path, "inputs", j), text, earlier)
            inputs.append(checked.source if checked is not None else "None")
        width = len(table.inputs) + len(table.outputs)
        if table.priorities is not None and len(table.priorities) != len(table.rows):
            self.problems.append(src.problem((*path, "priorities"), f"{len(table.rows)} rows "
                                             f"but {len(table.priorities)} priorities",
                                             "E-table-shape"))
        items = []
        for r, row in enumerate(table.rows):
            rpath = (*path, "rows", r)
            if len(row) != width:
                self.problems.append(src.problem(
                    rpath, f"row has {len(row)} cells, expected {width} "
                           f"({len(table.inputs)} inputs + {len(table.outputs)} outputs)",
                    "E-table-shape"))
                continue
            terms: list[Term] = []
            for j, cell in enumerate(row[: len(table.inputs)]):
                try:
                    term = cell_text(cell, inputs[j])
                except ValueError as exc:
                    self.problems.append(src.problem((*rpath, j), str(exc), "E-table-cell"))
                    continue
                if term is not None:
                    settled = tuple(inputs[j].split(".")) \
                        if is_indexable(cell) and PATH_RE.match(inputs[j]) else None
                    terms.append((settled, term))
            expr = None
            line, col = src.value_at(rpath)
            if terms:
                expr = self.expr_text(src, rpath, " and ".join(t for _, t in terms), earlier,
                                      line, col)
            then = dict(zip(table.outputs, row[len(table.inputs):], strict=True))
            self.check_kind(src, rpath, kind, then)
            outputs = self.outputs(src, rpath, {k: v for k, v in then.items() if v != "-"},
                                   earlier)
            prio = table.priorities[r] if table.priorities and r < len(table.priorities) else 0
            items.append(CompiledRule(f"row {r + 1}", r, prio, expr, outputs, terms=tuple(terms),
                              make=self.maker(src, rpath, earlier, line, col)))
        return items

    # -- stateful -----------------------------------------------------------------------
    def stateful(self, src: _Source, path: PathKey,
                 model: StatefulRuleModel) -> StatefulRule | None:
        patterns = [n for n in ("count", "sequence", "total")
                    if getattr(model, n) is not None]
        if len(patterns) != 1:
            self.problems.append(src.problem(path, "a stateful rule needs exactly one of "
                                             f"count, sequence, total (found {patterns})",
                                             "E-stateful-pattern"))
            return None
        pattern = patterns[0]
        key = self.expr(src, (*path, "key"), model.key)
        time = self.expr(src, (*path, "time"), model.time)
        steps: list[CompiledExpression | None] = []
        total = reach = None
        if pattern == "sequence":
            assert model.sequence is not None
            steps = [self.expr(src, (*path, "sequence", i), s)
                     for i, s in enumerate(model.sequence)]
        else:
            if model.match is None:
                self.problems.append(src.problem(path, f"a `{pattern}` rule needs `match`",
                                                 "E-stateful-pattern"))
                return None
            m = self.expr(src, (*path, "match"), model.match)
            steps = [m] * (model.count or 1)
        if pattern == "total":
            assert model.total is not None
            total = self.expr(src, (*path, "total"), model.total)
            if model.reach is None:
                self.problems.append(src.problem(path, "a `total` rule needs `reach`",
                                                 "E-stateful-pattern"))
                return None
            reach = self.expr(src, (*path, "reach"), model.reach)
        if pattern != "total" and model.within is None:
            self.problems.append(src.problem(path, f"a `{pattern}` rule needs `within` (a "
                                             "window such as 1h)", "E-stateful-pattern"))
        then = self.outputs(src, (*path, "then"), model.then, ["key"])
        if key is None or time is None or any(s is None for s in steps) or (
                pattern == "total" and (total is None or reach is None)):
            return None
        window = None
        if model.within is not None:
            window = timedelta(seconds=int(model.within[:-1]) * _UNITS[model.within[-1]])
        return StatefulRule(model.id, pattern, key, time,
                            tuple(s for s in steps if s is not None), window, then, total, reach)


def _read(path: Path) -> tuple[str, str]:
    try:
        return read_yaml_text(path), str(path)
    except DefinitionError as exc:
        raise RuleError(exc.problems) from exc


def load_pack(path: str | Path, *, registry: Registry | None = None) -> RulePack:
    """Load a rule pack from a YAML file or a folder with ``pack.yaml`` (and parts).

    Raises :class:`~telcoflow.errors.RuleError` with every problem, located.
    """
    p = Path(path)
    if p.is_dir():
        head = p / "pack.yaml"
        if not head.is_file():
            raise RuleError([Problem("a rule-pack folder needs a pack.yaml", "E-pack-folder",
                                     str(p))])
        parts = [f for f in iter_yaml_files([p]) if f != head]
        files = [head, *parts]
    else:
        files = [p]
    texts = [_read(f) for f in files]
    return _compile(texts, registry)


def pack_from_text(text: str, file: str = "<string>", *,
                   registry: Registry | None = None) -> RulePack:
    """Load a one-file rule pack from YAML text."""
    return _compile([(text, file)], registry)


def _compile(texts: Sequence[tuple[str, str]], registry: Registry | None) -> RulePack:
    reg = registry or default_registry()
    digest = hashlib.sha256()
    problems: list[Problem] = []
    sources: list[tuple[_Source, RulePackModel | RulePackPartModel]] = []
    for n, (text, file) in enumerate(texts):
        digest.update(file.encode() + b"\0" + text.encode() + b"\0")
        doc = parse_yaml(text, file)
        model_type: type[RulePackModel] | type[RulePackPartModel] = (
            RulePackModel if n == 0 else RulePackPartModel)
        try:
            model = validate_document(doc, model_type)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        sources.append((_Source(doc, text), model))
    if problems:
        raise RuleError(problems)
    head = sources[0][1]
    assert isinstance(head, RulePackModel)
    b = _Builder(reg, head.context)
    lets: list[tuple[str, CompiledExpression]] = []
    decisions: list[CompiledDecision] = []
    stateful: list[StatefulRule] = []
    tests: list[PackTest] = []
    names: dict[str, str] = {}
    context_names = set(head.context or ())
    for src, model in sources:
        for name, text in model.let.items():
            path: PathKey = ("let", name)
            if name in names or name in context_names:
                b.problems.append(src.problem(path, f"let {name!r} is defined twice (or is a "
                                              "context name)", "E-pack-duplicate"))
                continue
            e = b.expr(src, path, text, list(names))
            names[name] = "let"
            if e is not None:
                lets.append((name, e))
        for i, dm in enumerate(model.decisions):
            path = ("decisions", i)
            if dm.name in names or dm.name in context_names:
                b.problems.append(src.problem((*path, "name"), f"decision name {dm.name!r} is "
                                              "already used (decision, let or context name)",
                                              "E-pack-duplicate"))
                continue
            d = b.decision(src, path, dm, list(names))
            names[dm.name] = "decision"
            if d is not None:
                decisions.append(d)
        seen_state = {s.id for s in stateful}
        for i, sm in enumerate(model.stateful):
            if sm.id in seen_state:
                b.problems.append(src.problem(("stateful", i, "id"), f"duplicate stateful rule "
                                              f"id {sm.id!r}", "E-pack-duplicate"))
                continue
            s = b.stateful(src, ("stateful", i), sm)
            if s is not None:
                stateful.append(s)
                seen_state.add(s.id)
        for i, tm in enumerate(model.tests):
            line, _ = src.doc.locate(("tests", i))
            tests.append(PackTest(tm, src.doc.file, line))
    if b.problems:
        raise RuleError(b.problems)
    return RulePack(name=head.name, version=head.version, digest=digest.hexdigest(),
                    file=texts[0][1], description=head.description, lets=lets,
                    decisions=decisions, stateful=stateful, tests=tests)
