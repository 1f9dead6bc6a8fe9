"""The catalog demo: load the shipped 5G catalog, price a deterministic sample of usage.

:func:`run_catalog_demo` is what ``telcoflow demo`` calls for its catalog part; it prints a
table of rated events and a small bill (plan, partner benefit, usage, coupon, taxes) through
``out`` and returns a :class:`CatalogDemoSummary`. :func:`default_catalog_path` finds the
``examples/catalog`` folder of the repository.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from telcoflow._optional import requires
from telcoflow.errors import TelcoflowError
from telcoflow.loading.catalog import load_catalog
from telcoflow.money import Money, RoundingPolicy
from telcoflow.rating.discounts import ChargeLine
from telcoflow.rating.price_models import RatedUsage, compile_tariffs
from telcoflow.rating.settle import Settlement, settle
from telcoflow.shipped import shipped_path

with requires("cli", "the demo"):
    from rich.console import Console
    from rich.table import Table

__all__ = ["CatalogDemoSummary", "DemoEvent", "default_catalog_path", "run_catalog_demo"]

_COUNTRIES = ("NV", "NV", "NV", "NV", "DE", "FR", "US")


def default_catalog_path() -> Path:
    """The shipped example catalog, ``examples/catalog`` (see
    :func:`telcoflow.shipped.shipped_path`)."""
    return shipped_path("examples/catalog", directory=True)


@dataclass(frozen=True, slots=True)
class DemoEvent:
    """One generated usage event and how it was rated."""

    event_id: str
    at: datetime
    service: str
    tariff_id: str
    quantity: Decimal
    unit: str
    country: str
    zone: str | None
    band: str | None
    slice_class: str | None
    region: str | None
    rated: RatedUsage


@dataclass(frozen=True, slots=True)
class CatalogDemoSummary:
    """What the demo computed: the events, usage totals and the sample bill."""

    catalog_id: str | None
    offerings: int
    tariffs: int
    events: tuple[DemoEvent, ...]
    usage_total: Money
    by_tariff: dict[str, Money] = field(default_factory=dict)
    bill: Settlement | None = None


_KINDS = ("data", "voice", "slice", "sms", "data", "voice", "iot")


def _sample(
    rng: random.Random, index: int
) -> tuple[str, str, Decimal, str, str | None, str | None]:
    """(service, tariff, quantity, country, slice class, region) for the ``index``-th event."""
    kind = _KINDS[index % len(_KINDS)]
    country = rng.choice(_COUNTRIES)
    if kind == "data":
        return "data", "data", Decimal(rng.randint(1, 4000)), country, None, None
    if kind == "voice":
        return "voice", "voice", Decimal(rng.randint(5, 900)), country, None, None
    if kind == "sms":
        return "sms", "sms", Decimal(rng.randint(1, 3)), country, None, None
    if kind == "slice":
        slice_class = ("urllc", "embb")[(index // len(_KINDS)) % 2]
        region = "stadium-north" if slice_class == "urllc" else rng.choice(("capital", "arena"))
        return "slice", "slice", Decimal(rng.randint(50, 6000)), "NV", slice_class, region
    return "units", "iot-events", Decimal(rng.randint(100, 5000)), "NV", "mmtc", None


def run_catalog_demo(
    catalog_path: str | Path | None = None,
    *,
    events: int = 12,
    seed: int = 7,
    out: Callable[[str], object] = print,
) -> CatalogDemoSummary:
    """Load the catalog, rate ``events`` generated usage events (deterministic for ``seed``)
    and settle a sample bill; print readable tables through ``out``."""
    if events < 0:
        raise TelcoflowError(f"`events` must be >= 0 (got {events})")
    path = Path(catalog_path) if catalog_path is not None else default_catalog_path()
    catalog = load_catalog(path)
    tariffs = compile_tariffs(catalog)
    currency = catalog.default_currency
    rng = random.Random(seed)
    start = datetime(2026, 11, 1)
    rated_events: list[DemoEvent] = []
    for i in range(events):
        at = start + timedelta(minutes=rng.randint(0, 60 * 24 * 29))
        service, tariff_id, qty, country, slice_class, region = _sample(rng, i)
        zone_obj = catalog.zone_for_country(country)
        zone = zone_obj.id if zone_obj else None
        band = catalog.band_at(at)
        rated = tariffs[tariff_id].rate(
            qty, zone=zone, band=band, slice_class=slice_class, region=region)
        rated_events.append(DemoEvent(
            f"ev-{i + 1:03d}", at, service, tariff_id, qty, tariffs[tariff_id].tariff.unit,
            country, zone, band, slice_class, region, rated))

    by_tariff: dict[str, Money] = {}
    for ev in rated_events:
        previous = by_tariff.get(ev.tariff_id, Money.zero(currency))
        by_tariff[ev.tariff_id] = previous + ev.rated.amount
    usage_total = Money.sum((m for m in by_tariff.values()), currency)

    # a sample bill: postpaid plan + video benefit + this usage, the coupon, taxes
    plan = catalog.offering("postpaid-50", on=start.date())
    fee = next(p for p in plan.prices if p.price_type == "recurring")
    benefit = catalog.benefit("video-membership")
    lines = [
        ChargeLine("plan", Money(getattr(fee, "amount", 0), currency), offering=plan.id,
                   price_type="recurring", offering_tax_category=plan.tax_category),
        ChargeLine("video", Money(benefit.customer_price, currency), offering="video-plus",
                   price_type="benefit", tax_category=benefit.tax_category),
    ]
    for tariff_id, amount in sorted(by_tariff.items()):
        lines.append(ChargeLine(
            f"usage:{tariff_id}", amount, price_type="usage",
            tax_category=catalog.tariff(tariff_id).tax_category))
    coupon = catalog.discount_for_coupon("WELCOME6")
    bill = settle(lines, catalog, discounts=[coupon] if coupon else [])

    out(_render(catalog.name or catalog.id or "catalog", path, rated_events, bill))
    return CatalogDemoSummary(
        catalog.id, len(catalog.offerings), len(catalog.tariffs), tuple(rated_events),
        usage_total, by_tariff, bill)


def _render(title: str, path: Path, events: list[DemoEvent], bill: Settlement) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=132, color_system=None, force_terminal=False)
    console.print(f"Catalog: {title} ({path})")
    currency = bill.total.currency.code
    usage = Table(title=f"Rated usage in {currency} (exact; rounded on the bill)")
    for column in ("event", "when", "service", "quantity", "zone", "band", "slice/region",
                   "rate", "charged", "amount"):
        usage.add_column(column, no_wrap=True, justify="right" if column in (
            "quantity", "charged", "amount") else "left")
    for ev in events:
        where = "/".join(x for x in (ev.slice_class, ev.region) if x) or "-"
        usage.add_row(
            ev.event_id, ev.at.strftime("%a %d %H:%M"), ev.service, f"{ev.quantity} {ev.unit}",
            ev.zone or "-", ev.band or "-", where, ev.rated.rate_id or "default",
            f"{ev.rated.charged_quantity}",
            str(ev.rated.amount.rounded(RoundingPolicy.HALF_UP, 4).amount))
    console.print(usage)
    table = Table(title=f"Sample bill in {currency} (coupon spread before tax, tax per line)")
    for column in ("line", "amount", "discount", "tax category", "tax", "total"):
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("line", "tax category") else "right")
    for ln in bill.lines:
        table.add_row(ln.line.id, str(ln.amount.amount), str(ln.discount.amount),
                      f"{ln.tax_category or '-'} {ln.tax_percent}%", str(ln.tax.amount),
                      str(ln.total.amount))
    table.add_row("total", str(bill.subtotal.amount), str(bill.discount_total.amount), "",
                  str(bill.tax_total.amount), str(bill.total.amount))
    console.print(table)
    return buffer.getvalue().rstrip("\n")
