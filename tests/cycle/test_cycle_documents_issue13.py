"""Issue 13 acceptance: every account with charges gets a document, prepaid statements, one
tax rule (figures worked out by hand in the comments, independently of the code)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from cycle_helpers import NOV, line
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.accounts import AccountProfile, SubscriberProfile
from telcoflow.billing.cycle import (
    Bill,
    BillingAccount,
    Member,
    PayerRule,
    SkippedAccount,
    Subscription,
    check_bill,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.cycle.close import CycleCloser
from telcoflow.billing.documents import render_bill_xml, validate_bill_xml
from telcoflow.billing.documents.html import StatementRenderer
from telcoflow.billing.documents.tmf678 import bill_to_tmf678_json
from telcoflow.billing.recurring import RecurringFees
from telcoflow.catalog import Catalog
from telcoflow.errors import DefinitionError
from telcoflow.ledger import LedgerLine
from telcoflow.loading.catalog import parse_catalog
from telcoflow.rating.catalog_rater import CatalogRater
from telcoflow.rating.tax import TaxRules

CATALOG = """\
kind: catalog
currency: EUR
tax_defaults: {category: telecom, jurisdiction: NV, rule: RULE}
tax_categories:
  - {id: telecom, rates: [{jurisdiction: NV, percent: 20}]}
  - {id: prepaid, rates: [{jurisdiction: NV, percent: 0}]}
offerings:
  - id: business-30
    name: Business 5G
    prices: [{price_type: recurring, id: plan, amount: 30.00, period: month}]
  - id: postpaid-20
    name: Basic 5G
    prices: [{price_type: recurring, id: plan, amount: 20.00, period: month}]
  - id: prepaid-go
    name: Go prepaid
    tax_category: prepaid
    prices: [{price_type: recurring, id: plan, amount: 5.00, period: month}]
"""
D = Decimal
POLICY = parse_close_policy("kind: close-policy\ncurrency: EUR\n")


def _catalog(rule: str = "per-line") -> Catalog:
    return parse_catalog(CATALOG.replace("RULE", rule), "issue13.yaml")


def _close(account: BillingAccount, lines: list[LedgerLine],
           rule: str = "per-line") -> Bill | SkippedAccount:
    return close_account(account, lines, NOV, POLICY, _catalog(rule))


def _fee_lines(account: str, subs: dict[str, str]) -> list[LedgerLine]:
    """The cycle's plan fees as the real-time path posts them: RecurringFees over the
    catalog's monthly fees (the one source of plan fees)."""
    fees = RecurringFees(CatalogRater(_catalog()).monthly_fees())
    profile = AccountProfile(account)
    events = fees.cycle_fees([SubscriberProfile(s, profile, offer) for s, offer in subs.items()],
                             datetime(2026, 11, 1).date())
    return [LedgerLine(account, e.subscriber, "recurring", NOV.key, "EUR", e.amount, D(1))
            for e in events]


def test_recurring_only_account_gets_a_bill_of_its_plan_fee_plus_tax() -> None:
    # plan 20.00 (catalog), nothing else; tax 20 % of 20.00 = 4.00; total 24.00
    account = BillingAccount("R1", "Rae", "EUR", subscriptions=(Subscription("R1-1",
                                                                             "postpaid-20"),))
    bill = _close(account, _fee_lines("R1", {"R1-1": "postpaid-20"}))
    assert isinstance(bill, Bill)
    assert (bill.kind, bill.subtotal, bill.tax_total, bill.total) == (
        "bill", D("20.00"), D("4.00"), D("24.00"))
    assert bill.lines[0].description == "Basic 5G"
    assert bill.position.amount_due == D("24.00")


def test_corporate_payer_bill_lists_members_and_members_show_paid_by() -> None:
    # the real-time split moved each employee's 30.00 fee to CORP: CORP's ledger holds
    # 3 x 30.00 = 90.00 (one line per employee's subscriber); each employee's nets to 0.00
    members = tuple(Member(f"E{i}", (f"E{i}-1",), f"Employee {i}") for i in (1, 2, 3))
    corp = BillingAccount("CORP", "Corp Ltd", "EUR", members=members)
    corp_lines = [replace(ln, account="CORP") for i in (1, 2, 3)
                  for ln in _fee_lines(f"E{i}", {f"E{i}-1": "business-30"})]
    bill = _close(corp, corp_lines)
    assert isinstance(bill, Bill)
    # 90.00 + 20 % = 90.00 + 18.00 = 108.00, all owed by CORP
    assert (bill.kind, bill.subtotal, bill.tax_total, bill.total) == (
        "payer", D("90.00"), D("18.00"), D("108.00"))
    assert [(m.member_id, m.subscriber_id, m.net, m.tax, m.gross) for m in bill.members] == [
        (f"E{i}", f"E{i}-1", D("30.00"), D("6.00"), D("36.00")) for i in (1, 2, 3)]
    assert bill.position.amount_due == D("108.00")
    assert check_bill(bill) == []

    rule = (PayerRule("CORP", frozenset({"recurring"})),)
    employee = BillingAccount("E1", "Employee 1", "EUR", payers=rule,
                              subscriptions=(Subscription("E1-1", "business-30"),))
    # the employee's ledger: +30.00 posted, -30.00 moved to CORP (quantity 1 kept)
    member_bill = _close(employee, [line("E1", "E1-1", "recurring", "0.00", "1")])
    assert isinstance(member_bill, Bill)
    (fee,) = member_bill.lines
    assert (fee.item_type, fee.gross, fee.paid_by) == ("recurring", D("0.00"), "CORP")
    assert member_bill.position.amount_due == D("0.00")


def test_close_time_split_gives_the_payer_part_and_the_holder_only_the_rest() -> None:
    # not split in real time: the member's bill carries 30.00 + 6.00 = 36.00, CORP's part
    rule = (PayerRule("CORP", frozenset({"recurring"})),)
    employee = BillingAccount("E1", "Employee 1", "EUR", payers=rule,
                              subscriptions=(Subscription("E1-1", "business-30"),))
    bill = _close(employee, [*_fee_lines("E1", {"E1-1": "business-30"}),
                             line("E1", "E1-1", "data", "5.00", "100")])
    assert isinstance(bill, Bill)
    # data 5.00 + 1.00 tax = 6.00 stays with E1; total 42.00
    assert [(p.payer_id, p.amount) for p in bill.payer_parts] == [
        ("CORP", D("36.00")), ("E1", D("6.00"))]
    assert [ln.paid_by for ln in bill.lines] == ["CORP", ""]
    assert bill.position.amount_due == D("6.00")


def test_prepaid_statement_shows_balance_in_out_and_nothing_due() -> None:
    # opened at 0.00, topped up 30.00; data 12.40 and plan 5.00 from the balance (0 % tax):
    # out 17.40, closing 0.00 + 30.00 - 17.40 = 12.60, nothing due
    account = BillingAccount("P1", "Pia", "EUR", prepaid=True, top_ups=D("30.00"),
                             subscriptions=(Subscription("P1-1", "prepaid-go"),))
    bill = _close(account, [line("P1", "P1-1", "recurring", "5.00"),
                            line("P1", "P1-1", "data", "12.40", "2048")])
    assert isinstance(bill, Bill)
    assert bill.kind == "statement"
    assert (bill.opening_balance, bill.top_ups, bill.paid_from_balance,
            bill.closing_balance) == (D("0"), D("30.00"), D("17.40"), D("12.60"))
    assert bill.tax_total == D("0.00")
    assert {ln.paid_by for ln in bill.lines} == {"balance"}
    assert bill.position.amount_due == D("0.00")
    assert [(p.payer_id, p.amount) for p in bill.payer_parts] == [
        ("balance", D("17.40")), ("P1", D("0.00"))]


def test_hybrid_account_pays_usage_from_balance_and_is_billed_its_fees() -> None:
    # usage from the balance (12.40 at 0 %); the plan fee postpaid: 5.00 + 0 % = 5.00 due
    account = BillingAccount("H1", "Hal", "EUR", prepaid=True, top_ups=D("30.00"),
                             postpaid_items=frozenset({"recurring"}),
                             subscriptions=(Subscription("H1-1", "prepaid-go"),))
    bill = _close(account, [line("H1", "H1-1", "recurring", "5.00"),
                            line("H1", "H1-1", "data", "12.40", "2048")])
    assert isinstance(bill, Bill)
    assert bill.kind == "bill"
    assert (bill.paid_from_balance, bill.closing_balance) == (D("12.40"), D("17.60"))
    assert bill.position.amount_due == D("5.00")


def test_prepaid_top_up_without_usage_still_gets_a_statement() -> None:
    account = BillingAccount("P2", "Pat", "EUR", prepaid=True, top_ups=D("10.00"),
                             opening_balance=D("2.50"),
                             subscriptions=(Subscription("P2-1", "prepaid-go"),))
    bill = _close(account, [])
    assert isinstance(bill, Bill)
    assert (bill.kind, bill.total, bill.closing_balance) == ("statement", D("0"), D("12.50"))


def test_skips_say_why() -> None:
    empty = BillingAccount("X", "X", "EUR")
    idle = BillingAccount("Y", "Y", "EUR", subscriptions=(Subscription("Y-1", "postpaid-20"),))
    assert _close(empty, []) == SkippedAccount("X", "no-subscribers")
    assert _close(idle, []) == SkippedAccount("Y", "no-charges")


@pytest.mark.parametrize(("rule", "tax", "parts"), [
    # 20 % of 10.01 = 2.002 -> 2.00 per line; 3 lines: 6.00
    ("per-line", D("6.00"), [D("2.00")] * 3),
    # 20 % of 30.03 = 6.006 -> 6.01 once for the bill and rate; spread 2.01 + 2.00 + 2.00
    ("per-bill-rate", D("6.01"), [D("2.01"), D("2.00"), D("2.00")]),
])
def test_tax_rule_per_line_or_per_bill_and_rate(rule: str, tax: D, parts: list[D]) -> None:
    account = BillingAccount("T", "Tess", "EUR",
                             subscriptions=tuple(Subscription(f"T-{i}", "postpaid-20")
                                                 for i in (1, 2, 3)))
    bill = _close(account, [line("T", f"T-{i}", "data", "10.01", "10") for i in (1, 2, 3)],
                  rule)
    assert isinstance(bill, Bill)
    assert [ln.tax for ln in bill.lines] == parts
    (summary,) = bill.taxes
    assert (summary.rate, summary.base, summary.amount) == (D("20"), D("30.03"), tax)
    assert bill.tax_total == tax
    assert bill.total == D("30.03") + tax


def test_tax_rules_directly() -> None:
    rules = TaxRules(_catalog("per-bill-rate"))
    assert rules.line_taxes([D("10.01")] * 3, D("20"), D("0.01")) == [
        D("2.01"), D("2.00"), D("2.00")]
    assert rules.category("prepaid-go", "data") == "prepaid"
    assert rules.category("business-30", "data") == "telecom"
    assert TaxRules(_catalog()).line_taxes([D("10.01")] * 3, D("20"), D("0.01")) == [
        D("2.00")] * 3


def test_ledger_tax_is_recorded_and_replaced_by_the_rule() -> None:
    # the real-time Tax step posted 20 % of 10.01 exactly: 2.002; the bill taxes 2.00
    account = BillingAccount("T", "Tess", "EUR", subscriptions=(Subscription("T-1",
                                                                             "postpaid-20"),))
    bill = _close(account, [line("T", "T-1", "data", "10.01", "10"),
                            line("T", "T-1", "tax", "2.002", "0")])
    assert isinstance(bill, Bill)
    assert (bill.ledger_tax, bill.tax_total, bill.total) == (D("2.002"), D("2.00"), D("12.01"))
    # ledger total - ledger tax + tax by the rule = total: 12.012 - 2.002 + 2.00 = 12.01
    assert bill.ledger_total == D("12.012")
    assert bill.ledger_total - bill.ledger_tax + bill.tax_total == bill.total
    assert bill.rounding == 0


def test_rounding_and_close_discounts_explain_the_rest() -> None:
    # ledger: data 10.005 (-> 10.01 on the line, +0.005) and its exact tax 2.001;
    # bill: 10.01 + 20 % (2.002 -> 2.00) = 12.01
    # 12.01 = 12.006 - 2.001 + 2.00 - 0 + 0.005
    account = BillingAccount("T", "Tess", "EUR", subscriptions=(Subscription("T-1",
                                                                             "postpaid-20"),))
    bill = _close(account, [line("T", "T-1", "data", "10.005", "10"),
                            line("T", "T-1", "tax", "2.001", "0")])
    assert isinstance(bill, Bill)
    assert (bill.ledger_total, bill.total, bill.close_discount_total, bill.rounding) == (
        D("12.006"), D("12.01"), D(0), D("0.005"))


def test_category_without_rate_is_refused_where_defined() -> None:
    text = CATALOG.replace("RULE", "per-line").replace(
        "  - {id: prepaid, rates: [{jurisdiction: NV, percent: 0}]}", "  - {id: prepaid}")
    with pytest.raises(DefinitionError) as err:
        parse_catalog(text, "cat.yaml")
    assert "cat.yaml:6:" in str(err.value)
    assert "no rate" in str(err.value)


@pytest.mark.parametrize("key", ["plans", "taxes", "discounts", "tax_categories"])
def test_policy_pricing_keys_fail_located_saying_where_they_belong(key: str) -> None:
    text = f"kind: close-policy\ncurrency: EUR\n{key}: {{x: 1}}\n"
    with pytest.raises(DefinitionError) as err:
        parse_close_policy(text, "close.yaml")
    assert "close.yaml:3:" in str(err.value)
    assert "catalog" in str(err.value)


def test_policy_names_its_catalog_relative_to_its_file(tmp_path: Path) -> None:
    from telcoflow.billing.cycle import load_close_policy

    (tmp_path / "cat.yaml").write_text(CATALOG.replace("RULE", "per-line"), encoding="utf-8")
    policy_path = tmp_path / "sub" / "close.yaml"
    policy_path.parent.mkdir()
    policy_path.write_text("kind: close-policy\ncatalog: ../cat.yaml\n", encoding="utf-8")
    policy = load_close_policy(policy_path)
    closer = CycleCloser(policy, NOV)
    assert "business-30" in closer.catalog.offering_versions
    with pytest.raises(DefinitionError, match="needs the catalog"):
        CycleCloser(POLICY, NOV)


def test_renderers_handle_statements_and_payer_documents() -> None:
    members = (Member("E1", ("E1-1",), "Employee 1"),)
    corp = BillingAccount("CORP", "Corp Ltd", "EUR", members=members)
    payer = _close(corp, [line("CORP", "E1-1", "recurring", "30.00")])
    prepaid = BillingAccount("P1", "Pia", "EUR", prepaid=True, top_ups=D("30.00"),
                             subscriptions=(Subscription("P1-1", "prepaid-go"),))
    statement = _close(prepaid, [line("P1", "P1-1", "data", "12.40", "2048")])
    assert isinstance(payer, Bill)
    assert isinstance(statement, Bill)
    html = StatementRenderer().render(statement)
    assert "12.40" in html
    assert "17.60" in html  # closing balance 30.00 - 12.40
    payer_html = StatementRenderer().render(payer)
    assert "What you pay for your members" in payer_html
    assert "<td>E1</td><td>E1-1</td><td>recurring</td>" in payer_html
    assert "Your balance" not in payer_html
    assert "paid from your balance" in html
    for doc in (payer, statement):
        validate_bill_xml(render_bill_xml(doc))
        # was "@documentKind" before #18 (not a CustomerBill property)
        assert f'"documentKind":"{doc.kind}"' in bill_to_tmf678_json(doc)
    assert b'kind="payer"' in render_bill_xml(payer)
    assert b"<closing>17.60</closing>" in render_bill_xml(statement)
    # what each document was built from, for a reconciliation from the stored XML
    assert b'<ledger total="12.40" tax="0"/></bill>' in render_bill_xml(statement)


def test_accounts_from_profiles_give_payers_members_and_prepaid_funding() -> None:
    from telcoflow.accounts import SplitPolicy
    from telcoflow.billing.cycle.sources import accounts_from_profiles
    from telcoflow.ledger import top_up_key

    corp = AccountProfile("CORP")
    staff = AccountProfile("E1", split=SplitPolicy("CORP", frozenset({"recurring"})))
    pre = AccountProfile("P1", prepaid=True, postpaid_items=frozenset({"recurring"}))
    subs = {"E1": [Subscription("E1-1", "business-30")],
            "P1": [Subscription("P1-1", "prepaid-go")]}
    by_id = {a.account_id: a for a in accounts_from_profiles(
        [corp, staff, pre], subs, period=NOV.key,
        counters={top_up_key("P1", NOV.key): D("30.00")}, names={"E1": "Eve"})}
    assert by_id["CORP"].members == (Member("E1", ("E1-1",), "Eve", ("business-30",)),)
    assert by_id["E1"].payers == (PayerRule("CORP", frozenset({"recurring"})),)
    assert (by_id["P1"].prepaid, by_id["P1"].postpaid_items, by_id["P1"].top_ups) == (
        True, frozenset({"recurring"}), D("30.00"))
    assert by_id["E1"].name == "Eve"
    assert by_id["CORP"].name == "CORP"


def test_bill_run_job_refuses_a_policy_without_catalog(tmp_path: Path) -> None:
    from telcoflow.stores.sqlite import sqlite_job

    policy = tmp_path / "close.yaml"
    policy.write_text("kind: close-policy\ncurrency: EUR\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="names no `catalog`"):
        sqlite_job(policy=policy, ledger=tmp_path / "l.db", accounts=tmp_path / "a.db",
                   store=tmp_path / "s.db", cycle_day=1, year=2026, month=11)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=0, max_value=10_000, places=2), min_size=1, max_size=8),
       st.decimals(min_value=0, max_value=30, places=1))
def test_per_bill_rate_parts_sum_to_the_rounded_total(nets: list[Decimal],
                                                      rate: Decimal) -> None:
    rules = TaxRules(_catalog("per-bill-rate"))
    parts = rules.line_taxes(nets, rate, D("0.01"))
    exact = [n * rate / 100 for n in nets]
    # the rule's figure: the exact tax of all lines rounded once (half-up)
    assert sum(parts, D(0)) == sum(exact, D(0)).quantize(D("0.01"), ROUND_HALF_UP)
    # each line's part within one cent of its exact tax
    assert all(abs(p - e) < D("0.01") for p, e in zip(parts, exact, strict=True))


def test_a_statement_whose_balance_does_not_add_up_is_refused() -> None:
    from telcoflow.errors import MoneyError

    account = BillingAccount("P1", "Pia", "EUR", prepaid=True, top_ups=D("30.00"),
                             subscriptions=(Subscription("P1-1", "prepaid-go"),))
    statement = _close(account, [line("P1", "P1-1", "data", "12.40", "2048")])
    assert isinstance(statement, Bill)
    assert check_bill(statement) == []
    # closing 17.60 = 0 + 30.00 - 12.40; claim 18.60 instead
    with pytest.raises(MoneyError, match=r"closing balance 18.60 != opening 0 \+ top-ups 30.00"):
        replace(statement, closing_balance=D("18.60"))
    with pytest.raises(MoneyError, match="kind is 'invoice'"):
        replace(statement, kind="invoice")


def test_first_cycle_discounts_follow_the_subscription_start() -> None:
    from datetime import date

    catalog = parse_catalog(CATALOG.replace("RULE", "per-line") + """\
discounts:
  - {id: intro, kind: fixed, amount: 5.00, duration: once}
  - {id: bundle, kind: percentage, percent: 10, requires_offerings: [postpaid-20, business-30]}
""", "d.yaml")
    lines = [line("N", "N-1", "recurring", "20.00")]

    def bill_of(start: date | None, *extra: Subscription) -> Bill:
        account = BillingAccount("N", "Ned", "EUR", subscriptions=(
            Subscription("N-1", "postpaid-20", start=start), *extra))
        result = close_account(account, lines, NOV, POLICY, catalog)
        assert isinstance(result, Bill)
        return result

    # started 1 Nov: the first cycle, intro 5.00; started in October: not; no start: not
    assert [d.discount_id for d in bill_of(date(2026, 11, 1)).discounts] == ["intro"]
    assert bill_of(date(2026, 10, 3)).discounts == ()
    assert bill_of(None).discounts == ()
    # the bundle needs both offerings held in the cycle: a business-30 that ended in
    # October does not count; one held now does (10 % of 20.00 = 2.00)
    ended = Subscription("N-2", "business-30", date(2026, 9, 1), date(2026, 10, 31))
    assert bill_of(None, ended).discounts == ()
    held = Subscription("N-2", "business-30")
    assert [(d.discount_id, d.amount) for d in bill_of(None, held).discounts] == [
        ("bundle", D("2.00"))]


def test_payer_lines_are_taxed_and_described_by_the_members_plans() -> None:
    # CORP pays a member's 5.00 prepaid-go fee (category prepaid, 0 %) and a member's 30.00
    # business-30 fee (telecom 20 %): 5.00 + 30.00 + 6.00 = 41.00
    corp = BillingAccount("CORP", "Corp", "EUR", members=(
        Member("M1", ("M1-1",), "Mo", ("prepaid-go",)),
        Member("M2", ("M2-1",), "Max", ("business-30",))))
    bill = _close(corp, [line("CORP", "M1-1", "recurring", "5.00"),
                         line("CORP", "M2-1", "recurring", "30.00")])
    assert isinstance(bill, Bill)
    assert [(ln.description, ln.tax_category, ln.tax) for ln in bill.lines] == [
        ("Go prepaid", "prepaid", D("0.00")), ("Business 5G", "telecom", D("6.00"))]
    assert bill.total == D("41.00")
    from telcoflow.billing.cycle.sources import account_from_json, account_to_json

    assert account_from_json(account_to_json(corp)) == corp
