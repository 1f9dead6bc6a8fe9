"""Money: exact amounts, no floats, explicit rounding, currencies never mix."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telcoflow.errors import CurrencyMismatchError, MoneyError
from telcoflow.money import Currency, Increment, Money, RoundingPolicy


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(MoneyError, match="float"):
        Money(0.1, "EUR")
    with pytest.raises(MoneyError, match="float"):
        Money("1", "EUR") * 1.5
    with pytest.raises(MoneyError, match="boolean"):
        Money(True, "EUR")


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR and USD"):
        Money("1", "EUR") + Money("1", "USD")
    with pytest.raises(CurrencyMismatchError):
        _ = Money("1", "EUR") < Money("2", "USD")


def test_exact_arithmetic_keeps_digits() -> None:
    # 0.05 per minute for 60 s: 60/60 * 0.05 = 0.05 exactly (not 0.0498...)
    per_second = Money("0.05", "EUR") / 60
    assert (per_second * 60).rounded(RoundingPolicy.HALF_UP) == Money("0.05", "EUR")
    assert Money("0.1", "EUR") + Money("0.2", "EUR") == Money("0.3", "EUR")


@pytest.mark.parametrize(
    ("policy", "value", "expected"),
    [
        (RoundingPolicy.HALF_UP, "2.345", "2.35"),
        (RoundingPolicy.HALF_EVEN, "2.345", "2.34"),
        (RoundingPolicy.HALF_EVEN, "2.355", "2.36"),
        (RoundingPolicy.UP, "2.341", "2.35"),
        (RoundingPolicy.DOWN, "2.349", "2.34"),
        (RoundingPolicy.UP, "-2.341", "-2.35"),
    ],
)
def test_rounding_policies(policy: RoundingPolicy, value: str, expected: str) -> None:
    assert Money(value, "EUR").rounded(policy) == Money(expected, "EUR")


def test_minor_units_follow_currency() -> None:
    assert Money("1234.5", "JPY").rounded(RoundingPolicy.HALF_UP) == Money("1235", "JPY")
    assert Money("1.2345", "KWD").rounded(RoundingPolicy.DOWN).amount == Decimal("1.234")
    assert Currency.of("EUR").quantum == Decimal("0.01")
    with pytest.raises(MoneyError, match="three upper-case"):
        Currency("euro")


def test_allocate_sums_exactly() -> None:
    parts = Money("10.00", "EUR").allocate([1, 1, 1])
    assert [p.amount for p in parts] == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    # 6.00 coupon over 50.00 and 10.00: 5.00 and 1.00
    assert [p.amount for p in Money("6.00", "EUR").allocate([50, 10])] == [
        Decimal("5.00"),
        Decimal("1.00"),
    ]


@given(
    st.decimals(min_value=-10_000, max_value=10_000, places=2),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8).filter(any),
)
def test_allocate_property_parts_sum_to_whole(amount: Decimal, weights: list[int]) -> None:
    whole = Money(amount, "EUR")
    parts = whole.allocate(weights)
    assert sum(parts, Money.zero("EUR")) == whole
    assert all(p.amount == p.amount.quantize(Decimal("0.01")) for p in parts)


@pytest.mark.parametrize(
    ("used", "charged"),
    [(0, 0), (1, 60), (60, 60), (61, 90), (90, 90), (91, 120), (125, 150)],
)
def test_increment_first_minute_then_thirty_seconds(used: int, charged: int) -> None:
    inc = Increment(step=Decimal(30), minimum=Decimal(60))
    assert inc.charged(Decimal(used)) == Decimal(charged)


def test_voice_worked_example() -> None:
    # 0.12/min = 0.002/s; 61 s -> 90 s charged -> 0.18; 125 s -> 150 s -> 0.30
    inc = Increment(step=Decimal(30), minimum=Decimal(60))
    per_second = Money("0.12", "EUR") / 60
    assert (per_second * inc.charged(Decimal(61))).rounded() == Money("0.18", "EUR")
    assert (per_second * inc.charged(Decimal(125))).rounded() == Money("0.30", "EUR")


@given(
    st.decimals(min_value=0, max_value=100_000, places=3),
    st.decimals(min_value=0, max_value=10, places=3),
)
def test_increments_never_decrease(q: Decimal, extra: Decimal) -> None:
    inc = Increment(step=Decimal("1"), minimum=Decimal("0"))
    assert inc.charged(q + extra) >= inc.charged(q) >= q
