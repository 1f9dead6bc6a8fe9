"""Settle charge lines with a pack: the pack *decides* (which discounts apply, which tax
category and rate each line pays); :mod:`telcoflow.rating.adjustments` does the money math
(discounts before tax, spread pro rata so the parts sum exactly, tax rounded per line).

Conventions (decision names can be changed by arguments):

* decision ``discounts`` is evaluated once on the context plus ``bill`` (``subtotal``,
  ``currency``, ``count``); its value is a list (hit policy collect) or one mapping (or
  None) of outputs ``id`` and either ``amount`` (fixed) or ``percent`` (with optional
  ``cap``), optionally ``price_types`` / ``offerings`` / ``tax_categories`` it covers.
* decision ``tax`` is evaluated per line on the context plus ``line`` (``id``, ``amount``,
  ``category``, ``offering``, ``price_type``) and ``bill``; outputs ``category`` and
  ``rate`` (percent), optionally ``inclusive``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from telcoflow.catalog.discounts import (
    DiscountScope,
    FixedDiscount,
    PercentageDiscount,
)
from telcoflow.catalog.taxes import TaxRate
from telcoflow.errors import RatingError
from telcoflow.money import Currency, Money, RoundingPolicy, to_decimal
from telcoflow.rating.adjustments import ChargeLine, apply_discounts, tax_for
from telcoflow.rules.pack import RulePack

__all__ = ["PackSettlement", "SettledLine", "settle_with_pack"]


@dataclass(frozen=True, slots=True)
class SettledLine:
    """One line after the pack's discounts and tax."""

    id: str
    amount: Money
    discount: Money
    taxable: Money
    category: str | None
    rate: Decimal
    tax: Money
    total: Money


@dataclass(frozen=True, slots=True)
class PackSettlement:
    """Every settled line and the totals (each the exact sum of its lines)."""

    lines: tuple[SettledLine, ...]
    discounts: tuple[tuple[str, Money], ...]
    subtotal: Money
    discount_total: Money
    tax_total: Money
    total: Money

    def as_dict(self) -> dict[str, Any]:
        """Amounts as Decimals by name (``subtotal``, ``discount_total``, ``tax_total``,
        ``total``), for pack tests."""
        return {"subtotal": self.subtotal.amount, "discount_total": self.discount_total.amount,
                "tax_total": self.tax_total.amount, "total": self.total.amount,
                "lines": [{"id": ln.id, "discount": ln.discount.amount, "tax": ln.tax.amount,
                           "total": ln.total.amount, "category": ln.category, "rate": ln.rate}
                          for ln in self.lines]}


def _to_line(raw: ChargeLine | Mapping[str, Any], currency: Currency, n: int) -> ChargeLine:
    if isinstance(raw, ChargeLine):
        return raw
    amount = raw.get("amount")
    return ChargeLine(
        id=str(raw.get("id", f"line-{n + 1}")),
        amount=Money(to_decimal(amount, field=f"lines[{n}].amount"), currency),
        offering=raw.get("offering"), price_type=raw.get("price_type"),
        tax_category=raw.get("category", raw.get("tax_category")))


def _discount(out: Mapping[str, Any]) -> FixedDiscount | PercentageDiscount:
    scope = DiscountScope(price_types=tuple(out.get("price_types", ())),
                          offerings=tuple(out.get("offerings", ())),
                          tax_categories=tuple(out.get("tax_categories", ())))
    ident = str(out.get("id", "discount"))
    if "amount" in out:
        return FixedDiscount(id=ident, amount=to_decimal(out["amount"]), applies_to=scope)
    cap = out.get("cap")
    return PercentageDiscount(id=ident, percent=to_decimal(out["percent"], field="percent"),
                              cap=None if cap is None else to_decimal(cap, field="cap"),
                              applies_to=scope)


def settle_with_pack(pack: RulePack, lines: Sequence[ChargeLine | Mapping[str, Any]],
                     context: Mapping[str, Any] | None = None, *, currency: str = "EUR",
                     discounts: str = "discounts", tax: str = "tax",
                     policy: RoundingPolicy = RoundingPolicy.HALF_UP) -> PackSettlement:
    """Apply the pack's discounts then taxes to ``lines`` (see the module docstring)."""
    cur = Currency.of(currency)
    charge = [_to_line(raw, cur, n) for n, raw in enumerate(lines)]
    if not charge:
        raise RatingError("settle_with_pack needs at least one line")
    rounded = [ChargeLine(c.id, c.amount.rounded(policy), c.offering, c.price_type,
                          c.tax_category, c.offering_tax_category) for c in charge]
    subtotal = Money.sum((c.amount for c in rounded), cur)
    base = dict(context or {})
    base["bill"] = {"subtotal": subtotal.amount, "currency": cur.code, "count": len(rounded)}
    chosen = pack.decide(discounts, base)
    outs = [] if chosen is None else [chosen] if isinstance(chosen, Mapping) else list(chosen)
    taken, applied = apply_discounts(rounded, [_discount(o) for o in outs], policy=policy)
    settled = []
    for line, off in zip(rounded, taken, strict=True):
        ctx = dict(base)
        ctx["line"] = {"id": line.id, "amount": line.amount.amount, "category": line.tax_category,
                       "offering": line.offering, "price_type": line.price_type}
        decided = pack.decide(tax, ctx)
        if not isinstance(decided, Mapping) or "rate" not in decided:
            raise RatingError(f"pack {pack.name!r}: decision {tax!r} gave no `rate` for line "
                              f"{line.id!r} (got {decided!r})")
        rate = to_decimal(decided["rate"], field="rate")
        inclusive = bool(decided.get("inclusive", False))
        taxable = line.amount - off
        amount_tax = tax_for(taxable, TaxRate(jurisdiction="*", percent=rate,
                                              inclusive=inclusive), policy=policy)
        total = taxable if inclusive else taxable + amount_tax
        settled.append(SettledLine(line.id, line.amount, off, taxable,
                                   decided.get("category", line.tax_category), rate,
                                   amount_tax, total))
    return PackSettlement(
        tuple(settled), tuple((a.discount_id, a.amount) for a in applied), subtotal,
        Money.sum((s.discount for s in settled), cur), Money.sum((s.tax for s in settled), cur),
        Money.sum((s.total for s in settled), cur))
