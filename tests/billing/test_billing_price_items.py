"""A price's own fee line (``recurring:<offering>/<price>``, issue 13): the key's helpers, and
the item-type rules (a split's, a payer's) still seeing it as ``recurring``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from telcoflow.accounts import AccountProfile, DictProfiles, SplitPolicy, SubscriberProfile
from telcoflow.billing.cycle import (
    Bill,
    BillCycle,
    BillingAccount,
    Member,
    PayerRule,
    Subscription,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import RecurringFees
from telcoflow.events import LifecycleEvent, base_item_type, price_item_type, priced_item
from telcoflow.ledger import LedgerLine
from telcoflow.loading.catalog import parse_catalog
from telcoflow.offers.graph import with_5g_packs
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.memory import MemoryLedgerStore

D = Decimal
NOV = BillCycle.for_month(1, 2026, 11)
CATALOG = parse_catalog("""
kind: catalog
currency: EUR
tax_defaults: {category: telecom, jurisdiction: NV}
tax_categories:
  - {id: telecom, rates: [{jurisdiction: NV, percent: 20}]}
  - {id: digital, rates: [{jurisdiction: NV, percent: 10}]}
offerings:
  - {id: work, name: Work 5G, prices: [{price_type: recurring, id: plan, amount: 30.00}]}
  - {id: tv, name: TV add-on, kind: add_on, tax_category: digital,
     prices: [{price_type: recurring, id: tv, amount: 9.00}]}
""", "work.yaml")


def test_the_key_of_a_price_s_own_fee() -> None:
    assert price_item_type("tv", "tv") == "recurring:tv/tv"
    # catalog ids may hold ":" (never "/"): the price is after the last "/"
    assert priced_item(price_item_type("a:b", "p:1")) == ("a:b", "p:1")
    assert [priced_item(t) for t in ("recurring", "data", "recurring:x", "one_time:a/b")] == [
        None, None, None, None]
    assert [base_item_type(t) for t in ("recurring:tv/tv", "recurring", "data")] == [
        "recurring", "recurring", "data"]


def test_a_split_of_recurring_fees_pays_the_add_on_fee_too() -> None:
    corp = AccountProfile("CORP")
    staff = AccountProfile("E1", split=SplitPolicy("CORP", frozenset({"recurring"})))
    subs = [SubscriberProfile("E1-1", staff, "work")]
    rater = CatalogRater(CATALOG)
    fees = RecurringFees(rater.monthly_fees())
    rb = RealtimeBilling(MemoryLedgerStore(),
                         with_5g_packs(default_graph(DictProfiles([corp, staff], subs), rater,
                                                     fees=fees), CATALOG))
    result = rb.process([*fees.cycle_fees(subs, date(2026, 11, 1)),
                         LifecycleEvent("tv-on", "E1-1", "E1", "add_offer",
                                        datetime(2026, 11, 16, 9), offer="tv")])
    assert result.rejected == {}
    ledger = {(ln.account, ln.item_type): ln.amount for ln in rb.store.lines()}
    # work 30.00 and tv 9.00 x 15/30 = 4.50 both moved to CORP (posted -x on E1, +x on CORP)
    assert ledger == {("E1", "recurring"): D("0.00"), ("E1", "recurring:tv/tv"): D("0.00"),
                      ("CORP", "recurring"): D("30.00"), ("CORP", "recurring:tv/tv"): D("4.50")}
    payer = close_account(
        BillingAccount("CORP", "Corp", "EUR", members=(Member("E1", ("E1-1",), "Eve", ("work",)),)),
        [ln for ln in rb.store.lines() if ln.account == "CORP"], NOV,
        parse_close_policy("kind: close-policy\ncurrency: EUR\n"), CATALOG)
    assert isinstance(payer, Bill)
    # 30.00 + 20 % = 36.00; the TV add-on its own line, digital 10 %: 4.50 + 0.45 = 4.95
    assert [(ln.description, ln.tax_category, ln.gross) for ln in payer.lines] == [
        ("Work 5G", "telecom", D("36.00")), ("TV add-on", "digital", D("4.95"))]
    assert payer.total == D("40.95")


def test_a_payer_rule_of_recurring_fees_covers_the_add_on_line() -> None:
    lines = _holder_lines()
    bill = close_account(
        BillingAccount("E1", "Eve", "EUR", payers=(PayerRule("CORP", frozenset({"recurring"})),),
                       subscriptions=(Subscription("E1-1", "work"),)),
        lines, NOV, parse_close_policy("kind: close-policy\ncurrency: EUR\n"), CATALOG)
    assert isinstance(bill, Bill)
    # both fee lines paid by CORP: 36.00 + 4.95; nothing left for the holder
    assert [(ln.item_type, ln.paid_by) for ln in bill.lines] == [
        ("recurring", "CORP"), ("recurring:tv/tv", "CORP")]
    assert [(p.payer_id, p.amount) for p in bill.payer_parts] == [
        ("CORP", D("40.95")), ("E1", D("0.00"))]


def _holder_lines() -> list[LedgerLine]:
    return [LedgerLine("E1", "E1-1", "recurring", NOV.key, "EUR", D("30.00"), D(1)),
            LedgerLine("E1", "E1-1", "recurring:tv/tv", NOV.key, "EUR", D("4.50"), D(1))]
