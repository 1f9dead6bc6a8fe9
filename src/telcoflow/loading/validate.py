"""Validate parsed YAML against pydantic models; every error located at file:line:col."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

import pydantic

from telcoflow.errors import DefinitionError, Problem
from telcoflow.loading.source import Document, format_path
from telcoflow.money import NonDecimalInt

__all__ = ["load_each", "problems_from_validation_error", "validate_document"]

M = TypeVar("M", bound=pydantic.BaseModel)
T = TypeVar("T")
S = TypeVar("S")

_MAX_FOUND = 60


def _found(value: Any) -> str:
    # numbers as written (``-5.00``, never ``Decimal('-5.00')``); text quoted
    if isinstance(value, NonDecimalInt):
        text = value.text
    else:
        text = str(value) if isinstance(value, (Decimal, int)) else repr(value)
    return text if len(text) <= _MAX_FOUND else text[: _MAX_FOUND - 3] + "..."


def problems_from_validation_error(
    doc: Document, exc: pydantic.ValidationError, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    """Turn a pydantic error into located problems: what was expected, what was found."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        # Drop union/discriminator tags that pydantic inserts but the YAML does not have.
        path: list[str | int] = []
        for part in loc:
            candidate = (*path, part)
            if doc.locate(candidate) != doc.locate(tuple(path)) or _exists(doc.data, candidate):
                path.append(part)
        if doc.covers(path):
            continue  # the value there could not be read: its parse problem says why
        line, col = doc.locate(path)
        kind = err["type"]
        if kind == "missing":
            msg = f"missing required field `{loc[-1]}`"
        elif kind == "extra_forbidden":
            msg = f"unknown field `{loc[-1]}` (not allowed here)"
        else:
            msg = f"{err['msg']} (found {_found(err.get('input'))})"
        out.append(Problem(msg, f"E-{kind}", doc.file, line, col, format_path(path)))
    return out


def _exists(data: Any, path: tuple[str | int, ...]) -> bool:
    cur = data
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
            continue
        if not (isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            return False
        cur = cur[part]
    return True


def validate_document(doc: Document, model: type[M], *, context: dict[str, Any] | None = None) -> M:
    """Validate ``doc.data`` as ``model``; raise :class:`DefinitionError` with every problem.

    Problems already found while parsing (syntax, duplicate keys) are reported together
    with the validation problems.
    """
    problems = list(doc.problems)
    result: M | None = None
    if doc.data is None and not problems:
        problems.append(Problem("the file is empty", "E-empty", doc.file, 1, 1, "$"))
    elif doc.data is not None:
        try:
            result = model.model_validate(doc.data, context=context)
        except pydantic.ValidationError as exc:
            problems.extend(problems_from_validation_error(doc, exc))
    if problems or result is None:
        raise DefinitionError(problems)
    return result


def load_each(
    sources: Iterable[S],
    load: Callable[[S], T],
    *,
    error: Callable[[list[Problem]], DefinitionError] = DefinitionError,
) -> list[T]:
    """Load every source with ``load``; if any fails, raise ``error`` with the problems of
    *all* sources together (not the first file's only)."""
    problems: list[Problem] = []
    out: list[T] = []
    for source in sources:
        try:
            out.append(load(source))
        except DefinitionError as exc:
            problems.extend(exc.problems)
    if problems:
        raise error(problems)
    return out
