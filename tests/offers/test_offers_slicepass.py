"""Rating around a slice pass: amounts worked out by hand with the catalog's data tariff
(graduated: 1.00 per GB up to 10 GB, 1 GB = 1000 MB)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offers_world import catalog, pack

from telcoflow.errors import RatingError
from telcoflow.money import Money
from telcoflow.offers import HeldSlicePass, SlicePassRater


@pytest.fixture(scope="module")
def rater() -> SlicePassRater:
    return SlicePassRater(pack("slice-pass.rules.yaml"), catalog())


def _pass() -> HeldSlicePass:
    return HeldSlicePass.from_catalog(catalog(), "stadium-pass-3h", subscriber="+4670001",
                                  start="2026-11-27T18:00:00")


def test_the_pass_comes_from_the_catalog() -> None:
    sp = _pass()
    assert (sp.start, sp.end) == (datetime(2026, 11, 27, 18), datetime(2026, 11, 27, 21))
    assert sp.included_mb == Decimal(5000)  # 5 GB allowance
    assert sp.price == Money("5.00", "EUR")
    assert (sp.regions, sp.qos_class) == (("stadium-north",), "urllc")


def test_acceptance_example(rater: SlicePassRater) -> None:
    # 6 GB inside the window (4 GB + 2 GB) and 1 GB outside the region:
    # free 5 GB; normal tariff for 1 GB (beyond the pass) + 1 GB (outside) = 2 GB x 1.00
    # = 2.00; total 5.00 + 2.00 = 7.00
    events = [
        {"id": "e1", "time": "2026-11-27T18:30:00", "region": "stadium-north",
         "volume_mb": 4000},
        {"id": "e3", "time": "2026-11-27T20:00:00", "region": "capital", "volume_mb": 1000},
        {"id": "e2", "time": "2026-11-27T19:30:00", "region": "stadium-north",
         "volume_mb": 2000},
    ]
    bill = rater.rate(_pass(), events)
    assert bill.fee == Money("5.00", "EUR")
    assert bill.free_mb == Decimal(5000)
    assert bill.billed_mb == {"data": Decimal(2000)}
    assert bill.usage_amount == Money("2.00", "EUR")
    assert bill.total == Money("7.00", "EUR")
    assert [(u.event_id, u.rule) for u in bill.events] == [
        ("e1", "inside-pass"), ("e2", "pass-volume-used"), ("e3", "outside-region")]


def test_usage_outside_the_window(rater: SlicePassRater) -> None:
    # 500 MB at 17:59 (before) and 700 MB at 21:00 (the end is exclusive) -> 1200 MB
    # normal tariff = 1.2 GB x 1.00 = 1.20; 300 MB inside free; total 5.00 + 1.20 = 6.20
    events = [
        {"time": "2026-11-27T17:59:00", "region": "stadium-north", "volume_mb": 500},
        {"time": "2026-11-27T19:00:00", "region": "stadium-north", "volume_mb": 300},
        {"time": "2026-11-27T21:00:00", "region": "stadium-north", "volume_mb": 700},
    ]
    bill = rater.rate(_pass(), events)
    assert bill.free_mb == Decimal(300)
    assert bill.total == Money("6.20", "EUR")


def test_roaming_outside_is_rated_at_the_zone_rate(rater: SlicePassRater) -> None:
    # 1 GB outside the region in roam-eu: 1.50 per GB -> 1.50; total 6.50
    bill = rater.rate(_pass(), [{"time": "2026-11-27T19:00:00", "region": "elsewhere",
                                 "volume_mb": 1000}], zone="roam-eu")
    assert bill.total == Money("6.50", "EUR")


def test_no_usage_costs_the_fee_only(rater: SlicePassRater) -> None:
    assert rater.rate(_pass(), []).total == Money("5.00", "EUR")


def test_an_offering_without_slice_pass_is_refused() -> None:
    with pytest.raises(RatingError, match="'video-plus' is not a slice pass"):
        HeldSlicePass.from_catalog(catalog(), "video-plus", subscriber="a",
                               start="2026-11-27T18:00:00")


_EVENT = st.fixed_dictionaries({
    "minute": st.integers(min_value=-60, max_value=240),   # from 17:00 to 22:00
    "region": st.sampled_from(["stadium-north", "capital"]),
    "volume_mb": st.integers(min_value=0, max_value=3000),
    "qos_class": st.sampled_from(["urllc", "urllc", "embb"]),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(_EVENT, max_size=8))
def test_volumes_are_conserved_and_the_pass_never_gives_more_than_5_gb(
        rater: SlicePassRater, raw: list[dict[str, object]]) -> None:
    events = [{"time": (datetime(2026, 11, 27, 18) + timedelta(minutes=int(str(e["minute"]))))
               .isoformat(), "region": e["region"], "volume_mb": e["volume_mb"],
               "qos_class": e["qos_class"]} for e in raw]
    bill = rater.rate(_pass(), events)
    used = sum((Decimal(str(e["volume_mb"])) for e in events), Decimal(0))
    assert bill.free_mb + sum(bill.billed_mb.values(), Decimal(0)) == used
    assert bill.free_mb <= Decimal(5000)
    for u in bill.events:
        assert u.free_mb + u.billed_mb == u.volume_mb
    # the normal tariff is at most 1.00 per GB (graduated, home): never more than billed GB
    assert bill.usage_amount.amount <= sum(bill.billed_mb.values(), Decimal(0)) / 1000
    assert bill.total >= bill.fee
