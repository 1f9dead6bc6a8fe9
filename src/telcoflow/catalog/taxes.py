"""Taxes: rates per tax category and jurisdiction, exclusive or inclusive, and exemptions.

Which category a charge line pays is decided by precedence: the charge's own category, else
its offering's, else the account's, else :attr:`TaxDefaults.category`. The math lives in
:mod:`telcoflow.rating.tax`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import model_validator

from telcoflow.catalog.common import Frozen, Id, IdList, Percent, Validity
from telcoflow.money import RoundingPolicy

__all__ = ["TaxCategory", "TaxDefaults", "TaxExemption", "TaxRate"]


class TaxRate(Validity):
    """The rate of one category in one ``jurisdiction`` (``*`` = every other jurisdiction).

    ``inclusive: true`` means prices of this category already include the tax.
    """

    jurisdiction: str
    percent: Percent
    inclusive: bool = False


class TaxCategory(Frozen):
    """A tax category (telecom, digital service, ...) with its rates by jurisdiction."""

    id: Id
    name: str = ""
    rates: tuple[TaxRate, ...] = ()

    @model_validator(mode="after")
    def _has_rates(self) -> TaxCategory:
        if not self.rates:
            raise ValueError(
                f"tax category {self.id!r} has no rate: give `rates` (at least one, "
                "`jurisdiction: \"*\"` for every jurisdiction); a category without a rate "
                "would tax at 0 % without a word")
        return self

    def rate_for(self, jurisdiction: str, on: date | None = None) -> TaxRate | None:
        """The rate for ``jurisdiction`` (or the ``*`` rate) valid on ``on``; ``None`` if none."""
        fallback: TaxRate | None = None
        for rate in self.rates:
            if on is not None and not rate.is_valid_on(on):
                continue
            if rate.jurisdiction == jurisdiction:
                return rate
            if rate.jurisdiction == "*" and fallback is None:
                fallback = rate
        return fallback


class TaxExemption(Frozen):
    """An exemption an account may hold: no tax for ``categories`` in ``jurisdictions``
    (empty lists mean every category / every jurisdiction)."""

    id: Id
    name: str = ""
    categories: IdList = ()
    jurisdictions: tuple[str, ...] = ()

    def exempts(self, category: str, jurisdiction: str) -> bool:
        """Whether this exemption removes the tax of ``category`` in ``jurisdiction``."""
        return (not self.categories or category in self.categories) and (
            not self.jurisdictions or jurisdiction in self.jurisdictions
        )


class TaxDefaults(Frozen):
    """Catalog-wide tax defaults: the fallback category and jurisdiction, how tax rounds
    (``rounding``, default ``half-up``) and where (``rule``): ``per-line`` (default) rounds
    each bill line's tax, ``per-bill-rate`` rounds once per bill and rate (see
    :class:`telcoflow.rating.tax.TaxRules`)."""

    category: Id | None = None
    jurisdiction: str = "*"
    rounding: RoundingPolicy = RoundingPolicy.HALF_UP
    rule: Literal["per-line", "per-bill-rate"] = "per-line"

    @model_validator(mode="after")
    def _jurisdiction(self) -> TaxDefaults:
        if not self.jurisdiction:
            raise ValueError("`jurisdiction` must not be empty")
        return self
