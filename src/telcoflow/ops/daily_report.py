"""The daily report: what the real-time path did in one day, as JSON and as an HTML page.

Figures: merged records (rated records posted to the ledger), charges per service (voice,
data, SMS, slice), recurring and one-time charges (external partner fees counted with
one-time), discounts, taxes, the grand total, rejects per reason, throughput (events per
second of processing when the KPIs are given, and records per hour, average and peak). The
HTML page is self-contained: inline CSS and inline SVG bar charts with labelled axes, no
scripts, no external assets.

Amounts in the JSON are decimal strings with the currency's minor unit (``"15.74"``, ``"0.00"``
for EUR; half-even), every one alike; the report object keeps the exact sums.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from telcoflow.billing.documents.formatting import format_money
from telcoflow.billing.kpis import KpiSnapshot
from telcoflow.events import RatedRecord, base_item_type
from telcoflow.ledger import DeadLetter
from telcoflow.money import Currency, money_context

__all__ = ["DailyReport", "build_daily_report"]

_ZERO = Decimal(0)
_SERVICES = ("voice", "data", "sms", "slice")
_ONE_TIME = frozenset({"one_time", "external", "activation"})


@dataclass(frozen=True)
class DailyReport:
    """One day's figures (amounts in ``currency``; ``hourly`` = records started per hour)."""

    day: date
    currency: str
    merged_records: int
    services: dict[str, Decimal]
    recurring: Decimal
    one_time: Decimal
    other: Decimal
    discounts: Decimal
    taxes: Decimal
    rejects: dict[str, int]
    events_per_second: float | None
    hourly: tuple[int, ...] = field(default=(0,) * 24)

    @property
    def charges(self) -> Decimal:
        """Every charge of the day before discounts and taxes."""
        return sum(self.services.values(), _ZERO) + self.recurring + self.one_time + self.other

    @property
    def total(self) -> Decimal:
        """Charges - discounts + taxes."""
        return self.charges - self.discounts + self.taxes

    @property
    def records_per_hour(self) -> Decimal:
        """Average records per hour of the day (merged records / 24)."""
        return Decimal(self.merged_records) / 24

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (amounts as decimal strings to the currency's minor unit)."""
        quantum = Currency.of(self.currency).quantum
        with money_context():
            def a(v: Decimal) -> str:
                return str(v.quantize(quantum))

            peak = max(self.hourly, default=0)
            return {
                "day": self.day.isoformat(), "currency": self.currency,
                "merged_records": self.merged_records,
                "charges": {**{k: a(v) for k, v in self.services.items()},
                            "recurring": a(self.recurring), "one_time": a(self.one_time),
                            "other": a(self.other), "total": a(self.charges)},
                "discounts": a(self.discounts), "taxes": a(self.taxes), "total": a(self.total),
                "rejects": dict(self.rejects), "rejects_total": sum(self.rejects.values()),
                "throughput": {"events_per_second": None if self.events_per_second is None
                               else round(self.events_per_second, 1),
                               "records_per_hour_average": str(
                                   self.records_per_hour.quantize(Decimal("0.1"))),
                               "records_per_hour_peak": peak,
                               "records_per_hour": list(self.hourly)},
            }

    def to_json(self) -> str:
        """The figures as JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def to_html(self, *, locale: str = "en_GB", title: str | None = None) -> str:
        """A self-contained HTML page with inline SVG charts."""
        cur = self.currency

        def money(v: Decimal) -> str:
            return html.escape(format_money(v, cur, locale))

        heading = html.escape(title or f"Daily report {self.day.isoformat()}")
        charges = [(k, v) for k, v in self.services.items()] + [
            ("recurring", self.recurring), ("one-time", self.one_time), ("other", self.other)]
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td class=n>{money(v)}</td></tr>"
                       for k, v in charges)
        rejects = "".join(f"<tr><td>{html.escape(r)}</td><td class=n>{n}</td></tr>"
                          for r, n in sorted(self.rejects.items())) or (
            "<tr><td colspan=2>none</td></tr>")
        peak = max(self.hourly, default=0)
        peak_hour = self.hourly.index(peak) if self.hourly else 0
        with money_context():
            average = self.records_per_hour.quantize(Decimal("0.1"))
        if self.events_per_second is not None:
            eps = f"{self.events_per_second:,.0f} events/s"
            eps_note = f"{average:,} records/h on average"
        else:  # no processing KPIs: what the records themselves say
            eps = f"{average:,} records/h"
            eps_note = f"average; peak {peak:,} at {peak_hour:02d}:00"
        return (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{heading}</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}"
            "td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}"
            ".n{text-align:right}.kpi{display:inline-block;margin-right:2em}"
            ".kpi b{display:block;font-size:1.4em}.kpi small{display:block;color:#666}"
            "tfoot td{font-weight:bold}</style></head><body>"
            f"<h1>{heading}</h1>"
            f"<div class=kpi>merged records<b>{self.merged_records:,}</b></div>"
            f"<div class=kpi>charges<b>{money(self.charges)}</b></div>"
            f"<div class=kpi>discounts<b>{money(self.discounts)}</b></div>"
            f"<div class=kpi>taxes<b>{money(self.taxes)}</b></div>"
            f"<div class=kpi>grand total<b>{money(self.total)}</b>"
            "<small>charges - discounts + taxes</small></div>"
            f"<div class=kpi>rejects<b>{sum(self.rejects.values()):,}</b></div>"
            f"<div class=kpi>throughput<b>{html.escape(eps)}</b>"
            f"<small>{html.escape(eps_note)}</small></div>"
            "<h2>Charges</h2>"
            + _bar_chart([(k, v) for k, v in charges], "Charges by type",
                         x_title="charge type", y_title=f"amount ({cur})",
                         tick=lambda v: format_money(v, cur, locale))
            + f"<table><tbody>{rows}</tbody><tfoot>"
            f"<tr><td>charges</td><td class=n>{money(self.charges)}</td></tr>"
            f"<tr><td>discounts</td><td class=n>{money(-self.discounts)}</td></tr>"
            f"<tr><td>taxes</td><td class=n>{money(self.taxes)}</td></tr>"
            f"<tr><td>grand total</td><td class=n>{money(self.total)}</td></tr>"
            "</tfoot></table>"
            "<h2>Records per hour</h2>"
            + _bar_chart([(f"{h:02d}", Decimal(n)) for h, n in enumerate(self.hourly)],
                         "Records per hour", small_labels=True, x_title="hour of the day",
                         y_title="records", tick=lambda v: f"{v:,.0f}")
            + f"<h2>Rejects</h2><table><tbody>{rejects}</tbody></table>"
            "</body></html>"
        )


def _bar_chart(values: list[tuple[str, Decimal]], label: str, *, x_title: str, y_title: str,
               tick: Callable[[Decimal], str], small_labels: bool = False) -> str:
    """An inline SVG bar chart with axes: a y axis with 0, half and the top value, an x axis
    with a label per bar, both titled (no scripts, no external references)."""
    width, height = 680, 240
    left, right, top_pad, bottom = 96, 16, 16, 48
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    n = max(len(values), 1)
    top = max((v for _, v in values), default=_ZERO)
    slot = plot_w / n
    base_y = top_pad + plot_h
    parts = [
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{base_y}" stroke="#444"/>',
        f'<line x1="{left}" y1="{base_y}" x2="{width - right}" y2="{base_y}" stroke="#444"/>',
    ]
    for frac in (Decimal(0), Decimal("0.5"), Decimal(1)):
        y = base_y - float(frac) * plot_h  # drawing only
        value = top * frac
        parts.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{"#444" if frac == 0 else "#ddd"}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{html.escape(tick(value))}</text>")
    size = 9 if small_labels else 11
    for i, (name, v) in enumerate(values):
        h = 0.0 if top <= 0 else float(v / top) * plot_h  # drawing only
        x = left + i * slot + slot * 0.1
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
            f'fill="#3b7dd8"><title>{html.escape(name)}: {html.escape(tick(v))}</title></rect>'
            f'<text x="{x + slot * 0.4:.1f}" y="{base_y + 14}" font-size="{size}" '
            f'text-anchor="middle">{html.escape(name)}</text>')
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" font-size="12" '
        f'text-anchor="middle">{html.escape(x_title)}</text>'
        f'<text x="14" y="{top_pad + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top_pad + plot_h / 2:.1f})">{html.escape(y_title)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="{html.escape(label)}">' + "".join(parts) + "</svg>")


def build_daily_report(
    day: date,
    records: Iterable[RatedRecord],
    *,
    currency: str = "EUR",
    rejects: Mapping[str, int] | Iterable[DeadLetter] = (),
    kpis: KpiSnapshot | None = None,
) -> DailyReport:
    """Sum the day's rated records (those that started on ``day``, in ``currency``).

    ``rejects`` is a reason -> count mapping or the day's dead letters; ``kpis`` gives the
    throughput (events per second of processing time).
    """
    services = dict.fromkeys(_SERVICES, _ZERO)
    recurring = one_time = other = discounts = taxes = _ZERO
    merged = 0
    hourly = [0] * 24
    for r in records:
        if r.start.date() != day or r.currency != currency:
            continue
        merged += 1
        hourly[r.start.hour] += 1
        for c in r.charges:
            item = c.item_type
            if item in services:
                services[item] += c.gross
            elif base_item_type(item) == "recurring":
                recurring += c.gross
            elif item in _ONE_TIME:
                one_time += c.gross
            else:
                other += c.gross
            discounts += c.discount
            taxes += c.tax
    if isinstance(rejects, Mapping):
        reject_counts = {str(k): int(v) for k, v in rejects.items()}
    else:
        reject_counts = {}
        for d in rejects:
            reject_counts[d.reason] = reject_counts.get(d.reason, 0) + 1
    return DailyReport(
        day=day, currency=currency, merged_records=merged, services=services,
        recurring=recurring, one_time=one_time, other=other, discounts=discounts, taxes=taxes,
        rejects=dict(sorted(reject_counts.items())),
        events_per_second=kpis.events_per_second if kpis is not None else None,
        hourly=tuple(hourly))
