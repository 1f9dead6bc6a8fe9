"""The money fields of a catalog checked against their currency's minor unit.

A field typed :data:`~telcoflow.catalog.common.Amount` is a sum of money: once the catalog is
whole (its currency may be set in another file), each one is checked with
:func:`telcoflow.money.check_minor_units` in the currency that applies to it: the nearest
enclosing model's own ``currency``, else the catalog's. A
:data:`~telcoflow.catalog.common.Rate` (a price per unit) is not checked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from telcoflow.catalog.common import AMOUNT
from telcoflow.errors import MoneyError, PathKey
from telcoflow.money import Currency, check_minor_units

__all__ = ["minor_unit_problems"]


# per model class: its Amount fields and the fields that may hold nested models
_PLAN: dict[type[BaseModel], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _plan(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    plan = _PLAN.get(cls)
    if plan is None:
        amounts: list[str] = []
        nested: list[str] = []
        for name, info in cls.model_fields.items():
            if AMOUNT in info.metadata:
                amounts.append(name)
            elif _may_nest(info.annotation):
                nested.append(name)
        plan = _PLAN[cls] = (tuple(amounts), tuple(nested))
    return plan


def _may_nest(annotation: Any) -> bool:
    """Whether a field's type mentions a pydantic model (directly, in a union or a tuple)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_may_nest(arg) for arg in getattr(annotation, "__args__", ()))


def minor_unit_problems(
    model: BaseModel, currency: Currency, path: PathKey = ()
) -> list[tuple[PathKey, str]]:
    """Every ``Amount`` under ``model`` with more decimals than its currency allows, as
    ``(path, message)``; ``currency`` applies where no enclosing model names its own."""
    out: list[tuple[PathKey, str]] = []
    _walk(model, currency, path, out)
    return out


def _walk(model: BaseModel, currency: Currency, path: PathKey,
          out: list[tuple[PathKey, str]]) -> None:
    own = getattr(model, "currency", None)
    if isinstance(own, str) and own:
        try:
            currency = Currency.of(own)
        except MoneyError:
            return  # the currency field has its own problem
    amounts, nested = _plan(type(model))
    for name in amounts:
        value = getattr(model, name)
        if isinstance(value, Decimal):
            try:
                check_minor_units(value, currency, field=name)
            except MoneyError as exc:
                out.append(((*path, name), str(exc)))
    for name in nested:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _walk(value, currency, (*path, name), out)
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _walk(item, currency, (*path, name, i), out)
