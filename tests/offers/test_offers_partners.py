"""Partner benefits and the per-partner revenue report (November 2026: 30 days)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from offers_world import catalog, pack

from telcoflow.errors import RatingError
from telcoflow.money import Money
from telcoflow.offers import BenefitHolding, benefit_lines, partner_report

NOV = date(2026, 11, 1)


def _eur(text: str) -> Money:
    return Money(text, "EUR")


def _lines(holdings: list[BenefitHolding]) -> list:  # type: ignore[type-arg]
    return benefit_lines(pack("partner-benefits.rules.yaml"), catalog(), holdings,
                         cycle_start=NOV)


def test_lines_and_report_per_partner() -> None:
    holdings = [
        BenefitHolding("a", "video-plus", date(2026, 11, 16)),        # 15 of 30 days
        BenefitHolding("b", "plan-5g-video", date(2026, 1, 1)),        # included video
        BenefitHolding("c", "music-plus", date(2026, 10, 1)),          # full cycle
        BenefitHolding("d", "scenic-live", date(2026, 11, 27), date(2026, 11, 28)),  # 2 days
        BenefitHolding("e", "music-plus", date(2026, 11, 1), trial=True),  # free trial
        BenefitHolding("f", "video-plus", date(2026, 12, 1)),          # not in November
    ]
    lines = _lines(holdings)
    assert [(ln.subscriber, ln.benefit) for ln in lines] == [
        ("a", "video-membership"), ("b", "video-included"), ("c", "music-membership"),
        ("d", "scenic-live-day"), ("e", "music-membership")]
    a, b, c, d, e = lines
    # a: 10.00 x 15/30 = 5.00; partner 7.00 x 15/30 = 3.50; share 5.00 x 30 % = 1.50
    assert (a.customer, a.partner_cost, a.revenue_share) == (_eur("5.00"), _eur("3.50"),
                                                             _eur("1.50"))
    # b: included: customer 0, wholesale 6.00, share 0
    assert (b.customer, b.partner_cost, b.revenue_share) == (_eur("0"), _eur("6.00"), _eur("0"))
    # c: 5.00 / 3.50 / 1.50
    assert (c.customer, c.partner_cost, c.revenue_share) == (_eur("5.00"), _eur("3.50"),
                                                             _eur("1.50"))
    # d: per day: 3.00 x 2 = 6.00; 1.80 x 2 = 3.60; 6.00 x 40 % = 2.40
    assert (d.customer, d.partner_cost, d.revenue_share) == (_eur("6.00"), _eur("3.60"),
                                                             _eur("2.40"))
    assert e.customer == _eur("0")
    assert e.partner_cost == _eur("0")

    report = partner_report(lines, catalog())
    rows = {p.partner: p for p in report.partners}
    assert list(rows) == ["arenacast", "streamflix", "tunewave"]
    # streamflix: customer 5.00 + 0 = 5.00; cost 3.50 + 6.00 = 9.50; share 1.50
    s = rows["streamflix"]
    assert (s.customer, s.partner_cost, s.revenue_share, s.lines) == (
        _eur("5.00"), _eur("9.50"), _eur("1.50"), 2)
    assert s.margin == _eur("-4.50")
    assert s.name == "StreamFlix video"
    # tunewave: 5.00 + 0, 3.50 + 0, 1.50 + 0
    assert rows["tunewave"].customer == _eur("5.00")
    # totals: customer 5 + 5 + 6 = 16.00; cost 9.50 + 3.50 + 3.60 = 16.60; share 5.40
    assert (report.total.customer, report.total.partner_cost, report.total.revenue_share) == (
        _eur("16.00"), _eur("16.60"), _eur("5.40"))
    assert report.by_partner("revenue_share") == {
        "arenacast": _eur("2.40").amount, "streamflix": _eur("1.50").amount,
        "tunewave": _eur("1.50").amount}


@given(st.integers(min_value=1, max_value=30))
def test_prorated_lines_never_exceed_the_full_cycle(day: int) -> None:
    (line,) = _lines([BenefitHolding("a", "video-plus", date(2026, 11, day))])
    assert line.customer <= _eur("10.00")
    assert line.partner_cost <= _eur("7.00")
    assert line.revenue_share <= line.customer
    assert line.days == 30 - day + 1


def test_an_unknown_offering_names_the_subscriber() -> None:
    with pytest.raises(RatingError, match=r"unknown offering 'gone'.*subscriber 'z'"):
        _lines([BenefitHolding("z", "gone", date(2026, 11, 1))])
