"""The daily report: what the real-time path did in one day, as JSON and as an HTML page.

Figures: merged records (rated records posted to the ledger), charges per service (voice,
data, SMS, slice), recurring and one-time charges (external partner fees counted with
one-time), discounts, taxes, rejects per reason, throughput (events per second of processing,
records per hour). The HTML page is self-contained: inline CSS and inline SVG charts, no
scripts, no external assets.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from telcoflow.billing.documents.formatting import format_money
from telcoflow.events import RatedRecord, base_item_type
from telcoflow.ledger import DeadLetter
from telcoflow.ops.kpis import KpiSnapshot

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (amounts as decimal strings)."""
        return {
            "day": self.day.isoformat(), "currency": self.currency,
            "merged_records": self.merged_records,
            "charges": {**{k: str(v) for k, v in self.services.items()},
                        "recurring": str(self.recurring), "one_time": str(self.one_time),
                        "other": str(self.other), "total": str(self.charges)},
            "discounts": str(self.discounts), "taxes": str(self.taxes), "total": str(self.total),
            "rejects": dict(self.rejects), "rejects_total": sum(self.rejects.values()),
            "throughput": {"events_per_second": None if self.events_per_second is None
                           else round(self.events_per_second, 1),
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
        eps = ("-" if self.events_per_second is None
               else f"{self.events_per_second:,.0f} events/s")
        return (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{heading}</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}"
            "td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}"
            ".n{text-align:right}.kpi{display:inline-block;margin-right:2em}"
            ".kpi b{display:block;font-size:1.4em}</style></head><body>"
            f"<h1>{heading}</h1>"
            f"<div class=kpi>merged records<b>{self.merged_records:,}</b></div>"
            f"<div class=kpi>charges<b>{money(self.charges)}</b></div>"
            f"<div class=kpi>discounts<b>{money(self.discounts)}</b></div>"
            f"<div class=kpi>taxes<b>{money(self.taxes)}</b></div>"
            f"<div class=kpi>rejects<b>{sum(self.rejects.values()):,}</b></div>"
            f"<div class=kpi>throughput<b>{html.escape(eps)}</b></div>"
            "<h2>Charges</h2>"
            + _bar_chart([(k, v) for k, v in charges], "Charges by type")
            + f"<table><tbody>{rows}</tbody></table>"
            "<h2>Records per hour</h2>"
            + _bar_chart([(f"{h:02d}", Decimal(n)) for h, n in enumerate(self.hourly)],
                         "Records per hour", small_labels=True)
            + f"<h2>Rejects</h2><table><tbody>{rejects}</tbody></table>"
            "</body></html>"
        )


def _bar_chart(values: list[tuple[str, Decimal]], label: str, *,
               small_labels: bool = False) -> str:
    """An inline SVG bar chart (no scripts, no external references)."""
    width, height, pad = 640, 200, 24
    n = max(len(values), 1)
    top = max((v for _, v in values), default=_ZERO)
    slot = (width - 2 * pad) / n
    bars = []
    for i, (name, v) in enumerate(values):
        h = 0.0 if top <= 0 else float(v / top) * (height - 2 * pad)  # drawing only
        x = pad + i * slot + slot * 0.1
        y = height - pad - h
        size = 9 if small_labels else 11
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
            f'fill="#3b7dd8"><title>{html.escape(name)}: {v}</title></rect>'
            f'<text x="{x + slot * 0.4:.1f}" y="{height - pad + 14}" font-size="{size}" '
            f'text-anchor="middle">{html.escape(name)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="{html.escape(label)}">' + "".join(bars) + "</svg>")


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
