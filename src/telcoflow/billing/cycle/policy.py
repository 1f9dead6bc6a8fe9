"""The close policy: plan fees, end-of-cycle discounts, minimum spend, taxes, payment terms.

Read from YAML (``kind: close-policy``) with every problem located at ``file:line:col``::

    kind: close-policy
    currency: EUR
    payment_terms_days: 14
    plans:
      family-5g: {fee: "30.00", description: "Family 5G", minimum_spend: "40.00"}
    discounts:
      - id: loyalty-10
        kind: percentage            # or fixed
        value: "10"
        applies_to: [voice, data]
        threshold: "20.00"          # covered spend needed before it applies
        cap: "5.00"
      - id: welcome
        kind: fixed
        value: "3.00"
        coupon: WELCOME3            # once only: needs the coupon, not yet redeemed
    tax_categories: {slice: digital}   # item type -> tax category (default telecom)
    taxes:
      default: {telecom: "20", digital: "20"}
      ES-CN: {telecom: "7"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telcoflow.catalog.common import Amount, Percent
from telcoflow.errors import MoneyError
from telcoflow.money import Currency, RoundingPolicy

# YAML reading (telcoflow.loading) is imported where a policy is read: a bill run's worker
# processes receive the policy already validated and need none of it.

__all__ = [
    "ClosePolicy",
    "DiscountSpec",
    "PlanSpec",
    "load_close_policy",
    "parse_close_policy",
    "validate_policy_files",
]

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=120)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanSpec(_Frozen):
    """A plan's monthly fee (prorated by days held) and optional minimum spend commitment."""

    fee: Amount
    description: str = ""
    minimum_spend: Amount | None = None
    tax_category: str = "telecom"


class DiscountSpec(_Frozen):
    """An end-of-cycle discount: percentage or fixed, over some item types.

    It applies when the covered net spend reaches ``threshold``; it never exceeds ``cap`` nor
    the covered spend; with ``plans`` it needs a subscription on one of them; with ``coupon``
    it needs that coupon, once only (a redeemed coupon does not apply again).
    """

    id: Ident
    kind: Literal["percentage", "fixed"]
    value: Amount
    description: str = ""
    applies_to: tuple[str, ...] = ()
    threshold: Amount = Decimal(0)
    cap: Amount | None = None
    plans: tuple[str, ...] = ()
    coupon: str | None = None

    @model_validator(mode="after")
    def _percent_range(self) -> DiscountSpec:
        if self.kind == "percentage" and self.value > 100:
            raise ValueError(f"a percentage discount must be 0..100 (got {self.value})")
        return self


class ClosePolicy(_Frozen):
    """What the close applies on top of the ledger (see the module docstring for YAML)."""

    kind: Literal["close-policy"] = "close-policy"
    currency: str = "EUR"
    rounding: RoundingPolicy = RoundingPolicy.HALF_UP
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 14
    plans: dict[str, PlanSpec] = Field(default_factory=dict)
    discounts: tuple[DiscountSpec, ...] = ()
    taxes: dict[str, dict[str, Percent]] = Field(default_factory=dict)
    descriptions: dict[str, str] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)
    tax_categories: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ClosePolicy:
        try:
            Currency.of(self.currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
        ids = [d.id for d in self.discounts]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"discount ids must be unique (repeated: {dupes})")
        for d in self.discounts:
            unknown = [p for p in d.plans if p not in self.plans]
            if unknown:
                raise ValueError(f"discount {d.id!r} names unknown plans {unknown}")
        return self

    def tax_rate(self, jurisdiction: str, category: str) -> Decimal:
        """The tax rate (percent) of ``category`` in ``jurisdiction``, else of ``default``."""
        table: Mapping[str, Decimal] | None = self.taxes.get(jurisdiction)
        if table is not None and category in table:
            return table[category]
        return self.taxes.get("default", {}).get(category, Decimal(0))


def parse_close_policy(text: str, file: str = "<close-policy>") -> ClosePolicy:
    """Parse and validate a close policy from YAML text."""
    from telcoflow.loading.source import parse_yaml
    from telcoflow.loading.validate import validate_document

    return validate_document(parse_yaml(text, file), ClosePolicy)


def load_close_policy(path: str | Path) -> ClosePolicy:
    """Load and validate a close policy file; problems are located at file:line:col."""
    from telcoflow.loading.source import load_document
    from telcoflow.loading.validate import validate_document

    return validate_document(load_document(path), ClosePolicy)


def validate_policy_files(paths: Sequence[Path]) -> list[ClosePolicy]:
    """Validate close-policy files (the ``close-policy`` kind of ``telcoflow validate``);
    raise :class:`DefinitionError` with every problem of every file."""
    from telcoflow.loading.validate import load_each

    return load_each(paths, load_close_policy)
