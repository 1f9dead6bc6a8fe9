"""Device-count charging: home-5g includes 3 5G devices, each further one 5.00 a month,
prorated by day (November 2026: 30 days; December: 31)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from offers_world import catalog, pack

from telcoflow.errors import RatingError
from telcoflow.money import Money
from telcoflow.offers import Device, device_charges
from telcoflow.offers.devices import device_prices

NOV = date(2026, 11, 1)


def _bill(devices: list[Device], offering: str = "home-5g", start: date = NOV) -> object:
    return device_charges(pack("device-count.rules.yaml"), catalog(), offering, devices,
                          cycle_start=start)


def test_prices_come_from_the_catalog() -> None:
    assert device_prices(catalog(), "home-5g")[0] == 3
    included, prices = device_prices(catalog(), "family-share")
    # family-share: 2 included, ranks 3-5 at 10.00, ranks 6-8 at 8.00
    assert included == 2
    assert prices == [0, 0, Decimal("10.00"), Decimal("10.00"), Decimal("10.00"),
                      Decimal("8.00"), Decimal("8.00"), Decimal("8.00")]


def test_three_included_a_fourth_prorated_and_a_4g_device_free() -> None:
    devices = [
        Device("phone-a", True, date(2026, 1, 1)),
        Device("phone-b", True, date(2026, 2, 1)),
        Device("old-4g", False, date(2025, 1, 1)),
        Device("tablet", True, date(2026, 3, 1)),
        Device("console", True, date(2026, 11, 16)),   # 16..30 Nov = 15 days
        Device("laptop", True, date(2026, 10, 1), date(2026, 11, 10)),  # 1..10 Nov = 10 days
    ]
    bill = _bill(devices)
    by_id = {c.device: c for c in bill.charges}
    # ranks by activation: phone-a 1, phone-b 2, tablet 3, laptop 4, console 5
    assert [by_id[d].rank for d in ("phone-a", "phone-b", "tablet", "laptop", "console")] == [
        1, 2, 3, 4, 5]
    # laptop 5.00 x 10/30 = 1.666.. -> 1.67; console 5.00 x 15/30 = 2.50
    assert by_id["laptop"].amount == Money("1.67", "EUR")
    assert by_id["console"].amount == Money("2.50", "EUR")
    assert by_id["old-4g"].amount == Money("0", "EUR")
    assert by_id["old-4g"].reason == "not a 5G device: not counted"
    assert bill.total == Money("4.17", "EUR")  # 1.67 + 2.50


def test_a_full_month_in_december() -> None:
    # five 5G devices held all December: ranks 4 and 5 pay 5.00 each = 10.00
    devices = [Device(f"d{i}", True, date(2026, 1, i)) for i in range(1, 6)]
    bill = _bill(devices, start=date(2026, 12, 1))
    assert bill.total == Money("10.00", "EUR")


def test_family_share_sixth_device() -> None:
    # 6 devices all month: ranks 3, 4, 5 at 10.00 and rank 6 at 8.00 = 38.00 (as the
    # catalog's recurring_amount for 6 devices)
    devices = [Device(f"d{i}", True, date(2026, 1, i)) for i in range(1, 7)]
    assert _bill(devices, offering="family-share").total == Money("38.00", "EUR")


def test_devices_outside_the_cycle_are_ignored() -> None:
    devices = [Device(f"d{i}", True, date(2026, 1, i)) for i in range(1, 4)]
    devices.append(Device("gone", True, date(2026, 1, 1), date(2026, 10, 31)))
    devices.append(Device("later", True, date(2026, 12, 1)))
    bill = _bill(devices)
    assert {c.device for c in bill.charges} == {"d1", "d2", "d3"}
    assert bill.total == Money("0", "EUR")


def test_too_many_devices_is_an_error() -> None:
    devices = [Device(f"d{i}", True, date(2026, 1, i)) for i in range(1, 12)]
    with pytest.raises(RatingError, match="allows 10 devices, the plan has 11"):
        _bill(devices)


@given(st.integers(min_value=1, max_value=30))
def test_prorated_charge_never_exceeds_the_monthly_price(day: int) -> None:
    devices = [Device(f"d{i}", True, date(2026, 1, i)) for i in range(1, 4)]
    devices.append(Device("extra", True, date(2026, 11, day)))
    bill = _bill(devices)
    held = 30 - day + 1
    assert bill.total <= Money("5.00", "EUR")
    assert bill.total == Money((Decimal("5.00") * held / 30).quantize(Decimal("0.01"),
                                                                      rounding="ROUND_HALF_UP"),
                               "EUR")
