"""Price-model math: the worked examples, every model, tariffs, and invariants (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.catalog import (
    CapacityPrice,
    GraduatedPrice,
    PackagePrice,
    PercentagePrice,
    PerUnitPrice,
    RecurringPrice,
    UsageTariff,
    VolumePrice,
)
from telcoflow.errors import RatingError
from telcoflow.money import Money
from telcoflow.rating.price_models import (
    compile_price,
    compile_tariff,
    price_amount,
    recurring_amount,
    unit_factor,
)

D = Decimal
DATA_TIERS = [
    {"up_to": 10, "unit_price": "1.00"},
    {"up_to": 50, "unit_price": "0.50"},
    {"unit_price": "0.20"},
]


# -- worked examples ----------------------------------------------------------------------


def test_graduated_data_tiers_worked_example() -> None:
    fn = compile_price(GraduatedPrice(tiers=DATA_TIERS))  # type: ignore[arg-type]
    # 65 GB: 10 x 1.00 + 40 x 0.50 + 15 x 0.20 = 10 + 20 + 3 = 33.00
    assert fn(D(65)) == D("33.00")
    # 30 GB: 10 x 1.00 + 20 x 0.50 = 20.00
    assert fn(D(30)) == D("20.00")


def test_volume_data_tiers_worked_example() -> None:
    fn = compile_price(VolumePrice(tiers=DATA_TIERS))  # type: ignore[arg-type]
    # 65 GB all at the third tier: 65 x 0.20 = 13.00
    assert fn(D(65)) == D("13.00")
    # 30 GB all at the second tier: 30 x 0.50 = 15.00
    assert fn(D(30)) == D("15.00")


def _voice(unit_price: str = "0.12", **extra: object) -> UsageTariff:
    return UsageTariff.model_validate({
        "id": "voice", "service": "voice", "unit": "second", "price_unit": "minute",
        "increment": {"minimum": 60, "step": 30},
        "price": {"model": "per_unit", "unit_price": unit_price}, **extra,
    })


def test_voice_minimum_then_per_started_30s() -> None:
    tariff = compile_tariff(_voice(), "EUR")
    # 61 s -> 60 + one started 30 s block = 90 s = 1.5 min x 0.12 = 0.18
    rated = tariff.rate(61)
    assert rated.charged_quantity == D(90)
    assert rated.amount == Money("0.18", "EUR")
    # 125 s -> 60 + 3 started blocks (65 s over) = 150 s = 2.5 min x 0.12 = 0.30
    assert tariff.rate(125).amount == Money("0.30", "EUR")
    # 10 s -> the 60 s minimum = 1 min x 0.12 = 0.12; zero seconds cost nothing
    assert tariff.rate(10).amount == Money("0.12", "EUR")
    assert tariff.rate(0).amount == Money("0", "EUR")


def test_float_complaint_is_exact() -> None:
    tariff = compile_tariff(
        UsageTariff.model_validate({
            "id": "v", "service": "voice", "unit": "second", "price_unit": "minute",
            "price": {"model": "per_unit", "unit_price": "0.05"},
        }),
        "EUR",
    )
    # 60 s = 1 min x 0.05 = 0.05, exactly (no 0.0499999 or 0.498 drift)
    amount = tariff.rate(60).amount.amount
    assert amount == D("0.05")
    assert str(amount) == "0.05"


# -- each model ---------------------------------------------------------------------------


def test_graduated_flat_fee_added_when_a_tier_is_entered() -> None:
    fn = compile_price(GraduatedPrice(tiers=[  # type: ignore[list-item]
        {"up_to": 100, "unit_price": "0", "flat_fee": "5.00"},
        {"unit_price": "0.10", "flat_fee": "2.00"},
    ]))
    # the first tier starts at 0: its flat fee is due for a period without usage (issue #12)
    assert fn(D(0)) == D("5.00")
    assert fn(D(50)) == D("5.00")  # first tier's flat fee only
    # 150: 5.00 + 2.00 flat + 50 x 0.10 = 12.00
    assert fn(D(150)) == D("12.00")


def test_volume_flat_fee_of_tier_reached() -> None:
    fn = compile_price(VolumePrice(tiers=[  # type: ignore[list-item]
        {"up_to": 10, "unit_price": "1", "flat_fee": "1"},
        {"unit_price": "0.5", "flat_fee": "3"},
    ]))
    assert fn(D(10)) == D(11)  # 10 x 1 + 1
    assert fn(D(20)) == D(13)  # 20 x 0.5 + 3


def test_package_blocks_after_free_units() -> None:
    fn = compile_price(PackagePrice(block_size=D(1000), block_price=D("0.50"), free_units=D(500)))
    assert fn(D(500)) == D(0)  # all free
    assert fn(D(501)) == D("0.50")  # one started block
    assert fn(D(1500)) == D("0.50")  # exactly one block of 1000 after 500 free
    assert fn(D(1501)) == D("1.00")  # two started blocks


def test_capacity_flat_price_by_tier_reached() -> None:
    fn = compile_price(CapacityPrice(tiers=[  # type: ignore[list-item]
        {"up_to": 2, "price": "3.00"}, {"up_to": 10, "price": "9.00"}, {"price": "15.00"},
    ]))
    assert [fn(D(q)) for q in (0, 1, 2, 3, 10, 11)] == [
        D(0), D("3.00"), D("3.00"), D("9.00"), D("9.00"), D("15.00")]


def test_percentage_with_min_and_max() -> None:
    fn = compile_price(PercentagePrice(percent=D("2.5"), minimum=D("0.10"), maximum=D("5.00")))
    assert fn(D(100)) == D("2.500")  # 100 x 2.5 % = 2.50
    assert fn(D(2)) == D("0.10")  # 0.05 raised to the minimum
    assert fn(D(1000)) == D("5.00")  # 25.00 capped at the maximum
    assert fn(D(0)) == D(0)  # nothing charged on nothing


def test_over_a_bounded_last_tier_is_a_rating_error() -> None:
    fn = compile_price(CapacityPrice(tiers=[{"up_to": 2, "price": "3"}]))  # type: ignore[list-item]
    with pytest.raises(RatingError, match="above the last tier"):
        fn(D(3))


def test_unit_conversion_multiplies_bounds() -> None:
    assert unit_factor("second", "minute") == D(60)
    assert unit_factor("MB", "GB") == D(1000)
    assert unit_factor("MiB", "GiB") == D(1024)
    # graduated tiers in GB, usage in MB: 65,000 MB = 65 GB -> 33.00 (as the worked example)
    fn = compile_price(GraduatedPrice(tiers=DATA_TIERS), factor=D(1000))  # type: ignore[arg-type]
    assert fn(D(65000)) == D("33.00")
    # 10,001 MB: 10 x 1.00 + 0.001 x 0.50 = 10.0005
    assert fn(D(10001)) == D("10.0005")


def test_price_amount_refuses_floats() -> None:
    with pytest.raises(Exception, match="float"):
        price_amount(PerUnitPrice(unit_price=D(1)), 1.5)


# -- tariffs: rates, rounding, errors -----------------------------------------------------


def test_rates_are_selected_first_match_else_default() -> None:
    world = {"model": "per_unit", "unit_price": "1.20"}
    weekend = {"model": "per_unit", "unit_price": "0.05"}
    tariff = compile_tariff(_voice(rates=[
        {"id": "world", "zones": ["roam-world"], "price": world},
        {"id": "weekend", "bands": ["weekend"], "price": weekend},
    ]), "EUR")
    # 60 s in the world zone on a weekend: first match is "world": 1 min x 1.20
    rated = tariff.rate(60, zone="roam-world", band="weekend")
    assert (rated.rate_id, rated.amount) == ("world", Money("1.20", "EUR"))
    # at home on a weekend: 1 min x 0.05
    assert tariff.rate(60, zone="home", band="weekend").amount == Money("0.05", "EUR")
    # at home on a weekday: the default 0.12
    rated = tariff.rate(60, zone="home", band="peak")
    assert (rated.rate_id, rated.amount) == (None, Money("0.12", "EUR"))


def test_per_event_rounding_applies_the_policy() -> None:
    exact = compile_tariff(_voice("0.10", increment={"step": 0}), "EUR")
    # 7 s x 0.10 / 60 = 0.011666...: kept exact (38 digits) without per-event rounding
    assert exact.rate(7).amount.amount.as_tuple().exponent < -10  # type: ignore[operator]
    rounded = compile_tariff(
        _voice("0.10", increment={"step": 0}, rounding={"policy": "up", "per_event": True}), "EUR")
    assert rounded.rate(7).amount == Money("0.02", "EUR")  # rounded up to the cent
    mills = compile_tariff(_voice("0.10", increment={"step": 0},
                                  rounding={"policy": "half-up", "per_event": True, "places": 3}),
                           "EUR")
    assert mills.rate(7).amount == Money("0.012", "EUR")  # 0.011666 -> 0.012


def test_negative_quantity_is_a_rating_error_naming_the_tariff() -> None:
    tariff = compile_tariff(_voice(), "EUR")
    with pytest.raises(RatingError, match=r"tariff 'voice'.*>= 0 \(got -5\)"):
        tariff.rate(-5)
    with pytest.raises(RatingError, match="float"):
        tariff.rate(1.5)


def test_tariff_currency_overrides_catalog_default() -> None:
    tariff = compile_tariff(_voice(currency="USD"), "EUR")
    assert tariff.rate(60).amount == Money("0.12", "USD")


def test_recurring_amount_flat_and_per_device() -> None:
    flat = RecurringPrice(id="plan", amount=D("30.00"))
    assert recurring_amount(flat, "EUR", 3) == Money("30.00", "EUR")
    per_device = RecurringPrice.model_validate({
        "id": "devices", "per": "device",
        "price": {"model": "graduated", "tiers": [
            {"up_to": 2, "unit_price": 0}, {"up_to": 5, "unit_price": "10.00"},
            {"unit_price": "8.00"}]},
    })
    # 6 devices: 2 free + 3 x 10.00 + 1 x 8.00 = 38.00
    assert recurring_amount(per_device, "EUR", 6) == Money("38.00", "EUR")
    assert recurring_amount(per_device, "EUR", 2) == Money("0", "EUR")


# -- invariants ---------------------------------------------------------------------------

quantities = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False,
                         allow_infinity=False)
prices = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[dict[str, Decimal | None]]:
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**5), min_size=0, max_size=4))))
    tiers: list[dict[str, Decimal | None]] = [
        {"up_to": D(b), "unit_price": draw(prices), "flat_fee": draw(prices)} for b in bounds
    ]
    tiers.append({"up_to": None, "unit_price": draw(prices), "flat_fee": draw(prices)})
    return tiers


@st.composite
def monotone_models(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["per_unit", "graduated", "package", "capacity", "percentage"]))
    if kind == "per_unit":
        return PerUnitPrice(unit_price=draw(prices))
    if kind == "graduated":
        return GraduatedPrice.model_validate({"tiers": draw(tier_lists())})
    if kind == "package":
        return PackagePrice(block_size=draw(prices.filter(lambda p: p > 0)),
                            block_price=draw(prices), free_units=draw(prices))
    if kind == "capacity":
        # capacity is monotone when tier prices do not decrease
        tiers = draw(tier_lists())
        ps = sorted(draw(prices) for _ in tiers)
        return CapacityPrice.model_validate(
            {"tiers": [{"up_to": t["up_to"], "price": p} for t, p in zip(tiers, ps, strict=True)]})
    lo = draw(prices)
    hi = draw(prices)
    return PercentagePrice(percent=draw(st.decimals(0, 100, places=2)),
                           minimum=min(lo, hi), maximum=max(lo, hi))


@settings(max_examples=150, deadline=None)
@given(model=monotone_models(), a=quantities, b=quantities)
def test_amounts_never_decrease_as_quantity_grows(model: object, a: Decimal, b: Decimal) -> None:
    # Volume pricing is excluded on purpose: it is not monotone (the worked example itself
    # has 65 GB = 13.00 < 30 GB = 15.00), which is what "volume" means.
    fn = compile_price(model)  # type: ignore[arg-type]
    low, high = sorted((a, b))
    assert fn(low) <= fn(high)


@settings(max_examples=150, deadline=None)
@given(tiers=tier_lists(), q=quantities)
def test_graduated_and_volume_agree_inside_the_first_tier(
    tiers: list[dict[str, Decimal | None]], q: Decimal
) -> None:
    first = tiers[0]["up_to"]
    if first is not None and q > first:
        q = first
    g = compile_price(GraduatedPrice.model_validate({"tiers": tiers}))
    v = compile_price(VolumePrice.model_validate({"tiers": tiers}))
    assert g(q) == v(q)


@settings(max_examples=150, deadline=None)
@given(
    unit_price=prices,
    seconds=st.integers(0, 10**5),
    places=st.sampled_from([None, 0, 2, 3, 4]),
    policy=st.sampled_from(["half-up", "half-even", "up", "down"]),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_no_amount_carries_more_digits_than_its_policy_allows(
    unit_price: Decimal, seconds: int, places: int | None, policy: str, currency: str
) -> None:
    tariff = compile_tariff(_voice(str(unit_price), increment={"step": 1}, rounding={
        "policy": policy, "per_event": True, "places": places}), currency)
    amount = tariff.rate(seconds).amount
    allowed = amount.currency.exponent if places is None else places
    exponent = amount.amount.as_tuple().exponent
    assert isinstance(exponent, int)
    assert -exponent <= allowed
    # and exact arithmetic: rounding the exact value gives the same amount
    exact = unit_price * seconds / 60
    assert abs(amount.amount - exact) <= D(1).scaleb(-allowed)


def test_rate_selection_cache_stays_bounded_and_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    from telcoflow.rating.price_models import CompiledTariff

    monkeypatch.setattr(CompiledTariff, "CACHE_SIZE", 2)
    weekend = {"model": "per_unit", "unit_price": "0.05"}
    tariff = compile_tariff(_voice(rates=[{"id": "we", "bands": ["weekend"], "price": weekend}]),
                            "EUR")
    for band in ("peak", "weekend", "offpeak", "weekend", "peak"):
        rate_id, _fn = tariff.price_function(band=band)
        assert rate_id == ("we" if band == "weekend" else None)
    assert len(tariff._selected) <= 2


def test_used_before_makes_tiers_cumulative_over_a_period() -> None:
    data = compile_tariff(UsageTariff.model_validate({
        "id": "data", "service": "data", "unit": "GB",
        "price": {"model": "graduated", "tiers": DATA_TIERS}}), "EUR")
    first = data.rate(30)
    second = data.rate(35, used_before=first.charged_quantity)
    # 30 GB = 20.00 ; the next 35 GB from 30 to 65: 20 x 0.50 + 15 x 0.20 = 13.00 ; sum 33.00
    assert (first.amount, second.amount) == (Money("20.00", "EUR"), Money("13.00", "EUR"))
    with pytest.raises(RatingError, match=r"`used_before` must be >= 0"):
        data.rate(1, used_before=D(-1))


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.integers(0, 400), min_size=1, max_size=6),
       policy=st.sampled_from(["half-up", "half-even", "up", "down"]))
def test_per_event_rounded_parts_add_up_to_the_rounded_total(parts: list[int], policy: str) -> None:
    tariff = compile_tariff(_voice("0.10", increment={"step": 0},
                                   rounding={"policy": policy, "per_event": True}), "EUR")
    used = D(0)
    total = Money("0", "EUR")
    for seconds in parts:
        rated = tariff.rate(seconds, used_before=used)
        used += rated.charged_quantity
        total = total + rated.amount
    # the sum of the per-event amounts is the rounded amount of the whole period
    assert total == tariff.rate(sum(parts)).amount
