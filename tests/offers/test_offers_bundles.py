"""The bundle/loyalty pack on catalog lines, settled by the rule engine's settle_with_pack
(discounts spread by largest remainder, first line on ties; tax per line, half-up)."""

from __future__ import annotations

from decimal import Decimal

from offers_world import pack

from telcoflow.money import Money
from telcoflow.rating.settle import settle_with_pack


def test_bundle_and_loyalty_on_a_household_bill() -> None:
    # broadband 40.00 + plan 40.00 (telecom) + music 5.00 (digital), all recurring;
    # tenure 30 months -> bundle then loyalty-2y.
    # bundle 15 % of 85.00 = 12.75 -> cap 10.00; spread 40:40:5: exact 4.7058, 4.7058,
    #   0.5882 -> 4.70, 4.70, 0.58 (9.98); the 0.02 left go to the largest losses:
    #   music (0.0082) then broadband (0.0058, first on the tie) -> 4.71, 4.70, 0.59
    # left 35.29 + 35.30 + 4.41 = 75.00; loyalty 5 % = 3.75 (< cap 4.00); exact 1.7645,
    #   1.765, 0.2205 -> 1.76, 1.76, 0.22 (3.74); 0.01 to the largest loss (plan, 0.005)
    #   -> 1.76, 1.77, 0.22
    # discounts per line: 6.47, 6.47, 0.81 (13.75)
    # tax: (40 - 6.47) x 8 % = 2.6824 -> 2.68 twice; (5 - 0.81) x 6 % = 0.2514 -> 0.25 -> 5.61
    # total 85.00 - 13.75 + 5.61 = 76.86
    lines = [
        {"id": "broadband", "amount": "40.00", "category": "telecom",
         "price_type": "recurring"},
        {"id": "plan", "amount": "40.00", "category": "telecom", "price_type": "recurring"},
        {"id": "music", "amount": "5.00", "category": "digital", "price_type": "recurring"},
    ]
    account = {"offerings": ["home-broadband-1g", "plan-5g-video", "music-plus"],
               "tenure_months": 30, "jurisdiction": "NV"}
    s = settle_with_pack(pack("bundle-loyalty.rules.yaml"), lines, {"account": account})
    assert dict(s.discounts) == {"broadband-5g-bundle": Money("10.00", "EUR"),
                                 "loyalty-2y": Money("3.75", "EUR")}
    assert [ln.discount.amount for ln in s.lines] == [Decimal("6.47"), Decimal("6.47"),
                                                      Decimal("0.81")]
    assert [ln.tax.amount for ln in s.lines] == [Decimal("2.68"), Decimal("2.68"),
                                                 Decimal("0.25")]
    assert (s.discount_total, s.tax_total, s.total) == (
        Money("13.75", "EUR"), Money("5.61", "EUR"), Money("76.86", "EUR"))


def test_no_bundle_without_a_5g_mobile_plan() -> None:
    # broadband alone, 6 years: loyalty-5y 10 % of 40.00 = 4.00 (< cap 8.00);
    # tax (40.00 - 4.00) x 8 % = 2.88; total 36.00 + 2.88 = 38.88
    s = settle_with_pack(pack("bundle-loyalty.rules.yaml"),
                         [{"id": "broadband", "amount": "40.00", "category": "telecom",
                           "price_type": "recurring"}],
                         {"account": {"offerings": ["home-broadband-1g"], "tenure_months": 72}})
    assert [d for d, _ in s.discounts] == ["loyalty-5y"]
    assert s.total == Money("38.88", "EUR")
