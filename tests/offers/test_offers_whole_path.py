"""The 5G packs on the whole path (issue #13 item 5): catalog YAML -> events -> the real-time
graph -> a SQLite ledger -> the cycle close -> stored bills and the partner report, with no
host glue: a slice pass, a device added (and removed) mid-cycle and a partner membership
enter as events on offerings of the shipped catalog (examples/catalog + examples/catalog-5g).

Every figure below is worked out by hand from the catalog YAML:
postpaid-50 50.00 a month; home-5g 30.00 a month, 3 devices included, each further 5.00 a
month; music-plus 5.00 a month with TuneWave's music-membership (customer 5.00, partner cost
3.50, revenue share 30 %); stadium-pass-3h 5.00, 3 h and 5,000 MB in stadium-north on URLLC;
data 1.00 per GB (first tier). The subscriber profiles carry no plan allowances, so data the
pass does not carry pays the tariff. Close policy: telecom 8 % (the catalog's NV rate).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from lxml import etree
from offers_world import catalog, pack

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.cycle import (
    Bill,
    BillCycle,
    BillingAccount,
    BillRunJob,
    Subscription,
    bill_run,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.billing.recurring import RecurringFees
from telcoflow.events import Event, LifecycleEvent, UsageEvent
from telcoflow.ledger import LedgerLine
from telcoflow.loading.catalog import parse_catalog
from telcoflow.money import Money
from telcoflow.offers.graph import held_add_ons, partner_report_of, with_5g_packs
from telcoflow.offers.partners import BenefitHolding, benefit_lines, partner_report
from telcoflow.ops.audits import (
    bill_totals_from_xml,
    load_audit_pack,
    run_reconciliation_audit,
    shipped_pack,
    totals_from_bills,
)
from telcoflow.ops.reconciliation import billed_from_xml, reconcile
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.rating.tax import TaxRules
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore, SQLiteLedger, SQLiteLedgerStore

D = Decimal
NOV, DEC = BillCycle.for_month(1, 2026, 11), BillCycle.for_month(1, 2026, 12)
POLICY = """\
kind: close-policy
currency: EUR
"""
FANS, HOME = AccountProfile("F"), AccountProfile("H")
SUBSCRIBERS = [SubscriberProfile("fan", FANS, "postpaid-50"),
               SubscriberProfile("home", HOME, "home-5g")]
ACCOUNTS = [BillingAccount("F", "Fan", "EUR", subscriptions=(Subscription("fan", "postpaid-50"),)),
            BillingAccount("H", "Home", "EUR", subscriptions=(Subscription("home", "home-5g"),))]
NS = {"b": "urn:telcoflow:bill:1"}


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


def life(eid: str, sub: str, account: str, action: str, when: datetime, *, offer: str = "",
         device: str = "") -> LifecycleEvent:
    return LifecycleEvent(eid, sub, account, action, when, offer=offer, device=device)


def cycle_fees(day: date) -> list[Event]:
    """The cycle's recurring fee events (``rc|<subscriber>|<period>``), priced by the catalog."""
    fees = RecurringFees(CatalogRater(catalog()).monthly_fees(on=day))
    return list(fees.cycle_fees(SUBSCRIBERS, day))


NOVEMBER: list[Event] = [
    *cycle_fees(date(2026, 11, 1)),
    life("music", "fan", "F", "add_offer", at(11, 1), offer="music-plus"),
    *(life(f"dev-{n}", "home", "H", "add_device", at(11, 1), device=f"d{n}") for n in (1, 2, 3)),
    life("console", "home", "H", "add_device", at(11, 16), device="console"),
    life("pass", "fan", "F", "add_offer", at(11, 27, 18), offer="stadium-pass-3h"),
    UsageEvent("e1", "fan", "F", "data", at(11, 27, 18, 30), D(4000), region="stadium-north",
               slice="urllc"),
    UsageEvent("e2", "fan", "F", "data", at(11, 27, 19, 30), D(2000), region="stadium-north"),
]
DECEMBER: list[Event] = [
    *cycle_fees(date(2026, 12, 1)),
    life("music-off", "fan", "F", "remove_offer", at(12, 11), offer="music-plus"),
    life("console-off", "home", "H", "remove_device", at(12, 21), device="console"),
]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SQLiteLedgerStore, Path]]:
    """Both months through the graph into a SQLite ledger; the account directory beside it."""
    rater = CatalogRater(catalog())
    profiles = DictProfiles([FANS, HOME], SUBSCRIBERS)
    fees = RecurringFees(rater.monthly_fees(on=date(2026, 11, 1)))
    store = SQLiteLedgerStore(tmp_path / "ledger.db")
    rb = RealtimeBilling(store, with_5g_packs(default_graph(profiles, rater, fees=fees), catalog()))
    for events in (NOVEMBER, DECEMBER):
        result = rb.process(events)
        assert (result.accepted, dict(result.rejected)) == (len(events), {})
    directory = SQLiteAccounts(tmp_path / "accounts.db")
    directory.write(ACCOUNTS)
    directory.close()
    yield store, tmp_path
    store.close()


def close(tmp_path: Path, cycle: BillCycle) -> dict[str, bytes]:
    """Run the bill run of ``cycle``; the stored XML bills by account."""
    job = BillRunJob(cycle, parse_close_policy(POLICY),
                     ledger=partial(SQLiteLedger, tmp_path / "ledger.db"),
                     accounts=partial(SQLiteAccounts, tmp_path / "accounts.db"),
                     store=partial(SQLiteBillStore, tmp_path / "bills.db"),
                     formats=frozenset({"xml"}),
                     catalog=catalog())
    summary = bill_run(job, processes=1, progress=False)
    assert (summary.bills, summary.skipped, summary.failed) == (2, (), ())
    bills = SQLiteBillStore(tmp_path / "bills.db")
    try:
        return dict(bills.documents(cycle.key))
    finally:
        bills.close()


def bill_lines(doc: bytes) -> list[tuple[str | None, ...]]:
    """(subscriber, item type, amount, discount, tax, gross) of each stored bill line."""
    root = etree.fromstring(doc)
    return [(ln.get("subscriber"), ln.get("type"),
             *(ln.findtext(f"b:{name}", namespaces=NS)
               for name in ("amount", "discount", "tax", "gross")))
            for ln in root.iterfind("b:lines/b:line", namespaces=NS)]


def total(doc: bytes) -> str:
    return str(etree.fromstring(doc).findtext("b:totals/b:total", namespaces=NS))


def eur(text: str) -> Money:
    return Money(text, "EUR")


def test_november_slice_pass_device_and_membership_reach_the_bill_and_the_partner_report(
        world: tuple[SQLiteLedgerStore, Path]) -> None:
    store, tmp_path = world
    assert {(ln.account, ln.subscriber, ln.item_type): ln.amount
            for ln in store.lines(period=NOV.key) if ln.item_type != "tax"} == {
        ("F", "fan", "recurring"): D("50.00"),  # postpaid-50 (rc| event)
        # music-plus 5.00 x 30/30 (taken on the 1st): its own line
        ("F", "fan", "recurring:music-plus/membership"): D("5.00"),
        ("F", "fan", "one_time"): D("5.00"),   # the stadium pass
        # e1 4,000 MB carried by the pass; e2 2,000 MB: 1,000 carried (5,000 in all),
        # 1,000 MB billed at 1.00 per GB
        ("F", "fan", "data"): D("1.00"),
        ("H", "home", "recurring"): D("30.00"),  # home-5g base
        # devices 1-3 included (0.00); the console, rank 4, from the 16th: 5.00 x 15/30
        ("H", "home", "device"): D("2.50"),
    }
    bills = close(tmp_path, NOV)
    fan = bill_lines(bills["F"])
    # each fee its own line: loyalty 5 % of postpaid-50's 50.00 = 2.50, tax 8 % of 47.50 =
    # 3.80; music-plus digital 6 % of 5.00 = 0.30, no discount; no discount on the pass or
    # the data; tax 8 %: 0.40, 0.08
    assert fan == [("fan", "recurring", "50.00", "2.50", "3.80", "51.30"),
                   ("fan", "recurring:music-plus/membership", "5.00", "0", "0.30", "5.30"),
                   ("fan", "one_time", "5.00", "0", "0.40", "5.40"),
                   ("fan", "data", "1.00", "0", "0.08", "1.08")]
    assert total(bills["F"]) == "63.08"  # 51.30 + 5.30 + 5.40 + 1.08
    assert sorted(bill_lines(bills["H"])) == [  # (in the close's line order or not)
        ("home", "device", "2.50", "0", "0.20", "2.70"),
        ("home", "recurring", "30.00", "0", "2.40", "32.40"),
    ]
    assert total(bills["H"]) == "35.10"  # 32.50 + 2.60

    report = partner_report_of(store, catalog(), NOV.key)
    # music-membership for the whole cycle: customer 5.00, cost 3.50, share 30 % = 1.50
    assert [(p.partner, p.customer, p.partner_cost, p.revenue_share, p.lines)
            for p in report.partners] == [
        ("tunewave", eur("5.00"), eur("3.50"), eur("1.50"), 1)]
    # the graph's report is the batch report of the same holding
    batch = partner_report(benefit_lines(
        pack("partner-benefits.rules.yaml"), catalog(),
        [BenefitHolding("fan", "music-plus", date(2026, 11, 1))],
        cycle_start=NOV.start, cycle_day=1), catalog())
    assert report.partners == batch.partners

    # every ledger cent reached a bill: F 55.00 + 5.00 + 1.00, H 30.00 + 2.50
    rec = reconcile(store.lines(period=NOV.key), billed_from_xml(bills.items()),
                    period=NOV.key)
    assert rec.totals["EUR"]["billed"] == D("93.50")
    assert rec.totals["EUR"]["difference"] == 0
    assert run_reconciliation_audit(load_audit_pack(shipped_pack("reconciliation")), rec).ok


def test_december_renews_then_credits_the_membership_and_the_device(
        world: tuple[SQLiteLedgerStore, Path]) -> None:
    store, tmp_path = world
    close(tmp_path, NOV)
    # December has 31 days. postpaid-50 50.00; music-plus renewed 5.00 (quantity 1), dropped
    # on the 11th: credit 5.00 x 21/31 = 3.387 -> 3.39 (quantity -1): 5.00 - 3.39 = 1.61
    # the console renewed for December (rank 4, 5.00), removed on the 21st: credit
    # 5.00 x 11/31 = 1.774 -> 1.77: 3.23
    assert {(ln.account, ln.subscriber, ln.item_type): (ln.amount, ln.quantity)
            for ln in store.lines(period=DEC.key) if ln.item_type != "tax"} == {
        ("F", "fan", "recurring"): (D("50.00"), D(1)),
        ("F", "fan", "recurring:music-plus/membership"): (D("1.61"), D(0)),
        ("H", "home", "recurring"): (D("30.00"), D(1)),
        ("H", "home", "device"): (D("3.23"), D(3)),   # 4 devices renewed, 1 removed
    }
    bills = close(tmp_path, DEC)
    # loyalty 2.50 off 50.00, tax 8 % of 47.50 = 3.80; music-plus 6 % of 1.61 = 0.0966 -> 0.10
    assert bill_lines(bills["F"]) == [
        ("fan", "recurring", "50.00", "2.50", "3.80", "51.30"),
        ("fan", "recurring:music-plus/membership", "1.61", "0", "0.10", "1.71")]
    # tax 8 %: 30.00 -> 2.40, 3.23 -> 0.2584 -> 0.26
    assert sorted(bill_lines(bills["H"])) == [("home", "device", "3.23", "0", "0.26", "3.49"),
                                              ("home", "recurring", "30.00", "0", "2.40",
                                               "32.40")]
    assert total(bills["H"]) == "35.89"
    report = partner_report_of(store, catalog(), DEC.key)
    # customer 5.00 - 3.39 = 1.61; cost 3.50 - 3.50 x 21/31 (2.371 -> 2.37) = 1.13;
    # share 1.50 - 30 % of 3.39 (1.017 -> 1.02) = 0.48; held 10 days: one line
    assert [(p.partner, p.customer, p.partner_cost, p.revenue_share, p.lines)
            for p in report.partners] == [
        ("tunewave", eur("1.61"), eur("1.13"), eur("0.48"), 1)]
    rec = reconcile(store.lines(period=DEC.key), billed_from_xml(bills.items()),
                    period=DEC.key)
    assert rec.totals["EUR"]["billed"] == D("84.84")  # 51.61 + 30.00 + 3.23
    assert rec.totals["EUR"]["difference"] == 0


def test_a_partner_membership_has_its_own_bill_line_and_no_plan_discount(
        world: tuple[SQLiteLedgerStore, Path]) -> None:
    _, tmp_path = world
    bills = close(tmp_path, NOV)
    root = etree.fromstring(bills["F"])
    described = {(ln.findtext("b:description", namespaces=NS), ln.get("taxCategory"),
                  ln.findtext("b:amount", namespaces=NS), ln.findtext("b:discount", namespaces=NS))
                 for ln in root.iterfind("b:lines/b:line", namespaces=NS)}
    # loyalty: 5 % of postpaid-50's 50.00 = 2.50 (not of 55.00 = 2.75); music-plus (tax
    # category digital in the catalog) 5.00 on its own line, no discount (a line no discount
    # touched shows "0", as every such line of the stored XML does)
    assert ("Unlimited-ish 5G", "telecom", "50.00", "2.50") in described
    assert ("TuneWave with your plan", "digital", "5.00", "0") in described


BUNDLE_CATALOG = """\
kind: catalog
currency: EUR
tax_defaults: {category: telecom, jurisdiction: default}
tax_categories: [{id: telecom, rates: [{jurisdiction: "*", percent: 20}]}]
offerings:
  - {id: fam, name: Family, prices: [{price_type: recurring, id: base, amount: 60.00}]}
  - {id: vplus, name: Video plus, kind: add_on,
     prices: [{price_type: recurring, id: membership, amount: 10.00}]}
discounts:
  - {id: bundle, kind: percentage, percent: 10, requires_offerings: [fam, vplus],
     applies_to: {price_types: [recurring]}}
"""


def _bundle_world() -> tuple[list[LedgerLine], dict[str, tuple[str, ...]]]:
    """A family plan and the video add-on taken by an event on the 1st: the ledger lines of
    November and the add-ons the graph says are held."""
    cat = parse_catalog(BUNDLE_CATALOG, "bundle.yaml")
    account = AccountProfile("V")
    subs = [SubscriberProfile("f", account, "fam")]
    rater = CatalogRater(cat)
    fees = RecurringFees(rater.monthly_fees(on=date(2026, 11, 1)))
    store = MemoryLedgerStore()
    rb = RealtimeBilling(store, with_5g_packs(default_graph(DictProfiles([account], subs), rater,
                                                     fees=fees), cat))
    result = rb.process([*fees.cycle_fees(subs, date(2026, 11, 1)),
                         life("video", "f", "V", "add_offer", at(11, 1), offer="vplus")])
    assert result.rejected == {}
    return store.lines(period=NOV.key), held_add_ons(store, cat, ["f", "nobody"])


def test_the_graph_says_which_add_ons_are_held() -> None:
    lines, held = _bundle_world()
    # fam 60.00 (rc| event); vplus 10.00 x 30/30 on its own line
    assert [(ln.item_type, ln.amount) for ln in lines] == [
        ("recurring", D("60.00")), ("recurring:vplus/membership", D("10.00"))]
    assert held == {"f": ("vplus",)}


def test_a_bundle_of_a_plan_and_an_add_on_taken_by_event_is_granted() -> None:
    lines, _ = _bundle_world()
    bill = close_account(BillingAccount("V", "V", "EUR", subscriptions=(Subscription("f", "fam"),)),
                         lines, NOV, parse_close_policy(POLICY),
                         parse_catalog(BUNDLE_CATALOG, "bundle.yaml"))
    assert isinstance(bill, Bill)
    # 10 % of the recurring 70.00 = 7.00; net 63.00, tax 20 % = 12.60, total 75.60
    assert [d.amount for d in bill.discounts] == [D("7.00")]
    assert bill.total == D("75.60")


# -- family-share: a plan fee for 24 cycles whose tax is inside the price ------------------
# family-share (examples/catalog/offerings.yaml): base 60.00 a month (telecom, 8 % added);
# phone-instalment 25.00 a month for 24 cycles, not prorated, tax category devices: 20 %
# inside the price in NV.
FAMILY = AccountProfile("S")
MUM = [SubscriberProfile("mum", FAMILY, "family-share")]
INSTALMENT = "recurring:family-share/phone-instalment"


def _family_billing(store: MemoryLedgerStore | SQLiteLedgerStore) -> RealtimeBilling:
    cat = catalog()
    rater = CatalogRater(cat)
    return RealtimeBilling(store, with_5g_packs(default_graph(
        DictProfiles([FAMILY], MUM), rater,
        fees=RecurringFees(rater.monthly_fees(on=date(2026, 11, 1))), taxes=TaxRules(cat)),
        cat))


def test_a_family_share_account_closes_with_its_phone_instalment_tax_inside(
        tmp_path: Path) -> None:
    store = SQLiteLedgerStore(tmp_path / "ledger.db")
    try:
        rb = _family_billing(store)
        fees = RecurringFees(CatalogRater(catalog()).monthly_fees(on=date(2026, 11, 1)))
        assert rb.process(fees.cycle_fees(MUM, date(2026, 11, 1))).rejected == {}
        lines = store.lines(period=NOV.key)
        # the real-time tax adds 8 % of 60.00 = 4.80 and nothing for the instalment: its
        # 25.00 holds its tax
        assert {ln.item_type: ln.amount for ln in lines} == {
            "recurring": D("60.00"), INSTALMENT: D("25.00"), "tax": D("4.80")}
        directory = SQLiteAccounts(tmp_path / "accounts.db")
        directory.write([BillingAccount("S", "Family", "EUR", subscriptions=(
            Subscription("mum", "family-share"),))])
        directory.close()
        job = BillRunJob(NOV, parse_close_policy(POLICY),
                         ledger=partial(SQLiteLedger, tmp_path / "ledger.db"),
                         accounts=partial(SQLiteAccounts, tmp_path / "accounts.db"),
                         store=partial(SQLiteBillStore, tmp_path / "bills.db"),
                         formats=frozenset({"xml"}),
                         catalog=catalog())
        summary = bill_run(job, processes=1, progress=False)
        assert (summary.bills, summary.skipped, summary.failed) == (1, (), ())
        stored = SQLiteBillStore(tmp_path / "bills.db")
        try:
            bills = dict(stored.documents(NOV.key))
        finally:
            stored.close()
        # base: 60.00, tax 8 % = 4.80, 64.80. Instalment: 25.00 x 20 / 120 = 4.1666.. -> 4.17
        # inside the price; amount (net of it) 25.00 - 4.17 = 20.83; gross 25.00
        assert bill_lines(bills["S"]) == [
            ("mum", "recurring", "60.00", "0", "4.80", "64.80"),
            ("mum", INSTALMENT, "20.83", "0", "4.17", "25.00")]
        root = etree.fromstring(bills["S"])
        instalment = root.find("b:lines/b:line[2]", namespaces=NS)
        assert instalment is not None
        assert (instalment.get("taxCategory"), instalment.get("taxIncluded"),
                instalment.findtext("b:description", namespaces=NS)) == (
            "devices", "true", "Phone, 24 monthly instalments")
        assert total(bills["S"]) == "89.80"  # 64.80 + 25.00
        # every ledger cent (60.00 + 25.00 before tax) on the bill: 60.00 + (20.83 + 4.17)
        rec = reconcile(store.lines(period=NOV.key), billed_from_xml(bills.items()),
                        period=NOV.key)
        assert (rec.totals["EUR"]["billed"], rec.totals["EUR"]["difference"]) == (
            D("85.00"), D(0))
        assert run_reconciliation_audit(load_audit_pack(shipped_pack("reconciliation")), rec).ok
        # the same close in memory: subtotal 60.00 + 20.83, tax 4.80 + 4.17, total 89.80;
        # rounding 0: 89.80 = ledger 85.00 + tax 8.97 - the 4.17 already inside the 25.00
        bill = close_account(BillingAccount("S", "Family", "EUR", subscriptions=(
            Subscription("mum", "family-share"),)), lines, NOV, parse_close_policy(POLICY),
            catalog())
        assert isinstance(bill, Bill)
        assert (bill.subtotal, bill.tax_total, bill.total, bill.included_tax, bill.rounding) == (
            D("80.83"), D("8.97"), D("89.80"), D("4.17"), D(0))
        assert [(t.category, t.rate, t.base, t.amount) for t in bill.taxes] == [
            ("devices", D(20), D("20.83"), D("4.17")), ("telecom", D(8), D("60.00"), D("4.80"))]
        # the balance audit's bill totals count the price the ledger held: 20.83 + 4.17
        dims, kinds = ("account", "item_type"), (INSTALMENT,)
        assert totals_from_bills([bill], dims, item_types=kinds)[0] == {
            ("S", INSTALMENT): D("25.00")}
        assert bill_totals_from_xml(bills.items(), dims, item_types=kinds)[0] == {
            ("S", INSTALMENT): D("25.00")}
    finally:
        store.close()


def test_the_phone_instalment_stops_after_its_24_cycles() -> None:
    store = MemoryLedgerStore()
    rb = _family_billing(store)
    fees = RecurringFees(CatalogRater(catalog()).monthly_fees(on=date(2026, 11, 1)))
    months = [(2026 + (10 + n) // 12, (10 + n) % 12 + 1) for n in range(25)]  # Nov 26 - Nov 28
    for year, month in months:
        assert rb.process(fees.cycle_fees(MUM, date(year, month, 1))).rejected == {}
    instalments = {ln.period: ln.amount for ln in store.lines() if ln.item_type == INSTALMENT}
    # 24 cycles, November 2026 to October 2028, 25.00 each; none in November 2028
    assert len(instalments) == 24
    assert set(instalments.values()) == {D("25.00")}
    assert (min(instalments), max(instalments)) == ("2026-11-01", "2028-10-01")


def test_an_activation_charges_the_first_instalment_then_renewals_count_on() -> None:
    store = MemoryLedgerStore()
    rb = _family_billing(store)
    fees = RecurringFees(CatalogRater(catalog()).monthly_fees(on=date(2026, 11, 1)))
    result = rb.process([
        life("on", "mum", "S", "activate", at(11, 16), offer="family-share"),
        *fees.cycle_fees(MUM, date(2026, 12, 1))])
    assert result.rejected == {}
    got = {(ln.period, ln.item_type): ln.amount for ln in store.lines() if ln.item_type != "tax"}
    # activated on 16 November: base 60.00 x 15/30 = 30.00; the instalment is not prorated
    # (prorate: false): 25.00 in full. December: 60.00 and the second instalment, 25.00
    assert got == {(NOV.key, "recurring"): D("30.00"), (NOV.key, INSTALMENT): D("25.00"),
                   (DEC.key, "recurring"): D("60.00"), (DEC.key, INSTALMENT): D("25.00")}
    assert store.get_counters(["inst|mum|family-share|phone-instalment"]) == {
        "inst|mum|family-share|phone-instalment": D(2)}
