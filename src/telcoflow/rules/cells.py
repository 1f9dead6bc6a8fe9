"""The cell language of decision tables: one input cell -> one condition over the input.

A cell is turned into expression text over the input expression (compiled later with the
rest of the row, so that problems are located in the file). The DMN 1.3 rules for unary
tests hold: an input that is null or of another type than the cell's value simply makes
the cell (and so the row) not match, and booleans are never numbers (``1`` does not match
``true``). Text cells are compared with ``==`` inline (text never equals a number, a
boolean or null, and the rule index can settle them); every other test goes through one of
the ``dmn_*`` functions below, registered with the built-in functions.

=====================  ==================================  =====================================
Cell                   Meaning                             Compiled to
=====================  ==================================  =====================================
``-``, empty, null     any value (also null)               nothing
``home``               equals the text ``home``            ``(input) == 'home'``
``12``, ``true``       equals the number / boolean         ``dmn_eq((input), 12)``
``[a, b]`` (a list)    equals one of them                  ``(input) in [...]`` / ``dmn_in``
``"< 10"``, ``">= x"`` comparison with an expression       ``dmn_lt((input), (10))`` ...
``"== null"``          equals null                         ``dmn_eq((input), (null))``
``"!= 'home'"``        not equal (null is "not equal")     ``not dmn_eq(...)``
``"[0..100)"``         range; ``[``/``]`` include the end  ``dmn_range((input), (0), (100), ...)``
``"not(1, 2)"``        none of the values                  ``not dmn_in((input), [1, 2])``
``"? % 2 == 0"``       an expression, ``?`` is the input   ``((input) % 2 == 0)``
=====================  ==================================  =====================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from telcoflow.errors import ArgumentError

__all__ = [
    "CELL_FUNCTIONS",
    "cell_text",
    "dmn_eq",
    "dmn_ge",
    "dmn_gt",
    "dmn_in",
    "dmn_le",
    "dmn_lt",
    "dmn_range",
    "eq_text",
    "is_indexable",
    "is_test",
    "literal",
    "replace_input",
]

PATH_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
RANGE_RE = re.compile(r"^([\[\(\]])\s*(.+?)\s*\.\.\s*(.+?)\s*([\]\)\[])$")
CMP_RE = re.compile(r"^(<=|>=|<|>|!=|==)\s*(.+)$")
NOT_RE = re.compile(r"^not\s*\((.*)\)$", re.DOTALL)


# -- the DMN unary-test functions ------------------------------------------------------------


def _kind(value: Any) -> str | None:
    """The DMN type family of ``value``: None for null; booleans are not numbers."""
    cls = value.__class__
    if cls is str:
        return "string"
    if cls is int or cls is Decimal:
        return "number"
    if cls is bool:
        return "boolean"
    if value is None:
        return None
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return "boolean"
    if isinstance(value, (int, Decimal, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    return type(value).__name__


def dmn_eq(value: Any, test: Any) -> bool:
    """DMN equality of an input and a cell value: null equals only null, values of two
    types (a boolean and a number, a number and text) are never equal."""
    if value is None or test is None:
        return value is None and test is None
    kind = _kind(value)
    if kind != _kind(test):
        return False
    try:
        return bool(value == test)
    except TypeError:  # e.g. naive and aware datetimes
        return False


def _ordered(value: Any, test: Any) -> bool:
    kind = _kind(value)
    return kind is not None and kind != "boolean" and kind == _kind(test)


def dmn_lt(value: Any, test: Any) -> bool:
    """``value < test`` when both are of one ordered type; otherwise no match."""
    try:
        return _ordered(value, test) and bool(value < test)
    except TypeError:
        return False


def dmn_le(value: Any, test: Any) -> bool:
    """``value <= test`` when both are of one ordered type; otherwise no match."""
    try:
        return _ordered(value, test) and bool(value <= test)
    except TypeError:
        return False


def dmn_gt(value: Any, test: Any) -> bool:
    """``value > test`` when both are of one ordered type; otherwise no match."""
    try:
        return _ordered(value, test) and bool(value > test)
    except TypeError:
        return False


def dmn_ge(value: Any, test: Any) -> bool:
    """``value >= test`` when both are of one ordered type; otherwise no match."""
    try:
        return _ordered(value, test) and bool(value >= test)
    except TypeError:
        return False


def dmn_range(value: Any, low: Any, high: Any, low_closed: bool, high_closed: bool) -> bool:
    """Whether ``value`` lies in the range (each end included when ``*_closed``); a value
    of another type than the ends (or null) is not in it."""
    cls = value.__class__
    if (cls is int or cls is Decimal) and low.__class__ in _NUMS and high.__class__ in _NUMS:
        above = low <= value if low_closed else low < value
        return bool(above and (value <= high if high_closed else value < high))
    try:
        if not (_ordered(value, low) and _ordered(value, high)):
            return False
        above = low <= value if low_closed else low < value
        return bool(above and (value <= high if high_closed else value < high))
    except TypeError:
        return False


_NUMS = frozenset({int, Decimal})


def dmn_in(value: Any, tests: Any) -> bool:
    """Whether ``value`` equals (by :func:`dmn_eq`) one of ``tests``."""
    return any(dmn_eq(value, t) for t in tests)


CELL_FUNCTIONS: dict[str, Callable[..., bool]] = {
    "dmn_eq": dmn_eq, "dmn_lt": dmn_lt, "dmn_le": dmn_le, "dmn_gt": dmn_gt, "dmn_ge": dmn_ge,
    "dmn_range": dmn_range, "dmn_in": dmn_in,
}
"""The functions table cells compile to (registered with the built-in functions)."""

_CMP_FN = {"<": "dmn_lt", "<=": "dmn_le", ">": "dmn_gt", ">=": "dmn_ge"}


# -- cell text -> condition text ---------------------------------------------------------------


def literal(value: Any) -> str:
    """``value`` as an expression literal (text, number, boolean or null)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    raise ArgumentError(f"cell values must be text, numbers, booleans or null (got {value!r})")


def eq_text(path: str, value: Any) -> str:
    """The condition of a rule's ``when`` entry: ``path`` equals ``value`` (or one of a list)."""
    if isinstance(value, list):
        return f"{path} in [{', '.join(literal(v) for v in value)}]"
    return f"{path} == {literal(value)}"


def replace_input(text: str, input_src: str) -> str:
    """``text`` with every ``?`` outside quoted text replaced by ``input_src``."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append(input_src)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _has_input_mark(text: str) -> bool:
    return replace_input(text, "\0") != text


def is_test(cell: str) -> bool:
    """Whether a text cell is a test (range, comparison, not(), ``?``) rather than text."""
    s = cell.strip()
    return bool(RANGE_RE.match(s) or CMP_RE.match(s) or NOT_RE.match(s) or _has_input_mark(s))


def is_indexable(cell: Any) -> bool:
    """Whether the cell is an equality on text (or a list of texts) the index can settle."""
    if isinstance(cell, str):
        s = cell.strip()
        return s not in ("", "-") and not is_test(s)
    if isinstance(cell, list):
        return bool(cell) and all(isinstance(v, str) for v in cell)
    return False


def cell_text(cell: Any, input_src: str) -> str | None:
    """An input cell as a condition over the input expression (None: any value).

    Raises ``ValueError`` for a cell that is not a cell (a mapping, a float).
    """
    inp = f"({input_src})"
    if cell is None or cell == "-" or cell == "":
        return None
    if isinstance(cell, list):
        if cell and all(isinstance(v, str) for v in cell):
            return f"{inp} in [{', '.join(literal(v) for v in cell)}]"
        return f"dmn_in({inp}, [{', '.join(literal(v) for v in cell)}])"
    if not isinstance(cell, str):
        return f"dmn_eq({inp}, {literal(cell)})"
    s = cell.strip()
    m = RANGE_RE.match(s)
    if m:
        return (f"dmn_range({inp}, ({m[2]}), ({m[3]}), {m[1] == '['}, {m[4] == ']'})")
    m = CMP_RE.match(s)
    if m:
        if m[1] == "==":
            return f"dmn_eq({inp}, ({m[2]}))"
        if m[1] == "!=":
            return f"not dmn_eq({inp}, ({m[2]}))"
        return f"{_CMP_FN[m[1]]}({inp}, ({m[2]}))"
    m = NOT_RE.match(s)
    if m:
        return f"not dmn_in({inp}, [{m[1]}])"
    if _has_input_mark(s):
        return "(" + replace_input(s, inp) + ")"
    return f"{inp} == {literal(s)}"  # keep in step with is_test
