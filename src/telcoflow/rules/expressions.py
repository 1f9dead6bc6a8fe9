"""The safe expression language of rule packs, compiled once into fast Python callables.

An expression is Python *expression* syntax restricted to an allow-list::

    payment.attempts < 3 and kyc.status == "passed"
    event.zone in ["home", "eu"] and between(event.volume_mb, 0, 1024)
    event.amount * 1.08 if account.segment == "consumer" else event.amount

Allowed: literals (text, integers, decimals, ``True``/``False``/``None`` and the aliases
``true``/``false``/``null``), lists, tuples, sets and text-keyed dicts; dotted names into the
context (``event.service``), indexing (``event.tags[0]``, ``subscriber.attrs["tier"]``);
``and``/``or``/``not``; comparisons, chained ranges (``0 <= x < 10``), ``in``/``not in``,
``is None``; ``+ - * / // %``; ``a if c else b``; calls of registered functions (see
:mod:`telcoflow.rules.functions`) and two special forms: ``has(a.b.c)`` (is the path
present?) and ``get(a.b.c, default)`` (the value, or ``default`` when the path is missing).

Everything else (attribute names starting with ``_``, method calls, lambdas,
comprehensions, ``**``, f-strings, walrus, arithmetic on text literals) is refused when the
expression is compiled, with an :class:`~telcoflow.errors.ExpressionError` located at the
offending character.

Numbers: a literal with a fraction or exponent (``1.08``) becomes an exact
:class:`~decimal.Decimal`, never a float; ``/`` always divides as Decimal. ``*``, ``/``,
``//`` and ``%`` take numbers only (``%`` never formats text).

Cost bound: whatever the context data, one evaluation stays cheap. ``+`` may build text,
lists or tuples of at most :data:`MAX_TEXT` items, and ``+`` / ``*`` integers below
``10 ** MAX_DIGITS`` in magnitude (Decimal results are bounded by the precision of the
decimal context); a larger result is refused with an :class:`EvaluationError`.

Missing paths: reading a path that is not in the context raises
:class:`EvaluationError` naming the path (``event.zone is missing (have: service, volume)``);
use ``has()`` or ``get()`` for optional data. Values may be mappings (fast) or objects with
attributes (slower fallback).

How it is compiled: the source is parsed with :mod:`ast` in eval mode, every node is checked
against the allow-list and *rewritten into a new tree built here* (dotted access becomes
subscripts, decimal literals become bound constants, calls go to bound functions only), and
that tree, never the user's text, is compiled into a function.
"""

from __future__ import annotations

import ast
import decimal
import difflib
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from types import CodeType, FunctionType
from typing import Any

from telcoflow.errors import (
    EvaluationError,  # re-exported: defined in errors.py
    ExpressionError,
    Problem,
    TelcoflowError,
)
from telcoflow.money import Money
from telcoflow.rules.registry import default_registry

__all__ = [
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_LENGTH",
    "MAX_TEXT",
    "CompiledExpression",
    "EvaluationError",
    "compile_expression",
    "resolve_path",
]

MAX_LENGTH = 2000
"""Longest accepted expression, in characters."""
MAX_DEPTH = 40
"""Deepest accepted nesting of the syntax tree."""
MAX_NODES = 500
"""Most syntax nodes in one expression."""
MAX_TEXT = 100_000
"""Longest text (characters), list or tuple (items) that ``+`` may build at run time."""
MAX_DIGITS = 100
"""Integers built by ``+`` and ``*`` must stay below ``10 ** MAX_DIGITS`` in magnitude."""

_ALIASES: dict[str, Any] = {"true": True, "false": False, "null": None}
_SPECIAL = ("has", "get")
_CATCH = (LookupError, TypeError, AttributeError, ArithmeticError, ValueError)
_MISSING = object()




def resolve_path(context: Any, path: tuple[str | int, ...]) -> Any:
    """Follow ``path`` through mappings, sequences and attributes; ``_MISSING``-safe.

    Returns the value, or raises ``LookupError`` naming the first missing step.
    """
    cur = context
    for i, key in enumerate(path):
        nxt = _step(cur, key)
        if nxt is _MISSING:
            raise LookupError(_missing_message(cur, path[: i + 1]))
        cur = nxt
    return cur


def _step(obj: Any, key: Any) -> Any:
    if type(obj) is dict:  # the common case first: isinstance(..., Mapping) is an ABC check
        return obj.get(key, _MISSING)
    if isinstance(obj, Mapping):
        return obj.get(key, _MISSING)
    if isinstance(key, int) and isinstance(obj, (list, tuple)):
        return obj[key] if -len(obj) <= key < len(obj) else _MISSING
    if isinstance(key, str) and not key.startswith("_") and not isinstance(obj, (str, bytes)):
        return getattr(obj, key, _MISSING)
    try:
        return obj[key]
    except (LookupError, TypeError):
        return _MISSING


def _dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int) or not part.isidentifier():
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


def _missing_message(parent: Any, path: tuple[str | int, ...]) -> str:
    if parent is None:
        return f"{_dotted(path)} is missing ({_dotted(path[:-1]) or 'the parent'} is None)"
    if isinstance(parent, Mapping):
        have = ", ".join(sorted(str(k) for k in parent)[:12]) or "nothing"
        return f"{_dotted(path)} is missing (have: {have})"
    return f"{_dotted(path)} is missing (in a {type(parent).__name__})"


class CompiledExpression:
    """An expression compiled into a Python function: call it with a context mapping.

    ``source`` is the text, ``names`` the top-level context names it reads, ``paths`` the
    dotted paths it reads (as tuples), ``fn`` the raw compiled function (same result as
    calling the object, one call cheaper: use it on hot paths). ``equalities`` maps each
    path that the expression requires to equal a constant (a top-level ``and`` term
    ``path == "x"`` or ``path in ["x", "y"]``) to the accepted values: rule indexes use it.
    """

    __slots__ = ("column", "equalities", "file", "fn", "line", "names", "paths", "source")

    def __init__(self, source: str, fn: Callable[[Mapping[str, Any]], Any],
                 names: frozenset[str], paths: tuple[tuple[str | int, ...], ...],
                 file: str | None, line: int | None, column: int | None) -> None:
        self.source = source
        self.fn = fn
        self.names = names
        self.paths = paths
        self.file = file
        self.line = line
        self.column = column
        self.equalities: dict[tuple[str | int, ...], frozenset[Any]] = {}

    def __call__(self, context: Mapping[str, Any]) -> Any:
        """Evaluate against ``context``; raises :class:`EvaluationError` on failure."""
        return self.fn(context)

    def seen(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The values of the paths this expression reads, for traces (missing ones skipped)."""
        out: dict[str, Any] = {}
        for p in self.paths:
            try:
                out[_dotted(p)] = resolve_path(context, p)
            except LookupError:
                continue
        return out

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


# -- compile ---------------------------------------------------------------------------------


class _Compiler:
    """Checks a parsed tree against the allow-list and builds the new tree."""

    def __init__(self, source: str, functions: Mapping[str, Callable[..., Any]],
                 allowed_names: Collection[str] | None, file: str | None,
                 line: int | None, column: int | None) -> None:
        self.source = source
        self.lines = source.splitlines() or [""]
        self.functions = functions
        self.allowed = allowed_names
        self.file, self.line, self.column = file, line, column
        self.problems: list[Problem] = []
        self.consts: dict[str, Any] = {}
        self.const_ids: dict[tuple[type, Any], str] = {}
        self.names: set[str] = set()
        self.paths: dict[tuple[str | int, ...], None] = {}
        self.nodes = 0
        self.slow = False

    # positions ---------------------------------------------------------------------------
    def locate(self, lineno: int, byte_col: int) -> tuple[int | None, int | None]:
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        char_col = len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
        if self.line is None:
            return lineno, char_col + 1
        # later lines: YAML block scalars strip the block's indentation, which is the
        # column of the first line
        return self.line + lineno - 1, (self.column or 1) + char_col

    def problem(self, node: ast.AST | None, message: str, code: str) -> None:
        lineno = getattr(node, "lineno", None)
        if lineno is not None:
            line, col = self.locate(lineno, getattr(node, "col_offset", 0))
        else:
            line, col = self.line, self.column
        self.problems.append(Problem(f"{message} in `{self.source}`", code, self.file, line, col))

    def const(self, value: Any) -> ast.expr:
        key = (type(value), value)
        name = self.const_ids.get(key)
        if name is None:
            name = f"_k{len(self.consts)}"
            self.consts[name] = value
            self.const_ids[key] = name
        return ast.Name(name, ast.Load())

    # rewrite -----------------------------------------------------------------------------
    def visit(self, node: ast.AST, depth: int) -> ast.expr:
        self.nodes += 1
        if depth > MAX_DEPTH:
            self.problem(node, f"expression nested deeper than {MAX_DEPTH} levels", "E-expr-depth")
            raise _AbortError
        if self.nodes > MAX_NODES:
            self.problem(node, f"expression has more than {MAX_NODES} parts", "E-expr-size")
            raise _AbortError
        method = getattr(self, "v_" + type(node).__name__.lower(), None)
        if method is None:
            self.problem(node, f"{_describe(node)} is not allowed", "E-expr-syntax")
            return ast.Constant(None)
        out: ast.expr = method(node, depth + 1)
        return ast.copy_location(out, node)

    def v_constant(self, node: ast.Constant, depth: int) -> ast.expr:
        v = node.value
        if v is None or isinstance(v, (bool, str, int)):
            return ast.Constant(v)
        if isinstance(v, float):
            text = ast.get_source_segment(self.source, node) or repr(v)
            try:
                return self.const(Decimal(text.replace("_", "")))
            except decimal.InvalidOperation:  # pragma: no cover - ast accepted the literal
                self.problem(node, f"bad number {text!r}", "E-expr-number")
                return ast.Constant(None)
        self.problem(node, f"literal {v!r} is not allowed (text, integers and decimals only)",
                     "E-expr-syntax")
        return ast.Constant(None)

    def v_name(self, node: ast.Name, depth: int) -> ast.expr:
        if node.id in _ALIASES:
            return ast.Constant(_ALIASES[node.id])
        if node.id in self.functions or node.id in _SPECIAL:
            self.problem(node, f"function `{node.id}` must be called: {node.id}(...)",
                         "E-expr-name")
            return ast.Constant(None)
        self.check_name(node, node.id)
        self.paths.setdefault((node.id,), None)
        return self.lookup(ast.Name("ctx", ast.Load()), ast.Constant(node.id), (node.id,))

    def check_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("_"):
            self.problem(node, f"names starting with '_' are not allowed ({name!r})",
                         "E-expr-name")
        elif self.allowed is not None and name not in self.allowed:
            self.problem(node, f"unknown name {name!r}{_suggest(name, self.allowed)}",
                         "E-expr-name")
        self.names.add(name)

    def lookup(self, obj: ast.expr, key: ast.expr, path: tuple[str | int, ...] | None) -> ast.expr:
        if self.slow:
            return ast.Call(ast.Name("_get", ast.Load()),
                            [obj, key, ast.Constant(_dotted(path) if path else None)], [])
        return ast.Subscript(obj, key, ast.Load())

    def static_path(self, node: ast.expr) -> tuple[str | int, ...] | None:
        if isinstance(node, ast.Name) and node.id not in _ALIASES:
            return (node.id,)
        if isinstance(node, ast.Attribute):
            base = self.static_path(node.value)
            return None if base is None else (*base, node.attr)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, (str, int)) \
                and not isinstance(node.slice.value, bool):
            base = self.static_path(node.value)
            return None if base is None else (*base, node.slice.value)
        return None

    def v_attribute(self, node: ast.Attribute, depth: int) -> ast.expr:
        if node.attr.startswith("_"):
            self.problem(node, f"names starting with '_' are not allowed ({node.attr!r})",
                         "E-expr-name")
        path = self.static_path(node)
        if path is not None:
            self.paths.pop(path[:-1], None)
            self.paths.setdefault(path, None)
        return self.lookup(self.visit(node.value, depth), ast.Constant(node.attr), path)

    def v_subscript(self, node: ast.Subscript, depth: int) -> ast.expr:
        if isinstance(node.slice, ast.Slice):
            self.problem(node, "slices are not allowed", "E-expr-syntax")
            return ast.Constant(None)
        path = self.static_path(node)
        if path is not None:
            self.paths.pop(path[:-1], None)
            self.paths.setdefault(path, None)
        return self.lookup(self.visit(node.value, depth), self.visit(node.slice, depth), path)

    def v_boolop(self, node: ast.BoolOp, depth: int) -> ast.expr:
        return ast.BoolOp(node.op.__class__(), [self.visit(v, depth) for v in node.values])

    def v_unaryop(self, node: ast.UnaryOp, depth: int) -> ast.expr:
        if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            self.problem(node, "operator `~` is not allowed", "E-expr-syntax")
        return ast.UnaryOp(node.op.__class__(), self.visit(node.operand, depth))

    def v_binop(self, node: ast.BinOp, depth: int) -> ast.expr:
        op = node.op
        if not isinstance(op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)):
            text = _OP_TEXT.get(type(op), type(op).__name__)
            self.problem(node, f"operator {text} is not allowed", "E-expr-syntax")
        for side in (node.left, node.right):
            if isinstance(side, ast.Constant) and isinstance(side.value, str) \
                    and not isinstance(op, ast.Add):
                self.problem(side, "arithmetic on text is not allowed (only + joins text)",
                             "E-expr-type")
            elif isinstance(side, (ast.List, ast.Tuple, ast.Set, ast.Dict)) \
                    and not isinstance(op, ast.Add):
                self.problem(side, "arithmetic on collections is not allowed", "E-expr-type")
        left, right = self.visit(node.left, depth), self.visit(node.right, depth)
        if isinstance(op, ast.Add) and not (_is_number(node.left) or _is_number(node.right)):
            # adding a number literal cannot grow text or a number much: plain `+` (fast);
            # anything else may join long text from the data: `_add` bounds the result
            return ast.Call(ast.Name("_add", ast.Load()), [left, right], [])
        if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod, ast.Mult)):
            helper = {ast.Div: "_div", ast.FloorDiv: "_floordiv", ast.Mod: "_mod",
                      ast.Mult: "_mul"}[type(op)]
            return ast.Call(ast.Name(helper, ast.Load()), [left, right], [])
        return ast.BinOp(left, op.__class__(), right)

    def v_compare(self, node: ast.Compare, depth: int) -> ast.expr:
        comparators: list[ast.expr] = []
        for op, comp in zip(node.ops, node.comparators, strict=True):
            is_none = (isinstance(comp, ast.Constant) and comp.value is None) or (
                isinstance(comp, ast.Name) and comp.id == "null")
            if isinstance(op, (ast.Is, ast.IsNot)) and not is_none:
                self.problem(comp, "`is` / `is not` may only compare with None", "E-expr-syntax")
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(
                    comp, (ast.List, ast.Tuple, ast.Set)):
                folded = self.fold_set(comp)
                if folded is not None:
                    comparators.append(ast.copy_location(folded, comp))
                    continue
            comparators.append(self.visit(comp, depth))
        return ast.Compare(self.visit(node.left, depth), [o.__class__() for o in node.ops],
                           comparators)

    def fold_set(self, node: ast.List | ast.Tuple | ast.Set) -> ast.expr | None:
        values: list[Any] = []
        for elt in node.elts:
            if not isinstance(elt, ast.Constant):
                return None
            v: Any = elt.value
            if isinstance(v, float):
                text = ast.get_source_segment(self.source, elt) or repr(v)
                v = Decimal(text.replace("_", ""))
            elif not (v is None or isinstance(v, (str, int, bool))):
                return None
            values.append(v)
        self.nodes += len(values)
        return self.const(frozenset(values))

    def v_ifexp(self, node: ast.IfExp, depth: int) -> ast.expr:
        return ast.IfExp(self.visit(node.test, depth), self.visit(node.body, depth),
                         self.visit(node.orelse, depth))

    def v_list(self, node: ast.List, depth: int) -> ast.expr:
        return ast.List([self.visit(e, depth) for e in node.elts], ast.Load())

    def v_tuple(self, node: ast.Tuple, depth: int) -> ast.expr:
        return ast.Tuple([self.visit(e, depth) for e in node.elts], ast.Load())

    def v_set(self, node: ast.Set, depth: int) -> ast.expr:
        return ast.Set([self.visit(e, depth) for e in node.elts])

    def v_dict(self, node: ast.Dict, depth: int) -> ast.expr:
        keys: list[ast.expr | None] = []
        for k in node.keys:
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                self.problem(k or node, "dict keys must be text literals", "E-expr-syntax")
                keys.append(ast.Constant(None))
            else:
                keys.append(ast.Constant(k.value))
        return ast.Dict(keys, [self.visit(v, depth) for v in node.values])

    def v_call(self, node: ast.Call, depth: int) -> ast.expr:
        func = node.func
        if not isinstance(func, ast.Name):
            what = "method calls" if isinstance(func, ast.Attribute) else "this call"
            self.problem(node, f"{what} are not allowed; call a registered function by name",
                         "E-expr-call")
            return ast.Constant(None)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            self.problem(node, "keyword and * arguments are not allowed", "E-expr-call")
            return ast.Constant(None)
        if func.id in _SPECIAL:
            return self.special(node, func.id, depth)
        fn = self.functions.get(func.id)
        if fn is None:
            self.problem(func, f"unknown function {func.id!r}{_suggest(func.id, self.functions)}",
                         "E-expr-function")
            return ast.Constant(None)
        return ast.Call(self.const(fn), [self.visit(a, depth) for a in node.args], [])

    def special(self, node: ast.Call, name: str, depth: int) -> ast.expr:
        want = 1 if name == "has" else 2
        if len(node.args) != want:
            self.problem(node, f"{name}() takes {want} argument{'s' if want > 1 else ''}",
                         "E-expr-call")
            return ast.Constant(None)
        target = node.args[0]
        path = self.static_path(target)
        if path is None:
            self.problem(target, f"{name}() needs a dotted path such as event.zone",
                         "E-expr-call")
            return ast.Constant(None)
        if isinstance(path[0], str):
            self.check_name(target, path[0])
        self.paths.setdefault(path, None)
        missing: ast.expr = ast.Name("_M", ast.Load()) if name == "has" \
            else self.visit(node.args[1], depth)
        call = ast.Call(ast.Name("_lookup", ast.Load()),
                        [ast.Name("ctx", ast.Load()), self.const(path), missing], [])
        if name == "has":
            return ast.Compare(call, [ast.IsNot()], [ast.Name("_M", ast.Load())])
        return call  # get(path, default): the lookup returns the default when missing


class _AbortError(Exception):
    """Too deep or too big: stop compiling at once."""


def _is_number(node: ast.expr) -> bool:
    """A number literal (``1``, ``-2.5``), never text, a list or a path."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
        and not isinstance(node.value, bool)


_OP_TEXT = {ast.Pow: "`**`", ast.BitAnd: "`&`", ast.BitOr: "`|`", ast.BitXor: "`^`",
            ast.LShift: "`<<`", ast.RShift: "`>>`", ast.MatMult: "`@`"}


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    if close:
        return f" (did you mean {' or '.join(repr(c) for c in close)}?)"
    shown = sorted(known)[:8]
    more = ", ..." if len(known) > len(shown) else ""
    return f" (known: {', '.join(shown) or 'none'}{more})"


def _describe(node: ast.AST) -> str:
    names = {
        "Lambda": "lambda", "ListComp": "a comprehension", "SetComp": "a comprehension",
        "DictComp": "a comprehension", "GeneratorExp": "a generator", "NamedExpr": "`:=`",
        "JoinedStr": "an f-string", "FormattedValue": "an f-string", "Await": "await",
        "Yield": "yield", "YieldFrom": "yield", "Starred": "`*`", "Slice": "a slice",
    }
    return names.get(type(node).__name__, f"`{type(node).__name__}`")


# -- runtime helpers bound into every compiled function --------------------------------------


def _to_dec(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return Decimal(v)
    return v


_NUMBERS = (int, Decimal, float, Money)
_MAX_INT = 10**MAX_DIGITS


class _CostError(ArithmeticError):
    """A result too large to build (see :data:`MAX_TEXT` and :data:`MAX_DIGITS`)."""


def _bounded(result: Any, op: str) -> Any:
    """``result`` if it is within the cost bound, else :class:`_CostError` (the slow part of
    the check: :func:`_add` and :func:`_mul` pass Decimal and small int results at once)."""
    kind = type(result)
    if kind is int:
        if -_MAX_INT < result < _MAX_INT:
            return result
        raise _CostError(f"`{op}` would give an integer of {MAX_DIGITS + 1} digits or more "
                         f"(at most {MAX_DIGITS})")
    if (kind is str or kind is list or kind is tuple) and len(result) > MAX_TEXT:
        unit = "characters" if kind is str else "items"
        raise _CostError(f"`{op}` would build a {kind.__name__} of {len(result):,} {unit} "
                         f"(at most {MAX_TEXT:,})")
    return result


def _numbers(op: str, a: Any, b: Any) -> None:
    if not (isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS)):
        raise TypeError(f"`{op}` needs numbers, got {type(a).__name__} and {type(b).__name__}")


def _add(a: Any, b: Any) -> Any:
    # text and lists from context data may be joined, within MAX_TEXT
    result = a + b
    # a Decimal's cost is bounded by the context precision: the common case returns at once
    return result if type(result) is Decimal else _bounded(result, "+")


def _mul(a: Any, b: Any) -> Any:
    # numbers only: "x" * 10**9 or [0] * 10**9 from context data must not exhaust memory
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        left: Any = a
        product = left * b  # Decimal x float raises TypeError, reported like any other
        return product if type(product) is Decimal else _bounded(product, "*")
    raise TypeError(f"`*` needs numbers, got {type(a).__name__} and {type(b).__name__}")


def _div(a: Any, b: Any) -> Any:
    return _to_dec(a) / _to_dec(b)


def _floordiv(a: Any, b: Any) -> Any:
    return _to_dec(a) // _to_dec(b)


def _mod(a: Any, b: Any) -> Any:
    # numbers only: with text on the left, Python's `%` formats ("%999999999d" % 1)
    _numbers("%", a, b)
    return _to_dec(a) % _to_dec(b)


def _lookup(ctx: Any, path: tuple[str | int, ...], missing: Any) -> Any:
    cur = ctx
    for key in path:
        # plain dicts without raising (a missing optional field is the common case)
        cur = cur.get(key, _MISSING) if type(cur) is dict else _step(cur, key)
        if cur is _MISSING:
            return missing
    return cur


def _make_get(source: str, where: str | None) -> Callable[[Any, Any, str | None], Any]:
    def _get(obj: Any, key: Any, path: str | None) -> Any:
        v = _step(obj, key)
        if v is _MISSING:
            if path is None:
                raise EvaluationError(f"index {key!r} is missing", source=source, where=where)
            parts = _split_dotted(path)
            raise EvaluationError(_missing_message(obj, parts), source=source, path=path,
                                  where=where)
        return v

    return _get


def _split_dotted(path: str) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for chunk in path.replace("[", ".[").split("."):
        if not chunk:
            continue
        if chunk.startswith("["):
            inner = chunk[1:-1]
            out.append(int(inner) if inner.lstrip("-").isdigit() else inner.strip("'\""))
        else:
            out.append(chunk)
    return tuple(out)


_BASE_BINDINGS: dict[str, Any] = {
    "_add": _add, "_div": _div, "_floordiv": _floordiv, "_mod": _mod, "_mul": _mul,
    "_lookup": _lookup, "_M": _MISSING,
}


def _build_function(body: ast.expr, bindings: dict[str, Any], name: str,
                    handler: bool) -> FunctionType:
    """Compile ``def name(ctx): return body`` from our own tree.

    ``bindings`` (constants, functions, helpers) become the function's globals: a plain
    one-argument function keeps CPython's fastest call path (keyword-only defaults would
    halve the call rate). Python's builtins are not reachable (``__builtins__`` is empty).
    """
    stmt: ast.stmt = ast.Return(body)
    if handler:
        stmt = ast.Try(
            body=[stmt],
            handlers=[ast.ExceptHandler(
                type=ast.Name("_CATCH", ast.Load()), name="_e",
                body=[ast.Return(ast.Call(ast.Name("_slow", ast.Load()),
                                          [ast.Name("ctx", ast.Load()),
                                           ast.Name("_e", ast.Load())], []))])],
            orelse=[], finalbody=[])
    args = ast.arguments(
        posonlyargs=[], args=[ast.arg("ctx")], vararg=None, kwonlyargs=[], kw_defaults=[],
        kwarg=None, defaults=[])
    fdef = ast.FunctionDef(name=name, args=args, body=[stmt], decorator_list=[], returns=None,
                           type_comment=None)
    if hasattr(ast, "TypeAlias"):  # Python 3.12+: FunctionDef grew type_params
        fdef.type_params = []  # type: ignore[attr-defined,unused-ignore]
    module = ast.Module(body=[fdef], type_ignores=[])
    ast.fix_missing_locations(module)
    with warnings.catch_warnings():
        # CPython warns about e.g. "s"["x"]: the runtime error is ours to report
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile(module, "<telcoflow-expression>", "exec")
    fcode = next(c for c in code.co_consts if isinstance(c, CodeType))
    namespace: dict[str, Any] = {"__builtins__": {}}
    namespace.update(bindings)
    return FunctionType(fcode, namespace, name)


def compile_expression(
    source: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    allowed_names: Collection[str] | None = None,
) -> CompiledExpression:
    """Compile ``source`` once into a :class:`CompiledExpression`.

    ``file``/``line``/``column`` locate the expression's first character in its file, so
    that problems point at ``file:line:column`` of the offending character.
    ``functions`` overrides the callable functions (default: the registry's);
    ``allowed_names``, when given, lists the top-level names the context will have.

    Raises :class:`~telcoflow.errors.ExpressionError` with every problem found.
    """
    if functions is None:
        functions = default_registry().functions
    where = None
    if file is not None:
        where = f"{file}:{line}:{column}" if line is not None else file
    if not isinstance(source, str):
        raise ExpressionError([Problem(f"an expression must be text, got {source!r}",
                                       "E-expr-type", file, line, column)])
    if len(source) > MAX_LENGTH:
        raise ExpressionError([Problem(
            f"expression is {len(source)} characters long (at most {MAX_LENGTH})",
            "E-expr-length", file, line, column)])
    text = source.strip()
    if not text:
        raise ExpressionError([Problem("empty expression", "E-expr-empty", file, line, column)])
    lead = len(source) - len(source.lstrip())
    if lead and line is not None and "\n" not in source[:lead]:
        column = (column or 1) + lead
    comp = _Compiler(text, functions, allowed_names, file, line, column)
    try:
        # parse a parenthesised copy so that multi-line YAML text parses as one expression
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # invalid escapes
            tree = ast.parse(f"(\n{text}\n)", mode="eval")
        tree = _unwrap(tree)
    except SyntaxError as exc:
        lineno = max((exc.lineno or 2) - 1, 1)
        col = max((exc.offset or 1) - 1, 0)
        if lineno > len(comp.lines):
            lineno, col = len(comp.lines), len(comp.lines[-1])
        at_line, at_col = comp.locate(lineno, len(comp.lines[lineno - 1][:col].encode("utf-8")))
        raise ExpressionError([Problem(f"syntax error: {exc.msg} in `{text}`",
                                       "E-expr-syntax", file, at_line, at_col)]) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError([Problem(f"expression cannot be parsed ({type(exc).__name__})",
                                       "E-expr-syntax", file, line, column)]) from None
    try:
        fast_body = comp.visit(tree.body, 0)
    except _AbortError:
        raise ExpressionError(comp.problems) from None
    if comp.problems:
        raise ExpressionError(comp.problems)
    comp.slow = True
    comp.nodes = 0
    slow_body = comp.visit(tree.body, 0)

    bindings = dict(_BASE_BINDINGS)
    bindings.update(comp.consts)
    slow_bindings = dict(bindings)
    slow_bindings["_get"] = _make_get(text, where)
    slow_fn = _build_function(slow_body, slow_bindings, "expression_checked", handler=False)

    def _slow(ctx: Any, exc: BaseException) -> Any:
        try:
            return slow_fn(ctx)
        except TelcoflowError:
            raise
        except _CostError as err:
            raise EvaluationError(f"cost bound: {err}", source=text, where=where) from err
        except _CATCH as err:
            raise EvaluationError(f"{type(err).__name__}: {err}", source=text,
                                  where=where) from err

    bindings["_slow"] = _slow
    bindings["_CATCH"] = _CATCH
    fn = _build_function(fast_body, bindings, "expression", handler=True)
    paths = tuple(p for p in comp.paths
                  if not any(len(q) > len(p) and q[: len(p)] == p for q in comp.paths))
    compiled = CompiledExpression(text, fn, frozenset(comp.names), paths, file, line, column)
    compiled.equalities = _equalities(tree.body, comp)
    return compiled


def _equalities(body: ast.expr, comp: _Compiler) -> dict[tuple[str | int, ...], frozenset[Any]]:
    terms = body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) \
        else [body]
    out: dict[tuple[str | int, ...], frozenset[Any]] = {}
    for term in terms:
        if not (isinstance(term, ast.Compare) and len(term.ops) == 1):
            continue
        op, left, right = term.ops[0], term.left, term.comparators[0]
        if isinstance(op, ast.Eq) and isinstance(left, ast.Constant):
            left, right = right, left
        path = comp.static_path(left)
        if path is None:
            continue
        values: list[Any] = []
        if isinstance(op, ast.Eq):
            items = [right]
        elif isinstance(op, ast.In) and isinstance(right, (ast.List, ast.Tuple, ast.Set)):
            items = list(right.elts)
        else:
            continue
        for item in items:
            v = _literal(item, comp.source)
            if v is _MISSING:
                break
            values.append(v)
        else:
            found = frozenset(values)
            out[path] = out[path] & found if path in out else found
    return out


def _literal(node: ast.expr, source: str) -> Any:
    if isinstance(node, ast.Name) and node.id in _ALIASES:
        return _ALIASES[node.id]
    if not isinstance(node, ast.Constant):
        return _MISSING
    v = node.value
    if isinstance(v, float):
        return Decimal((ast.get_source_segment(source, node) or repr(v)).replace("_", ""))
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return _MISSING


def _unwrap(tree: ast.Expression) -> ast.Expression:
    """Shift positions back by the ``(\\n`` prefix added before parsing."""
    for node in ast.walk(tree):
        if hasattr(node, "lineno"):
            node.lineno -= 1
            end = getattr(node, "end_lineno", None)
            if end is not None:
                node.end_lineno = end - 1  # type: ignore[attr-defined]
    return tree
