"""Prepaid balances in real time: floor, overdraft, debt with one notification, hybrid
accounts, online refusal -- from catalog YAML through the graph to the ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as Dec
from pathlib import Path

import pytest

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.charging import OnlineCharging
from telcoflow.billing.prepaid import Funding, funding
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import RecurringFees
from telcoflow.catalog import Catalog
from telcoflow.errors import DefinitionError
from telcoflow.events import FeeEvent, PaymentEvent, UsageEvent
from telcoflow.loading.catalog import load_catalog
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.stores.memory import MemoryLedgerStore

CATALOG = """\
kind: catalog
id: prepaid-test
currency: EUR
tariffs:
  - id: data
    service: data
    unit: MB
    price_unit: GB
    increment: {step: 1}
    price: {model: per_unit, unit_price: 1.00}
offerings:
  # prepaid: a 5.00 plan and data, both paid from the balance
  - id: prepaid-basic
    kind: prepaid
    prices:
      - {price_type: recurring, id: plan, amount: 5.00}
      - {price_type: usage, id: data, tariff: data}
  # prepaid usage only (hybrid with the postpaid plan below)
  - id: prepaid-usage
    kind: prepaid
    prices:
      - {price_type: one_time, id: sim, amount: 2.00}
      - {price_type: usage, id: data, tariff: data}
  - id: plan-hybrid
    kind: postpaid
    prices:
      - {price_type: recurring, id: plan, amount: 20.00}
  - id: video-addon
    kind: add_on
    prices:
      - {price_type: recurring, id: membership, amount: 10.00}
"""

PERIOD = "2026-11-01"
AT = datetime(2026, 11, 10, 12)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path: Path = tmp_path_factory.mktemp("prepaid") / "catalog.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return load_catalog(path)


class World:
    """One prepaid account ``a`` with subscriber ``s`` on ``offer``, through the graph."""

    def __init__(self, catalog: Catalog, offer: str = "prepaid-basic", *,
                 overdraft: str = "0", held: tuple[str, ...] = ()) -> None:
        how = funding(catalog, (offer, *held))
        self.account = AccountProfile("a", prepaid=how.prepaid,
                                      postpaid_items=how.postpaid_items,
                                      overdraft_limit=Dec(overdraft),
                                      credit_limit=Dec("100.00"))
        self.sub = SubscriberProfile("s", self.account, offer)
        self.profiles = DictProfiles([self.account], [self.sub])
        self.rater = CatalogRater(catalog)
        self.fees = RecurringFees(self.rater.monthly_fees(on=date(2026, 11, 1)))
        self.store = MemoryLedgerStore()
        self.billing = RealtimeBilling(
            self.store, default_graph(self.profiles, self.rater, fees=self.fees))
        self.online = OnlineCharging(self.store, self.profiles, self.rater)

    def counters(self) -> dict[str, Dec]:
        keys = ["bal|a", "debt|a", f"spend|a|{PERIOD}"]  # top-ups: see top_ups()
        return {k: v for k, v in self.store.get_counters(keys).items() if v}

    def lines(self) -> dict[str, Dec]:
        return {ln.item_type: ln.amount for ln in self.store.lines(account="a")}


def data(eid: str, mb: int) -> UsageEvent:
    return UsageEvent(eid, "s", "a", "data", AT, Dec(mb))


def topped_up_and_used(catalog: Catalog, **kwargs: str) -> World:
    """Top-up 30.00, 12.40 of data, the 5.00 plan: 30.00 - 12.40 - 5.00 = 12.60 left."""
    w = World(catalog, **kwargs)
    plan = w.fees.cycle_fees([w.sub], date(2026, 11, 10))
    result = w.billing.process([
        PaymentEvent("top-1", "a", "top_up", datetime(2026, 11, 1, 9), Dec("30.00")),
        *plan,                      # the 5.00 plan, from the catalog
        data("d-1", 12_400),        # 12,400 MB = 12.4 GB x 1.00 = 12.40
    ])
    assert (result.accepted, result.notifications) == (3, [])
    return w


def test_balance_after_top_up_usage_and_plan(catalog: Catalog) -> None:
    w = topped_up_and_used(catalog)
    assert w.counters() == {"bal|a": Dec("12.60")}
    assert w.lines() == {"data": Dec("12.40"), "recurring": Dec("5.00")}


def test_top_ups_are_summed_per_period_and_balance_minus_debt_is_the_statement_closing(
        catalog: Catalog) -> None:
    w = topped_up_and_used(catalog)                        # 30.00 in, 17.40 out
    w.billing.process([data("d-2", 20_000),                # 20.00 more out: 7.40 debt
                       PaymentEvent("top-2", "a", "top_up", AT, Dec("5.00")),
                       PaymentEvent("top-3", "a", "top_up", datetime(2026, 12, 2), Dec("4.00"))])
    top_ups = w.store.get_counters([f"topup|a|{PERIOD}", "topup|a|2026-12-01"])
    assert top_ups == {f"topup|a|{PERIOD}": Dec("35.00"), "topup|a|2026-12-01": Dec("4.00")}
    # 7.40 debt - 5.00 - 4.00 repaid: balance 1.60, no debt
    assert w.counters() == {"bal|a": Dec("1.60")}
    # opening 0 + 39.00 in - 37.40 out = 1.60 = balance - debt
    assert sum(top_ups.values()) - sum(w.lines().values()) == Dec("1.60")


def test_online_charging_refuses_what_the_balance_cannot_pay(catalog: Catalog) -> None:
    w = topped_up_and_used(catalog)
    # 20,000 MB = 20 GB x 1.00 = 20.00 > 12.60: refused, nothing written
    answer = w.online.charge_event(data("d-2", 20_000))
    assert (answer.granted, answer.amount, answer.available) == (False, Dec("20.00"),
                                                                  Dec("12.60"))
    assert "credit limit reached" in answer.reason
    assert w.counters() == {"bal|a": Dec("12.60")}
    # a session asking for the same is granted only what 12.60 buys: 12,600 MB, final unit
    grant = w.online.initial("sess-1", "s", 10, Dec(20_000), AT)
    assert (grant.units, grant.final_unit) == (Dec(12_600), True)


def test_online_charge_within_the_balance_is_a_duplicate_offline(catalog: Catalog) -> None:
    w = topped_up_and_used(catalog)
    answer = w.online.charge_event(data("d-2", 2_600))   # 2.60 <= 12.60
    assert (answer.granted, answer.amount) == (True, Dec("2.60"))
    assert w.counters() == {"bal|a": Dec("10.00")}        # 12.60 - 2.60
    # the same event offline afterwards: a duplicate, charged once
    result = w.billing.process([data("d-2", 2_600)])
    assert (result.duplicates, result.rated) == (1, [])
    assert w.counters() == {"bal|a": Dec("10.00")}
    assert w.lines()["data"] == Dec("15.00")              # 12.40 + 2.60


def test_offline_event_beyond_the_balance_is_debt_notified_once(catalog: Catalog) -> None:
    w = topped_up_and_used(catalog)
    big = data("d-2", 20_000)                              # 20.00
    first = w.billing.process([big, big])                  # with a duplicate in the batch
    # 12.60 from the balance (down to 0.00), 20.00 - 12.60 = 7.40 debt
    assert w.counters() == {"debt|a": Dec("7.40")}
    assert [(n.kind, n.amount, n.threshold, n.event_id) for n in first.notifications] == [
        ("prepaid-debt", Dec("7.40"), Dec(0), "d-2")]
    # a replay: nothing moves, nothing is notified again
    again = w.billing.process([big])
    assert (again.duplicates, again.notifications) == (1, [])
    assert w.counters() == {"debt|a": Dec("7.40")}
    # rerating the event with the same tariff changes nothing and notifies nothing
    assert w.billing.rerate([big]) == []
    assert w.counters() == {"debt|a": Dec("7.40")}
    # the ledger keeps the whole usage: 12.40 + 20.00
    assert w.lines()["data"] == Dec("32.40")
    # more usage while in debt: 1.00 more owed, the account was told already
    assert w.billing.process([data("d-3", 1_000)]).notifications == []
    assert w.counters() == {"debt|a": Dec("8.40")}
    # a top-up of 10.00 repays the 8.40 debt first: balance 10.00 - 8.40 = 1.60
    w.billing.process([PaymentEvent("top-2", "a", "top_up", AT, Dec("10.00"))])
    assert w.counters() == {"bal|a": Dec("1.60")}
    # falling into debt again is told again: 2.00 - 1.60 = 0.40
    again = w.billing.process([data("d-4", 2_000)])
    assert [(n.kind, n.amount) for n in again.notifications] == [("prepaid-debt", Dec("0.40"))]


def test_overdraft_limit_lowers_the_floor(catalog: Catalog) -> None:
    w = topped_up_and_used(catalog, overdraft="5.00")
    # online: 12.60 + 5.00 overdraft = 17.60 < 20.00: refused
    answer = w.online.charge_event(data("d-2", 20_000))
    assert (answer.granted, answer.available) == (False, Dec("17.60"))
    # offline: the balance goes to -5.00, the rest 20.00 - 17.60 = 2.40 is debt
    result = w.billing.process([data("d-2", 20_000)])
    assert w.counters() == {"bal|a": Dec("-5.00"), "debt|a": Dec("2.40")}
    assert [(n.kind, n.amount, n.threshold, n.limit) for n in result.notifications] == [
        ("prepaid-debt", Dec("2.40"), Dec("-5.00"), Dec("5.00"))]


def test_reaching_the_floor_exactly_is_exhaustion_not_debt(catalog: Catalog) -> None:
    w = topped_up_and_used(catalog)
    result = w.billing.process([data("d-2", 12_600)])     # 12.60: the whole balance
    assert w.counters() == {}                              # balance 0.00, no debt
    assert [n.kind for n in result.notifications] == ["balance-exhausted"]


def test_hybrid_account_pays_usage_from_balance_and_bills_its_plan(catalog: Catalog) -> None:
    how = funding(catalog, ["prepaid-usage", "plan-hybrid"])
    # the postpaid plan's recurring fee is billed; the prepaid offering's SIM is not
    assert how == Funding(True, frozenset({"recurring"}))
    w = World(catalog, "prepaid-usage", held=("plan-hybrid",))
    result = w.billing.process([
        PaymentEvent("top-1", "a", "top_up", AT, Dec("10.00")),
        data("d-1", 2_000),                                            # 2.00
        FeeEvent("rc-1", "s", "a", "recurring", AT, Dec("20.00")),     # the postpaid plan
        FeeEvent("sim-1", "s", "a", "one_time", AT, Dec("2.00")),      # the prepaid SIM
    ])
    assert result.notifications == []
    # balance 10.00 - 2.00 - 2.00 = 6.00; the 20.00 plan is postpaid spend, not debt
    assert w.counters() == {"bal|a": Dec("6.00"), f"spend|a|{PERIOD}": Dec("20.00")}
    assert w.lines() == {"data": Dec("2.00"), "recurring": Dec("20.00"),
                         "one_time": Dec("2.00")}


def test_funding_of_postpaid_only_and_ambiguous_holdings(catalog: Catalog) -> None:
    assert funding(catalog, ["plan-hybrid", "video-addon"]) == Funding(False)
    assert funding(catalog, ["prepaid-basic"]) == Funding(True)
    with pytest.raises(DefinitionError, match="'prepaid-basic' and add_on offering "
                                              "'video-addon' both charge 'recurring'"):
        funding(catalog, ["prepaid-basic", "video-addon"])
    with pytest.raises(DefinitionError, match="no-such"):
        funding(catalog, ["no-such"])


def test_overdraft_limit_must_not_be_negative() -> None:
    with pytest.raises(DefinitionError, match=r"account x: `overdraft_limit` must be a "
                                              r"Decimal >= 0 \(got -1\)"):
        AccountProfile("x", prepaid=True, overdraft_limit=Dec(-1))
