"""Settlement of charge lines: each line rounded, discounts applied before tax (spread pro
rata so the parts sum exactly), then each line taxed -- with the catalog's discounts and tax
(:func:`settle`), or with a rule pack that *decides* them (:func:`settle_with_pack`: which
discounts apply, which tax category and rate each line pays). The arithmetic is
:mod:`telcoflow.rating.discounts` and :mod:`telcoflow.rating.tax`.

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from telcoflow.catalog.discounts import (
    Discount,
    DiscountScope,
    FixedDiscount,
    PercentageDiscount,
)
from telcoflow.catalog.model import Catalog
from telcoflow.catalog.taxes import TaxRate
from telcoflow.errors import CurrencyMismatchError, RatingError
from telcoflow.money import Currency, Money, RoundingPolicy, to_decimal
from telcoflow.rating.discounts import AppliedDiscount, ChargeLine, apply_discounts
from telcoflow.rating.tax import TaxContext, resolve_tax_category, tax_for
from telcoflow.rules.pack import RulePack

__all__ = [
    "AdjustedLine",
    "PackSettlement",
    "SettledLine",
    "Settlement",
    "settle",
    "settle_with_pack",
]


@dataclass(frozen=True, slots=True)
class AdjustedLine:
    """A charge line after discounts and tax.

    ``taxable`` is the amount after discounts as priced (tax included when ``inclusive``);
    ``tax`` is rounded per line; ``total`` is what the customer pays for the line.
    """

    line: ChargeLine
    amount: Money
    discount: Money
    taxable: Money
    tax_category: str | None
    jurisdiction: str
    tax_percent: Decimal
    inclusive: bool
    exempted_by: str | None
    tax: Money
    total: Money

    @property
    def net_of_tax(self) -> Money:
        """The line's amount without tax."""
        return self.total - self.tax


@dataclass(frozen=True, slots=True)
class Settlement:
    """Every adjusted line and the totals (each total is the exact sum of its lines)."""

    lines: tuple[AdjustedLine, ...]
    discounts: tuple[AppliedDiscount, ...]
    subtotal: Money
    discount_total: Money
    tax_total: Money
    total: Money


def settle(
    lines: Sequence[ChargeLine],
    catalog: Catalog,
    *,
    discounts: Iterable[Discount] = (),
    tax: TaxContext | None = None,
    cycle_index: int = 0,
    held_offerings: Iterable[str] | None = None,
) -> Settlement:
    """Round each line, apply ``discounts`` (before tax, pro rata), then tax each line.

    Tax category by precedence (line, offering, account, catalog default); rate by the
    context's jurisdiction (else the catalog's default, else ``*``). A line whose category
    has no rate there raises :class:`~telcoflow.errors.RatingError`; a line with no category
    at all is not taxed. Rounding uses the catalog's tax rounding policy (half-up by default).
    """
    ctx = tax or TaxContext()
    defaults = catalog.tax_defaults
    policy = defaults.rounding if defaults else RoundingPolicy.HALF_UP
    jurisdiction = ctx.jurisdiction or (defaults.jurisdiction if defaults else "*")
    currency = lines[0].amount.currency if lines else catalog.default_currency
    exemptions = []
    for ex_id in ctx.exemptions:
        try:
            exemptions.append(catalog.tax_exemptions_by_id[ex_id])
        except KeyError:
            raise RatingError(f"unknown tax exemption {ex_id!r}") from None
    rounded = [
        ChargeLine(ln.id, ln.amount.rounded(policy), ln.offering, ln.price_type,
                   ln.tax_category, ln.offering_tax_category)
        for ln in lines
    ]
    for ln in rounded:
        if ln.amount.currency != currency:
            raise CurrencyMismatchError(
                f"line {ln.id!r} is in {ln.amount.currency}, other lines in {currency}")
    cats = [
        resolve_tax_category(
            charge=ln.tax_category, offer=ln.offering_tax_category,
            account=ctx.account_tax_category, default=defaults.category if defaults else None)
        for ln in rounded
    ]
    taken, applied = apply_discounts(
        rounded, discounts, categories=cats, cycle_index=cycle_index,
        held_offerings=held_offerings, policy=policy)
    out: list[AdjustedLine] = []
    for ln, cat, disc in zip(rounded, cats, taken, strict=True):
        taxable = ln.amount - disc
        rate: TaxRate | None = None
        exempted_by: str | None = None
        if cat is not None:
            category = catalog.tax_categories_by_id.get(cat)
            if category is None:
                raise RatingError(f"line {ln.id!r}: unknown tax category {cat!r}")
            rate = category.rate_for(jurisdiction, ctx.on)
            if rate is None:
                raise RatingError(
                    f"line {ln.id!r}: tax category {cat!r} has no rate for jurisdiction "
                    f"{jurisdiction!r}" + (f" on {ctx.on}" if ctx.on else ""))
            for ex in exemptions:
                if ex.exempts(cat, jurisdiction):
                    exempted_by = ex.id
                    break
        inclusive = rate.inclusive if rate is not None else False
        if exempted_by is not None and rate is not None and inclusive:
            # an exempt customer does not pay the tax contained in an inclusive price
            line_tax = Money.zero(currency)
            total = taxable - tax_for(taxable, rate, policy=policy)
        elif exempted_by is not None:
            line_tax = Money.zero(currency)
            total = taxable
        else:
            line_tax = tax_for(taxable, rate, policy=policy)
            total = taxable if inclusive else taxable + line_tax
        out.append(AdjustedLine(
            ln, ln.amount, disc, taxable, cat, jurisdiction,
            rate.percent if rate is not None and exempted_by is None else Decimal(0),
            inclusive, exempted_by, line_tax, total))
    return Settlement(
        tuple(out),
        tuple(applied),
        Money.sum((a.amount for a in out), currency),
        Money.sum((a.discount for a in out), currency),
        Money.sum((a.tax for a in out), currency),
        Money.sum((a.total for a in out), currency),
    )



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
