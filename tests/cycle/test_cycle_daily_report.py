"""The daily report: figures worked out by hand, JSON and a self-contained HTML page."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal

from telcoflow.events import Charge, RatedRecord
from telcoflow.ledger import DeadLetter
from telcoflow.ops.daily_report import build_daily_report
from telcoflow.ops.kpis import KpiSnapshot

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
