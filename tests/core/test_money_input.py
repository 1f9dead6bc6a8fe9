"""Issue #18 item 4: money input rules per currency (ISO 4217 minor units).

Each defect here passed silently on the base commit: 5.005 EUR, ``0x10`` and ``12_000`` were
accepted as amounts, an unknown currency got 2 decimals, messages showed ``Decimal('-5.00')``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.errors import DefinitionError, MoneyError
from telcoflow.loading.catalog import parse_catalog
from telcoflow.money import Currency, check_minor_units, format_amount, to_decimal


def _catalog(currency: str, amount: str, *, extra: str = "") -> str:
    return (
        f"kind: catalog\ncurrency: {currency}\n{extra}offerings:\n  - id: o1\n    prices:\n"
        f"      - {{price_type: one_time, id: fee, amount: {amount}}}\n"
    )


@pytest.mark.parametrize(
    ("code", "exponent"),
    # ISO 4217 table: CFA francs and the Ugandan shilling have no minor unit, Bahrain 3
    [("EUR", 2), ("JPY", 0), ("XOF", 0), ("XAF", 0), ("UGX", 0), ("BHD", 3), ("CLF", 4)],
)
def test_minor_units_come_from_iso_4217(code: str, exponent: int) -> None:
    assert Currency.of(code).exponent == exponent


@pytest.mark.parametrize("code", ["EUX", "XAU", "XTS"])
def test_unknown_currency_is_an_error_not_two_decimals(code: str) -> None:
    # EUX is no currency; gold (XAU) and the test code XTS have no minor unit ("N.A.")
    with pytest.raises(MoneyError, match=f"unknown currency '{code}'"):
        Currency.of(code)


def test_unknown_catalog_currency_is_located() -> None:
    located = r"c\.yaml:2:\d+ \(\$\.currency\).*unknown currency 'EUX'"
    with pytest.raises(DefinitionError, match=located):
        parse_catalog(_catalog("EUX", "1"), "c.yaml")


def test_more_decimals_than_the_currency_is_located_error() -> None:
    # amount is on line 6 of the text; 5.005 has 3 decimals, EUR 2
    with pytest.raises(DefinitionError) as info:
        parse_catalog(_catalog("EUR", "5.005"), "c.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.path) == (
        "c.yaml", 6, "$.offerings[0].prices[0].amount")
    assert problem.code == "E-money-minor-units"
    assert "`amount` 5.005 EUR has 3 decimals; EUR has 2" in problem.message


def test_zero_decimal_currency_refuses_fractions_and_trailing_zeros_are_fine() -> None:
    with pytest.raises(DefinitionError, match=r"100\.5 XOF has 1 decimal; XOF has 0"):
        parse_catalog(_catalog("XOF", "100.5"))
    assert parse_catalog(_catalog("EUR", "5.000")).offerings[0].prices[0].amount == Decimal(5)


def test_an_item_currency_overrides_the_catalog_currency() -> None:
    text = _catalog("EUR", "1.5").replace("amount: 1.5}", "amount: 1.5, currency: JPY}")
    with pytest.raises(DefinitionError, match=r"1\.5 JPY has 1 decimal; JPY has 0"):
        parse_catalog(text)


def test_rates_may_have_more_decimals() -> None:
    # a per-MB price of 0.0049 EUR is a rate, not an amount
    extra = (
        "tariffs:\n  - {id: data, service: data, unit: MB, "
        "price: {model: per_unit, unit_price: 0.0049}}\n"
    )
    catalog = parse_catalog(_catalog("EUR", "1.00", extra=extra))
    assert catalog.tariffs[0].price.unit_price == Decimal("0.0049")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("written", "message"),
    [("0x10", r"must be written as a decimal number, not '0x10' \(= 16\)"),
     ("0o10", r"must be written as a decimal number, not '0o10' \(= 8\)"),
     ("12_000", r"must be a decimal number without separators \(got '12_000'\)"),
     ("'12_000'", r"without separators")],
)
def test_non_decimal_notations_are_refused_as_money(written: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        parse_catalog(_catalog("EUR", written))


def test_negative_amount_message_is_human() -> None:
    with pytest.raises(DefinitionError) as info:
        parse_catalog(_catalog("EUR", "-5.00"))
    text = str(info.value)
    assert "(found -5.00)" in text
    assert "Decimal(" not in text
    assert format_amount(Decimal("-5.00"), "EUR") == "-5.00 EUR"


_CODES = ["EUR", "JPY", "XOF", "BHD", "CLF", "USD", "UGX"]


@settings(deadline=None, max_examples=200)
@given(
    code=st.sampled_from(_CODES),
    units=st.integers(min_value=0, max_value=10**12),
    places=st.integers(min_value=0, max_value=6),
)
def test_fuzz_minor_units_rule(code: str, units: int, places: int) -> None:
    # the amount units * 10**-places is accepted iff, with trailing zeros dropped, it has at
    # most the currency's exponent decimals
    amount = Decimal(units).scaleb(-places)
    exponent = Currency.of(code).exponent
    needed = -amount.normalize().as_tuple().exponent if amount else 0  # type: ignore[operator]
    if max(needed, 0) <= exponent:
        check_minor_units(amount, code)
    else:
        with pytest.raises(MoneyError, match=f"{code} has {exponent}"):
            check_minor_units(amount, code)


@settings(deadline=None, max_examples=150)
@given(text=st.text(alphabet="0123456789._-+xoeE ", min_size=1, max_size=12))
def test_fuzz_to_decimal_never_leaks_other_errors(text: str) -> None:
    # any text is either an exact decimal or a MoneyError, never another exception
    try:
        value = to_decimal(text)
    except MoneyError:
        return
    assert value.is_finite()
    assert "_" not in text


@settings(deadline=None, max_examples=60)
@given(
    code=st.sampled_from(_CODES),
    units=st.integers(min_value=0, max_value=10**9),
    places=st.integers(min_value=0, max_value=5),
)
def test_fuzz_catalog_amounts(code: str, units: int, places: int) -> None:
    amount = Decimal(units).scaleb(-places)
    written = f"{amount:f}"
    ok = max(-amount.normalize().as_tuple().exponent, 0) <= Currency.of(code).exponent  # type: ignore[operator]
    if ok:
        catalog = parse_catalog(_catalog(code, written))
        assert catalog.offerings[0].prices[0].amount == amount  # type: ignore[union-attr]
    else:
        with pytest.raises(DefinitionError, match="E-money-minor-units"):
            parse_catalog(_catalog(code, written))
