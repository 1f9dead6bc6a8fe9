"""The daily report: figures worked out by hand, JSON and a self-contained HTML page."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal

from telcoflow.billing.kpis import KpiSnapshot
from telcoflow.events import Charge, RatedRecord
from telcoflow.ledger import DeadLetter
from telcoflow.ops.daily_report import build_daily_report

D = Decimal
DAY = date(2026, 11, 20)


def _rec(i: int, hour: int, *charges: Charge, day: int = 20) -> RatedRecord:
    return RatedRecord(f"e{i}", "usage", "A", "S", "2026-11-01", "EUR", list(charges),
                       datetime(2026, 11, day, hour, tzinfo=timezone.utc))


def _records() -> list[RatedRecord]:
    return [
        _rec(1, 9, Charge("voice", D("1.50"), D(60), discount=D("0.15"), tax=D("0.27"))),
        _rec(2, 9, Charge("data", D("4.00"), D(100), tax=D("0.80"))),
        _rec(3, 14, Charge("sms", D("0.10"), D(1)), Charge("slice", D("2.00"), D(1))),
        _rec(4, 23, Charge("recurring", D("20.00")), Charge("one_time", D("5.00"))),
        _rec(5, 10, Charge("voice", D("99")), day=21),  # another day: left out
    ]


def test_daily_figures_by_hand() -> None:
    kpis = KpiSnapshot(submitted=1000, accepted=990, duplicates=2, rejected={"unknown": 8},
                       rated=990, notifications=0, batches=1, elapsed_seconds=3.0,
                       busy_seconds=0.5)
    report = build_daily_report(
        DAY, _records(), rejects=[DeadLetter("x1", "unknown-subscriber", "m"),
                                  DeadLetter("x2", "unknown-subscriber", "m"),
                                  DeadLetter("x3", "duplicate-conflict", "m")], kpis=kpis)
    assert report.merged_records == 4
    assert report.services == {"voice": D("1.50"), "data": D("4.00"), "sms": D("0.10"),
                               "slice": D("2.00")}
    assert (report.recurring, report.one_time) == (D("20.00"), D("5.00"))
    # charges 1.50 + 4.00 + 0.10 + 2.00 + 20.00 + 5.00 = 32.60; - 0.15 + 0.27 + 0.80 = 33.52
    assert report.charges == D("32.60")
    assert report.total == D("33.52")
    assert report.rejects == {"duplicate-conflict": 1, "unknown-subscriber": 2}
    assert report.events_per_second == 2000.0  # 1000 events / 0.5 s busy
    data = json.loads(report.to_json())
    assert data["charges"]["total"] == "32.60"
    assert data["rejects_total"] == 3
    assert data["throughput"]["records_per_hour"][9] == 2
    assert sum(data["throughput"]["records_per_hour"]) == 4


def test_html_page_is_self_contained_with_svg_charts() -> None:
    page = build_daily_report(DAY, _records(), rejects={"bad<reason>": 1}).to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2
    assert "bad&lt;reason&gt;" in page
    assert "€32.60" in page
    assert not re.search(r"<script|<link|<img|\bsrc=|\bhref=|url\(", page)


def test_json_amounts_have_the_currency_decimals_alike() -> None:
    # issue #18: the demo's JSON mixed "80.717000", "37.785" and "0"
    records = [
        _rec(1, 8, Charge("data", D("3.8835"), D(100), tax=D("0.776700"))),
        _rec(2, 9, Charge("voice", D("1.5"), D(60))),
    ]
    data = json.loads(build_daily_report(DAY, records).to_json())
    # data 3.8835 -> 3.88 (half-even); voice 1.5 -> 1.50; charges 5.3835 -> 5.38;
    # taxes 0.776700 -> 0.78; total 5.3835 + 0.7767 = 6.1602 -> 6.16; nothing else -> 0.00
    assert data["charges"] == {"voice": "1.50", "data": "3.88", "sms": "0.00", "slice": "0.00",
                               "recurring": "0.00", "one_time": "0.00", "other": "0.00",
                               "total": "5.38"}
    assert (data["discounts"], data["taxes"], data["total"]) == ("0.00", "0.78", "6.16")
    amounts = [*data["charges"].values(), data["discounts"], data["taxes"], data["total"]]
    assert all(re.fullmatch(r"-?\d+\.\d\d", a) for a in amounts)
    # 2 records in the day: 2 / 24 = 0.083 -> 0.1 per hour on average, peak 1
    assert data["throughput"]["records_per_hour_average"] == "0.1"
    assert data["throughput"]["records_per_hour_peak"] == 1


def test_html_has_axes_a_grand_total_and_a_real_throughput() -> None:
    page = build_daily_report(DAY, _records()).to_html()
    # the grand total (33.52, worked out in test_daily_figures_by_hand) as a tile and a row
    assert "grand total<b>€33.52</b>" in page
    assert "<tr><td>grand total</td><td class=n>€33.52</td></tr>" in page
    # both charts have two axis lines, a titled x and y axis, and y ticks 0, half and top
    assert page.count("hour of the day") == 1
    assert "amount (EUR)" in page
    assert ">€0.00</text>" in page
    assert ">€20.00</text>" in page
    assert ">€10.00</text>" in page
    # no KPIs given: the tile says what the records say, never "-"
    # 4 records: 4 / 24 = 0.17 -> 0.2 per hour; peak 2 at 09:00
    assert "throughput<b>0.2 records/h</b><small>average; peak 2 at 09:00</small>" in page
    kpis = KpiSnapshot(submitted=100, accepted=100, duplicates=0, rejected={}, rated=100,
                       notifications=0, batches=1, elapsed_seconds=1.0, busy_seconds=0.25)
    with_kpis = build_daily_report(DAY, _records(), kpis=kpis).to_html()
    assert "throughput<b>400 events/s</b>" in with_kpis  # 100 events / 0.25 s busy
