"""Catalog models: money fields, price-model union, bands, versions, references."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from telcoflow.catalog import (
    Catalog,
    GraduatedPrice,
    ProductOffering,
    RecurringPrice,
    TimeBand,
    UsageTariff,
    reference_problems,
)
from telcoflow.catalog.model import SKIP_REFERENCE_CHECKS
from telcoflow.money import Currency


def _tariff(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "t", "service": "voice", "unit": "second",
                            "price": {"model": "per_unit", "unit_price": "0.12"}}
    data.update(extra)
    return data


def test_amounts_are_exact_decimals_and_floats_are_refused() -> None:
    tariff = UsageTariff.model_validate(_tariff())
    assert tariff.price.unit_price == Decimal("0.12")  # type: ignore[union-attr]
    with pytest.raises(pydantic.ValidationError, match="not a float"):
        UsageTariff.model_validate(_tariff(price={"model": "per_unit", "unit_price": 0.12}))
    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 0"):
        UsageTariff.model_validate(_tariff(price={"model": "per_unit", "unit_price": "-1"}))


def test_models_are_frozen_and_forbid_unknown_fields() -> None:
    tariff = UsageTariff.model_validate(_tariff())
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        tariff.id = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        UsageTariff.model_validate(_tariff(colour="blue"))


def test_price_model_union_is_discriminated_on_model() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        UsageTariff.model_validate(_tariff(price={"model": "magic", "unit_price": 1}))
    assert "per_unit" in str(info.value)
    assert "graduated" in str(info.value)
    tariff = UsageTariff.model_validate(_tariff(price={
        "model": "graduated", "tiers": [{"up_to": 10, "unit_price": 1}, {"unit_price": "0.5"}]}))
    assert isinstance(tariff.price, GraduatedPrice)


def test_tier_bounds_must_increase_and_only_last_is_open() -> None:
    with pytest.raises(pydantic.ValidationError, match="tier bounds must increase"):
        GraduatedPrice.model_validate({"tiers": [{"up_to": 10}, {"up_to": 5}]})
    with pytest.raises(pydantic.ValidationError, match="only the last tier may be open"):
        GraduatedPrice.model_validate({"tiers": [{}, {"up_to": 5}]})


def test_units_must_fit_the_service() -> None:
    with pytest.raises(pydantic.ValidationError, match="does not fit service 'voice'"):
        UsageTariff.model_validate(_tariff(unit="MB"))
    with pytest.raises(pydantic.ValidationError, match="price_unit 'GB' cannot measure"):
        UsageTariff.model_validate(_tariff(price_unit="GB"))


def test_recurring_price_needs_amount_or_price_per_item() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one of"):
        RecurringPrice.model_validate({"id": "x"})
    with pytest.raises(pydantic.ValidationError, match="go together"):
        RecurringPrice.model_validate({"id": "x", "per": "device", "amount": 1})


def test_time_bands_windows_weekdays_holidays() -> None:
    peak = TimeBand.model_validate({"id": "peak", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                                    "start": "08:00", "end": "20:00"})
    night = TimeBand.model_validate({"id": "night", "start": "20:00", "end": "08:00"})
    friday_9 = datetime(2026, 11, 27, 9, 0)  # a Friday
    saturday_9 = datetime(2026, 11, 28, 9, 0)
    assert peak.matches(friday_9, holiday=False)
    assert not peak.matches(saturday_9, holiday=False)
    assert not peak.matches(datetime(2026, 11, 27, 20, 0), holiday=False)  # end exclusive
    assert night.matches(datetime(2026, 11, 27, 23, 30), holiday=False)  # wraps midnight
    assert night.matches(datetime(2026, 11, 27, 7, 59), holiday=False)
    assert not night.matches(friday_9, holiday=False)
    with pytest.raises(pydantic.ValidationError, match="quoted strings"):
        TimeBand.model_validate({"id": "x", "start": 1200, "end": "08:00"})


def test_offering_validity_dates_must_be_ordered() -> None:
    with pytest.raises(pydantic.ValidationError, match="must not be before valid_from"):
        ProductOffering.model_validate(
            {"id": "x", "valid_from": "2026-02-01", "valid_to": "2026-01-01"})


def _catalog_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "catalog", "currency": "EUR",
        "zones": [{"id": "home", "kind": "home", "countries": ["NV"]},
                  {"id": "eu", "countries": ["DE", "FR"]},
                  {"id": "world", "countries": ["*"]}],
        "bands": [{"id": "holiday", "holidays": True},
                  {"id": "weekend", "weekdays": ["sat", "sun"]},
                  {"id": "other"}],
        "holidays": [{"date": "2026-12-25"}],
        "tariffs": [_tariff(id="voice")],
        "offerings": [
            {"id": "plan", "version": 1, "valid_to": "2026-06-30",
             "prices": [{"price_type": "recurring", "id": "fee", "amount": "45"}]},
            {"id": "plan", "version": 2, "valid_from": "2026-07-01",
             "prices": [{"price_type": "recurring", "id": "fee", "amount": "50"}]},
        ],
    }
    data.update(extra)
    return data


def test_catalog_lookups() -> None:
    catalog = Catalog.model_validate(_catalog_data())
    assert catalog.tariff("voice").id == "voice"
    assert catalog.offering("plan").version == 2
    assert catalog.offering("plan", on=date(2026, 3, 1)).version == 1
    assert catalog.offering("plan", on=date(2026, 7, 1)).version == 2
    with pytest.raises(KeyError, match="unknown offering 'nope'"):
        catalog.offering("nope")
    assert catalog.default_currency == Currency.of("EUR")
    assert catalog.zone_for_country("FR").id == "eu"  # type: ignore[union-attr]
    assert catalog.zone_for_country("JP").id == "world"  # type: ignore[union-attr]
    assert catalog.band_at(datetime(2026, 12, 25, 10)) == "holiday"  # a Friday, but a holiday
    assert catalog.band_at(datetime(2026, 11, 28, 10)) == "weekend"
    assert catalog.band_at(datetime(2026, 11, 27, 10)) == "other"


def test_catalog_collects_every_reference_problem() -> None:
    data = _catalog_data(
        tariffs=[_tariff(id="voice", rates=[
            {"id": "r", "zones": ["mars"], "bands": ["lunch"],
             "price": {"model": "per_unit", "unit_price": 1}}]), _tariff(id="voice")],
        discounts=[{"id": "d", "kind": "fixed", "amount": 1, "requires_offerings": ["ghost"]}],
    )
    with pytest.raises(pydantic.ValidationError) as info:
        Catalog.model_validate(data)
    text = str(info.value)
    assert "4 reference problem(s)" in text
    assert "$.tariffs[0].rates[0].zones[0]: unknown zone 'mars'" in text
    assert "unknown time band 'lunch'" in text
    assert "$.tariffs[1].id: duplicate id 'voice' in tariffs (see $.tariffs[0])" in text
    assert "unknown offering 'ghost'" in text
    # the loader skips the check in validation and runs it itself, to locate problems
    catalog = Catalog.model_validate(data, context={SKIP_REFERENCE_CHECKS: True})
    codes = sorted(i.code for i in reference_problems(catalog))
    assert codes == ["E-catalog-duplicate-id"] + ["E-catalog-unknown-ref"] * 3


def test_overlapping_offering_versions_are_a_problem() -> None:
    data = _catalog_data()
    data["offerings"][1]["valid_from"] = "2026-06-01"  # overlaps version 1 (to 2026-06-30)
    catalog = Catalog.model_validate(data, context={SKIP_REFERENCE_CHECKS: True})
    issues = reference_problems(catalog)
    assert [(i.path, i.code, i.related) for i in issues] == [
        (("offerings", 1, "valid_from"), "E-catalog-version-overlap", ("offerings", 0))]


def test_coupon_lookup_and_discount_rules() -> None:
    catalog = Catalog.model_validate(_catalog_data(discounts=[
        {"id": "w", "kind": "fixed", "amount": "6.00", "coupon_code": "WELCOME6",
         "duration": "once"}]))
    found = catalog.discount_for_coupon("WELCOME6")
    assert found is not None
    assert found.id == "w"
    assert catalog.discount_for_coupon("NOPE") is None
    with pytest.raises(pydantic.ValidationError, match="`cycles` is required"):
        Catalog.model_validate(_catalog_data(discounts=[
            {"id": "w", "kind": "fixed", "amount": 1, "duration": "recurring"}]))


def test_allowances_benefits_and_partner_references() -> None:
    from telcoflow.catalog import Allowance

    with pytest.raises(pydantic.ValidationError, match="a money allowance needs unit 'money'"):
        Allowance.model_validate({"id": "a", "service": "money", "quantity": 5, "unit": "MB"})
    with pytest.raises(pydantic.ValidationError, match="does not fit service 'sms'"):
        Allowance.model_validate({"id": "a", "service": "sms", "quantity": 5, "unit": "GB"})
    data = _catalog_data(
        benefits=[{"id": "video", "partner": "streamco", "customer_price": "10.00"}],
        slice_classes=[{"id": "urllc", "kind": "URLLC"}],
        offerings=[{"id": "o", "benefits": ["video", "music"],
                    "slice_pass": {"slice_class": "mmtc", "duration_hours": 4},
                    "prices": [{"price_type": "external", "id": "x", "partner": "appco"}]}],
    )
    catalog = Catalog.model_validate(data, context={SKIP_REFERENCE_CHECKS: True})
    assert [(i.path, i.message.split(" (")[0]) for i in reference_problems(catalog)] == [
        (("benefits", 0, "partner"), "unknown partner 'streamco'"),
        (("offerings", 0, "benefits", 1), "unknown benefit 'music'"),
        (("offerings", 0, "slice_pass", "slice_class"), "unknown slice class 'mmtc'"),
        (("offerings", 0, "prices", 0, "partner"), "unknown partner 'appco'"),
    ]
