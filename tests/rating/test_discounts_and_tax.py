"""Discounts spread pro rata before tax, then tax per line (categories, inclusive, exemptions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.catalog import Catalog
from telcoflow.errors import CurrencyMismatchError, RatingError
from telcoflow.money import Money
from telcoflow.rating.discounts import ChargeLine, discount_value, spread
from telcoflow.rating.settle import settle
from telcoflow.rating.tax import TaxContext, TaxRules, resolve_tax_category, tax_for

EUR = "EUR"


def _catalog(**extra: Any) -> Catalog:
    data: dict[str, Any] = {
        "kind": "catalog",
        "currency": EUR,
        "tax_defaults": {"category": "telecom", "jurisdiction": "NV"},
        "tax_categories": [
            {"id": "telecom", "rates": [{"jurisdiction": "NV", "percent": 8},
                                        {"jurisdiction": "XX", "percent": 20}]},
            {"id": "digital", "rates": [{"jurisdiction": "NV", "percent": 6}]},
            {"id": "devices", "rates": [{"jurisdiction": "*", "percent": 20, "inclusive": True}]},
            {"id": "dated", "rates": [
                {"jurisdiction": "NV", "percent": 5, "valid_to": "2026-06-30"},
                {"jurisdiction": "NV", "percent": 7, "valid_from": "2026-07-01"}]},
        ],
        "tax_exemptions": [{"id": "ngo", "categories": ["digital"]},
                           {"id": "diplomatic"}],
        "offerings": [{"id": "plan"}, {"id": "video"}, {"id": "family"}],
        "discounts": [
            {"id": "coupon", "kind": "fixed", "amount": "6.00", "duration": "once"},
            {"id": "ten", "kind": "percentage", "percent": 10, "cap": "3.00",
             "duration": "recurring", "cycles": 2},
            {"id": "bundle", "kind": "percentage", "percent": 50, "duration": "forever",
             "requires_offerings": ["plan", "family"],
             "applies_to": {"offerings": ["plan"]}},
        ],
    }
    data.update(extra)
    return Catalog.model_validate(data)


def _lines() -> list[ChargeLine]:
    return [
        ChargeLine("plan", Money("50.00", EUR), offering="plan", price_type="recurring",
                   offering_tax_category="telecom"),
        ChargeLine("video", Money("10.00", EUR), offering="video", price_type="benefit",
                   tax_category="digital"),
    ]


def test_coupon_worked_example() -> None:
    catalog = _catalog()
    result = settle(_lines(), catalog, discounts=[catalog.discount("coupon")])
    plan, video = result.lines
    # 6.00 spread pro rata over 50 and 10: 6 x 50/60 = 5.00, 6 x 10/60 = 1.00
    assert (plan.discount, video.discount) == (Money("5.00", EUR), Money("1.00", EUR))
    # tax after discount: 45.00 x 8 % = 3.60 ; 9.00 x 6 % = 0.54 ; total tax 4.14
    assert (plan.tax, video.tax) == (Money("3.60", EUR), Money("0.54", EUR))
    assert result.tax_total == Money("4.14", EUR)
    # total: 60.00 - 6.00 + 4.14 = 58.14
    assert result.total == Money("58.14", EUR)
    assert result.discount_total == Money("6.00", EUR)
    assert result.discounts[0].parts == {"plan": Money("5.00", EUR), "video": Money("1.00", EUR)}


def test_percentage_discount_is_capped() -> None:
    catalog = _catalog()
    result = settle(_lines(), catalog, discounts=[catalog.discount("ten")])
    # 10 % of 60.00 = 6.00, capped at 3.00; spread 3 x 50/60 = 2.50, 3 x 10/60 = 0.50
    assert [ln.discount for ln in result.lines] == [Money("2.50", EUR), Money("0.50", EUR)]
    # tax: 47.50 x 8 % = 3.80 ; 9.50 x 6 % = 0.57
    assert result.tax_total == Money("4.37", EUR)
    assert result.total == Money("61.37", EUR)  # 57.00 + 4.37


def test_durations_once_recurring_forever() -> None:
    catalog = _catalog()
    coupon, ten = catalog.discount("coupon"), catalog.discount("ten")
    assert settle(_lines(), catalog, discounts=[coupon], cycle_index=1).discount_total == Money(
        "0", EUR)  # once: first cycle only
    assert settle(_lines(), catalog, discounts=[ten], cycle_index=1).discount_total == Money(
        "3.00", EUR)  # recurring for 2 cycles: second cycle still on
    assert settle(_lines(), catalog, discounts=[ten], cycle_index=2).discount_total == Money(
        "0", EUR)  # third cycle: off
    bundle = catalog.discount("bundle")
    assert bundle.active_in_cycle(1000)  # forever


def test_bundle_condition_and_scope() -> None:
    catalog = _catalog()
    bundle = catalog.discount("bundle")
    held_both = settle(_lines(), catalog, discounts=[bundle], held_offerings={"plan", "family"})
    # 50 % of the plan line only (scope offerings: [plan]) = 25.00; video untouched
    assert [ln.discount for ln in held_both.lines] == [Money("25.00", EUR), Money("0", EUR)]
    held_one = settle(_lines(), catalog, discounts=[bundle], held_offerings={"plan"})
    assert held_one.discount_total == Money("0", EUR)
    # no proof of what the account holds: the bundle is not granted (it used to be)
    unknown = settle(_lines(), catalog, discounts=[bundle])
    assert unknown.discount_total == Money("0", EUR)


def test_discounts_apply_in_order_on_what_is_left() -> None:
    catalog = _catalog()
    result = settle(_lines(), catalog, discounts=[catalog.discount("coupon"),
                                                  catalog.discount("ten")])
    # coupon: 5.00 + 1.00 -> lines 45.00 and 9.00 ; 10 % of 54.00 = 5.40 capped at 3.00
    # spread 3 x 45/54 = 2.50, 3 x 9/54 = 0.50
    assert [ln.discount for ln in result.lines] == [Money("7.50", EUR), Money("1.50", EUR)]


def test_fixed_discount_never_exceeds_covered_lines() -> None:
    catalog = _catalog()
    small = [ChargeLine("sms", Money("2.00", EUR), tax_category="telecom")]
    result = settle(small, catalog, discounts=[catalog.discount("coupon")])
    assert result.lines[0].discount == Money("2.00", EUR)
    assert result.total == Money("0.00", EUR)


def test_inclusive_tax_is_extracted_not_added() -> None:
    catalog = _catalog()
    phone = [ChargeLine("phone", Money("120.00", EUR), tax_category="devices")]
    line = settle(phone, catalog).lines[0]
    # 120 includes 20 %: tax = 120 x 20/120 = 20.00 ; the customer pays 120.00
    assert (line.tax, line.total, line.net_of_tax) == (
        Money("20.00", EUR), Money("120.00", EUR), Money("100.00", EUR))


def test_tax_precedence_charge_offer_account_default() -> None:
    assert resolve_tax_category(charge="a", offer="b", account="c", default="d") == "a"
    assert resolve_tax_category(offer="b", account="c", default="d") == "b"
    assert resolve_tax_category(account="c", default="d") == "c"
    assert resolve_tax_category(default="d") == "d"
    catalog = _catalog()
    bare = [ChargeLine("x", Money("10.00", EUR))]
    # nothing on the line: the account's category (digital 6 %) beats the default (telecom)
    line = settle(bare, catalog, tax=TaxContext(account_tax_category="digital")).lines[0]
    assert (line.tax_category, line.tax) == ("digital", Money("0.60", EUR))
    line = settle(bare, catalog).lines[0]
    assert (line.tax_category, line.tax) == ("telecom", Money("0.80", EUR))


def test_jurisdiction_and_dated_rates() -> None:
    catalog = _catalog()
    line = [ChargeLine("x", Money("10.00", EUR), tax_category="telecom")]
    assert settle(line, catalog, tax=TaxContext(jurisdiction="XX")).tax_total == Money("2.00", EUR)
    with pytest.raises(RatingError, match="no rate for jurisdiction 'YY'"):
        settle(line, catalog, tax=TaxContext(jurisdiction="YY"))
    dated = [ChargeLine("x", Money("10.00", EUR), tax_category="dated")]
    june = settle(dated, catalog, tax=TaxContext(on=date(2026, 6, 30))).tax_total
    july = settle(dated, catalog, tax=TaxContext(on=date(2026, 7, 1))).tax_total
    assert (june, july) == (Money("0.50", EUR), Money("0.70", EUR))


def test_exemptions() -> None:
    catalog = _catalog()
    ngo = settle(_lines(), catalog, tax=TaxContext(exemptions=("ngo",)))
    # ngo is exempt from digital only: plan taxed 4.00, video 0
    assert [ln.tax for ln in ngo.lines] == [Money("4.00", EUR), Money("0", EUR)]
    assert ngo.lines[1].exempted_by == "ngo"
    phone = [ChargeLine("phone", Money("120.00", EUR), tax_category="devices")]
    dip = settle(phone, catalog, tax=TaxContext(exemptions=("diplomatic",))).lines[0]
    # inclusive price without its 20.00 tax
    assert (dip.tax, dip.total) == (Money("0", EUR), Money("100.00", EUR))
    with pytest.raises(RatingError, match="unknown tax exemption 'nope'"):
        settle(phone, catalog, tax=TaxContext(exemptions=("nope",)))


def test_lines_are_rounded_before_discount_and_tax() -> None:
    catalog = _catalog()
    usage = [ChargeLine("u", Money("0.125", EUR), tax_category="telecom")]
    line = settle(usage, catalog).lines[0]
    # 0.125 -> 0.13 (half-up) ; tax 0.13 x 8 % = 0.0104 -> 0.01
    assert (line.amount, line.tax, line.total) == (
        Money("0.13", EUR), Money("0.01", EUR), Money("0.14", EUR))


def test_discount_value_and_tax_for_helpers() -> None:
    catalog = _catalog()
    assert discount_value(catalog.discount("ten"), Money("20.00", EUR)) == Money("2.00", EUR)
    assert discount_value(catalog.discount("coupon"), Money("0", EUR)) == Money("0", EUR)
    assert tax_for(Money("10.00", EUR), None) == Money("0", EUR)
    usd = Catalog.model_validate({"kind": "catalog", "currency": EUR, "discounts": [
        {"id": "d", "kind": "fixed", "amount": 1, "currency": "USD"}]})
    with pytest.raises(CurrencyMismatchError):
        discount_value(usd.discount("d"), Money("5.00", EUR))


def test_mixed_currencies_are_refused() -> None:
    lines = [ChargeLine("a", Money("1", EUR)), ChargeLine("b", Money("1", "USD"))]
    with pytest.raises(CurrencyMismatchError):
        settle(lines, _catalog())


@settings(max_examples=200, deadline=None)
@given(
    total=st.decimals(min_value=0, max_value=10**4, places=2),
    weights=st.lists(st.decimals(min_value=0, max_value=10**4, places=2), min_size=1,
                     max_size=8).filter(lambda ws: sum(ws) > 0),
)
def test_spread_parts_sum_exactly_and_are_minor_units(
    total: Decimal, weights: list[Decimal]
) -> None:
    parts = spread(Money(total, EUR), [Money(w, EUR) for w in weights])
    assert sum((p.amount for p in parts), Decimal(0)) == total
    for part, weight in zip(parts, weights, strict=True):
        exponent = part.amount.as_tuple().exponent
        assert isinstance(exponent, int)
        assert exponent >= -2
        if weight == 0:
            assert part.amount == 0


# -- TaxRules with a rate inside the price (issue 13) ------------------------------------------


def _rules(rule: str = "per-line") -> TaxRules:
    return TaxRules(_catalog(tax_defaults={"category": "telecom", "jurisdiction": "NV",
                                           "rule": rule}))


def test_tax_rules_extract_an_inclusive_rate_from_the_price() -> None:
    rules = _rules()
    assert (rules.rate("devices"), rules.inclusive("devices")) == (Decimal(20), True)
    assert (rules.rate("telecom"), rules.inclusive("telecom")) == (Decimal(8), False)
    assert rules.inclusive(None) is False
    assert rules.any_inclusive
    cent = Decimal("0.01")
    # 25.00 with 20 % inside: 25.00 x 20 / 120 = 4.1666.. -> 4.17 (the net is 20.83);
    # added instead: 25.00 x 20 / 100 = 5.00
    assert rules.line_taxes([Decimal("25.00")], Decimal(20), cent, inclusive=True) == [
        Decimal("4.17")]
    assert rules.line_taxes([Decimal("25.00")], Decimal(20), cent) == [Decimal("5.00")]
    # per line: 10.03 x 20 / 120 = 1.67166.. -> 1.67, three times: 5.01
    assert rules.line_taxes([Decimal("10.03")] * 3, Decimal(20), cent, inclusive=True) == [
        Decimal("1.67")] * 3
    # per bill and rate: 30.09 x 20 / 120 = 5.015 -> 5.02 (half up), spread 1.68 + 1.67 + 1.67
    assert _rules("per-bill-rate").line_taxes([Decimal("10.03")] * 3, Decimal(20), cent,
                                              inclusive=True) == [
        Decimal("1.68"), Decimal("1.67"), Decimal("1.67")]


def test_tax_rules_still_refuse_a_category_without_a_rate_there() -> None:
    rules = TaxRules(_catalog())
    with pytest.raises(RatingError, match="'digital' has no rate for jurisdiction 'XX'"):
        rules.inclusive("digital", "XX")


def test_tax_rules_category_of_each_fee_line() -> None:
    cat = _catalog(discounts=[], offerings=[{"id": "family", "tax_category": "telecom", "prices": [
        {"price_type": "recurring", "id": "phone", "amount": "25.00", "cycles": 24,
         "tax_category": "devices"},
        {"price_type": "recurring", "id": "extra", "per": "device", "tax_category": "digital",
         "price": {"model": "per_unit", "unit_price": "5.00"}},
        {"price_type": "recurring", "id": "base", "amount": "60.00"}]}])
    rules = TaxRules(cat)
    # the plan fee line: the first flat price for good (base: none of its own -> the
    # offering's telecom), not the instalment listed first; the device line: the per-device
    # price's digital; the instalment's own line: devices
    assert rules.category("family", "recurring") == "telecom"
    assert rules.category("family", "device") == "digital"
    assert rules.category("other", "recurring:family/phone") == "devices"
    assert rules.category("family", "recurring:family/base") == "telecom"
