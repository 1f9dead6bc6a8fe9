"""Partner benefits (a video or music membership bundled in a 5G plan): the customer's
price, the partner's cost and the operator's revenue-share line, per benefit held, from the
partner-benefits pack (``rules/5g/partner-benefits.rules.yaml``); and the report of those
lines per partner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from telcoflow.catalog import Catalog
from telcoflow.errors import ArgumentError, RatingError
from telcoflow.money import Currency, Money, to_decimal
from telcoflow.offers import _lookup
from telcoflow.periods import ONE_DAY, cycle_bounds
from telcoflow.rules.pack import RulePack

__all__ = [
    "BenefitHolding",
    "BenefitLine",
    "PartnerReport",
    "PartnerTotals",
    "benefit_lines",
    "partner_report",
]


@dataclass(frozen=True, slots=True)
class BenefitHolding:
    """A subscriber holds ``offering`` from ``held_from`` to ``held_to`` (inclusive; None:
    still held). ``cycle_index`` is 0 in the first bill cycle held; ``trial`` marks a partner
    free trial."""

    subscriber: str
    offering: str
    held_from: date
    held_to: date | None = None
    cycle_index: int = 0
    trial: bool = False


@dataclass(frozen=True, slots=True)
class BenefitLine:
    """The three amounts of one benefit for one subscriber and one bill cycle."""

    subscriber: str
    offering: str
    benefit: str
    partner: str
    customer: Money
    partner_cost: Money
    revenue_share: Money
    days: int
    reason: str


@dataclass(frozen=True, slots=True)
class PartnerTotals:
    """Sums of one partner's benefit lines."""

    partner: str
    name: str
    customer: Money
    partner_cost: Money
    revenue_share: Money
    lines: int

    @property
    def margin(self) -> Money:
        """What the operator keeps after paying the partner: customer - partner cost."""
        return self.customer - self.partner_cost


@dataclass(frozen=True, slots=True)
class PartnerReport:
    """Benefit lines summed per partner (sorted by partner id) and over all partners."""

    partners: tuple[PartnerTotals, ...]
    total: PartnerTotals

    def rows(self) -> list[dict[str, str]]:
        """One text row per partner and a total row, for tables."""
        return [{"partner": p.partner, "customer": str(p.customer.amount),
                 "partner_cost": str(p.partner_cost.amount),
                 "revenue_share": str(p.revenue_share.amount), "lines": str(p.lines)}
                for p in (*self.partners, self.total)]

    def by_partner(self, what: str = "customer") -> dict[str, Decimal]:
        """Partner id -> one amount (``customer``, ``partner_cost``, ``revenue_share`` or
        ``margin``), for charts."""
        if what not in ("customer", "partner_cost", "revenue_share", "margin"):
            raise ArgumentError(f"`what` must be customer, partner_cost, revenue_share or margin "
                             f"(got {what!r})")
        out: dict[str, Decimal] = {}
        for p in self.partners:
            value = p.margin if what == "margin" else getattr(p, what)
            out[p.partner] = value.amount
        return out


def benefit_lines(pack: RulePack, catalog: Catalog, holdings: Iterable[BenefitHolding], *,
                  cycle_start: date, cycle_day: int | None = None) -> list[BenefitLine]:
    """The benefit lines of ``holdings`` for the bill cycle starting on ``cycle_start``.

    Each benefit of each held offering is prorated by the days held inside the cycle (a
    benefit with ``period: day`` is charged per day held). Holdings outside the cycle give
    no line. Raises :class:`~telcoflow.errors.RatingError` naming the holding when the pack
    gives no lines.
    """
    start, end = cycle_bounds(cycle_start, cycle_day or cycle_start.day)
    end -= ONE_DAY  # the cycle's last day
    cycle_days = (end - start).days + 1
    out: list[BenefitLine] = []
    for h in holdings:
        first = max(h.held_from, start)
        last = min(h.held_to or end, end)
        if last < first:
            continue
        days = (last - first).days + 1
        offering = _lookup.offering(catalog, h.offering, first,
                                    needed_by=f"benefits of subscriber {h.subscriber!r}")
        for benefit_id in offering.benefits:
            b = catalog.benefit(benefit_id)
            cur = catalog.currency_of(b)
            per_day = b.period == "day"
            ctx = {
                "benefit": {"id": b.id, "partner": b.partner,
                            "customer_price": b.customer_price, "partner_cost": b.partner_cost,
                            "revenue_share_percent": b.revenue_share_percent},
                "held": {"days": days, "cycle_days": 1 if per_day else cycle_days},
                "subscription": {"cycle_index": h.cycle_index, "trial": h.trial},
            }
            decided = pack.decide("lines", ctx)
            if not isinstance(decided, Mapping):
                raise RatingError(f"pack {pack.name!r} gave no benefit lines for {b.id!r} of "
                                  f"subscriber {h.subscriber!r} (got {decided!r})")
            out.append(BenefitLine(
                h.subscriber, h.offering, b.id, b.partner,
                Money(to_decimal(decided["customer"], field="customer"), cur),
                Money(to_decimal(decided["partner_cost"], field="partner_cost"), cur),
                Money(to_decimal(decided["revenue_share"], field="revenue_share"), cur),
                days, str(decided.get("reason", ""))))
    return out


def partner_report(lines: Iterable[BenefitLine], catalog: Catalog | None = None, *,
                   currency: str | Currency = "EUR") -> PartnerReport:
    """Sum benefit lines per partner (names from ``catalog`` when given)."""
    cur = catalog.default_currency if catalog is not None else Currency.of(currency)
    names = {p.id: p.name for p in catalog.partners} if catalog is not None else {}
    sums: dict[str, list[Money]] = {}
    counts: dict[str, int] = {}
    for ln in lines:
        acc = sums.setdefault(ln.partner, [Money.zero(cur)] * 3)
        acc[0] = acc[0] + ln.customer
        acc[1] = acc[1] + ln.partner_cost
        acc[2] = acc[2] + ln.revenue_share
        counts[ln.partner] = counts.get(ln.partner, 0) + 1
    partners = tuple(PartnerTotals(p, names.get(p, p), sums[p][0], sums[p][1], sums[p][2],
                                   counts[p]) for p in sorted(sums))
    total = PartnerTotals("total", "all partners",
                          Money.sum((p.customer for p in partners), cur),
                          Money.sum((p.partner_cost for p in partners), cur),
                          Money.sum((p.revenue_share for p in partners), cur),
                          sum(counts.values()))
    return PartnerReport(partners, total)
