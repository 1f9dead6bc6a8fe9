"""Whole-path properties: catalog YAML -> events -> graph -> ledger -> close -> bill.

However a period's usage is split into events and in whatever order they arrive, the customer
gets the same bill, and the ledger reconciles with it to the cent (issues #12 and #13).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal as Dec

from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.cycle import (
    Bill,
    BillCycle,
    BillingAccount,
    Subscription,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import RecurringFees
from telcoflow.events import Event, UsageEvent
from telcoflow.loading.catalog import parse_catalog
from telcoflow.ops.reconciliation import reconcile
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.rating.tax import TaxRules
from telcoflow.stores.memory import MemoryLedgerStore

CATALOG = parse_catalog("""\
kind: catalog
id: whole-path
currency: EUR
tax_defaults: {category: telecom, jurisdiction: NV, rule: per-bill-rate}
tax_categories:
  - {id: telecom, rates: [{jurisdiction: NV, percent: 20}]}
tariffs:
  - id: data
    service: data
    unit: MB
    price_unit: GB
    increment: {step: 1}
    price:
      model: graduated
      tiers:
        - {up_to: 10, unit_price: 2.00, flat_fee: 3.00}
        - {up_to: 50, unit_price: 1.00}
        - {unit_price: 0.50}
  - id: voice
    service: voice
    unit: second
    price_unit: minute
    increment: {minimum: 60, step: 30}
    price: {model: per_unit, unit_price: 0.12}
offerings:
  - id: plan
    name: Plan 5G
    prices:
      - {price_type: recurring, id: fee, amount: 20.00, period: month}
      - {price_type: usage, id: data, tariff: data}
      - {price_type: usage, id: voice, tariff: voice}
""", "whole-path.yaml")
POLICY = parse_close_policy("kind: close-policy\ncurrency: EUR\n")
NOV = BillCycle.for_month(1, 2026, 11)
START = datetime(2026, 11, 3, 9)


def bill_of(events: list[Event], batch: int) -> tuple[Bill, MemoryLedgerStore]:
    """Rate ``events`` in batches of ``batch`` through the default graph, then close."""
    account = AccountProfile("a")
    sub = SubscriberProfile("s", account, "plan")
    rater = CatalogRater(CATALOG)
    fees = RecurringFees(rater.monthly_fees())
    store = MemoryLedgerStore()
    billing = RealtimeBilling(store, default_graph(DictProfiles([account], [sub]), rater, fees=fees,
                                            taxes=TaxRules(CATALOG)))
    stream = [*fees.cycle_fees([sub], date(2026, 11, 1)), *events]
    for i in range(0, len(stream), batch):
        result = billing.process(stream[i:i + batch])
        assert result.rejected == {}
    directory = BillingAccount("a", "A", "EUR", subscriptions=(Subscription("s", "plan"),))
    closed = close_account(directory, store.lines(account="a"), NOV, POLICY, CATALOG)
    assert isinstance(closed, Bill), closed
    return closed, store


def split(total: int, cuts: list[int]) -> list[int]:
    """``total`` cut at the given points into positive parts."""
    points = sorted({c % total for c in cuts if c % total > 0})
    return [b - a for a, b in zip([0, *points], [*points, total], strict=True)]


def test_the_reference_bill_worked_by_hand() -> None:
    bill, _ = bill_of([UsageEvent("d", "s", "a", "data", START, Dec(62_000), "MB"),
                       UsageEvent("v", "s", "a", "voice", START, Dec(61), "second")], 10)
    # plan 20.00; data 62 GB: 3.00 + 10 x 2.00 + 40 x 1.00 + 12 x 0.50 = 69.00;
    # voice 61 s -> 90 s = 1.5 min x 0.12 = 0.18; net 89.18, tax 20 % per bill and rate
    # 17.836 -> 17.84; total 107.02
    lines = {ln.item_type: ln.amount for ln in bill.lines}
    assert lines == {"recurring": Dec("20.00"), "data": Dec("69.00"), "voice": Dec("0.18")}
    assert (bill.subtotal, bill.tax_total, bill.total) == (Dec("89.18"), Dec("17.84"),
                                                           Dec("107.02"))


@settings(max_examples=40, deadline=None)
@given(data_cuts=st.lists(st.integers(1, 61_999), max_size=12),
       seed=st.integers(0, 2**16), batch=st.integers(1, 7))
def test_any_split_and_order_of_the_usage_gives_the_same_bill(data_cuts: list[int], seed: int,
                                                              batch: int) -> None:
    reference, _ = bill_of([UsageEvent("d", "s", "a", "data", START, Dec(62_000), "MB"),
                            UsageEvent("v", "s", "a", "voice", START, Dec(61), "second")], 50)
    events: list[Event] = [
        UsageEvent(f"d{i}", "s", "a", "data", START + timedelta(minutes=i), Dec(q), "MB")
        for i, q in enumerate(split(62_000, data_cuts))]
    events.append(UsageEvent("v", "s", "a", "voice", START, Dec(61), "second"))
    random.Random(seed).shuffle(events)
    bill, store = bill_of(events, batch)
    assert [(ln.item_type, ln.amount, ln.tax) for ln in bill.lines] == [
        (ln.item_type, ln.amount, ln.tax) for ln in reference.lines]
    assert (bill.subtotal, bill.tax_total, bill.total) == (
        reference.subtotal, reference.tax_total, reference.total)
    # every cent of the ledger reaches the bill: ledger + rounding = billed, difference 0
    rec = reconcile(store.lines(), [bill], period=NOV.key)
    assert [row.difference for row in rec.rows] == [Dec(0)]
