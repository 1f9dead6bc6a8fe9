"""Reconciliation audit: ledger total = billed total + carried amounts, per account and period
(issue #13 item 4), on real stores: a SQLite ledger, a bill run, the SQLite bill store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from telcoflow.billing.cycle import (
    Bill,
    BillCycle,
    BillingAccount,
    BillRunJob,
    Member,
    PayerRule,
    Subscription,
    bill_run,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.documents import render_bill_xml
from telcoflow.cli import run
from telcoflow.errors import DefinitionError, Problem
from telcoflow.ledger import LedgerLine
from telcoflow.loading.catalog import parse_catalog
from telcoflow.ops.audits import (
    AuditReport,
    audit_bill_store,
    audit_reconciliation_store,
    load_audit_pack,
    render_findings,
    run_reconciliation_audit,
    shipped_pack,
)
from telcoflow.ops.reconciliation import (
    Carried,
    Reconciliation,
    billed_from_bills,
    billed_from_xml,
    load_carried,
    reconcile,
)
from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore, SQLiteLedger
from telcoflow.testing.packs import run_pack_tests

D = Decimal
NOV = BillCycle.for_month(1, 2026, 11)
POLICY = """\
kind: close-policy
currency: EUR
"""
CATALOG = """\
kind: catalog
currency: EUR
tax_defaults: {category: telecom, jurisdiction: default}
tax_categories:
  - {id: telecom, rates: [{jurisdiction: "*", percent: 20}]}
offerings:
  - {id: basic, name: 5G Basic, prices: [{price_type: recurring, id: plan, amount: 20.00}]}
  - {id: family, name: 5G Family, prices: [{price_type: recurring, id: plan, amount: 30.00}]}
"""
CARRIED = """\
kind: carried
carried:
  - {account: C1, period: "2026-11-01", currency: EUR, amount: "90.00",
     reason: account closed in November; balance to collections}
"""


def _line(account: str, sub: str, item: str, amount: str) -> LedgerLine:
    return LedgerLine(account, sub, item, NOV.key, "EUR", D(amount), D(1))


LEDGER = [
    _line("A1", "S1", "recurring", "20.00"),  # the plan fee, posted from the catalog
    _line("A1", "S1", "voice", "5.005"),     # a bill line of 5.01 (half-up)
    _line("A1", "S1", "data", "12.40"),
    _line("A2", "S2", "recurring", "30.00"),  # the ledger carries the fee: the close adds none
    _line("A2", "S2", "discount", "-3.00"),   # given in real time
    _line("A2", "S2", "sms", "0.666"),        # a bill line of 0.67
    _line("A2", "S2", "tax", "5.53"),         # the real-time tax estimate: not reconciled
    _line("C1", "S3", "recurring", "90.00"),  # an account the directory no longer lists
]
ACCOUNTS = [
    BillingAccount("A1", "Ada", "EUR", subscriptions=(Subscription("S1", "basic"),)),
    BillingAccount("A2", "Bo", "EUR", subscriptions=(Subscription("S2", "family"),)),
]


@pytest.fixture
def closed(tmp_path: Path) -> tuple[Path, Path]:
    """The ledger and the bill store of a closed November cycle."""
    ledger_path, accounts_path = tmp_path / "ledger.db", tmp_path / "accounts.db"
    ledger, accounts = SQLiteLedger(ledger_path), SQLiteAccounts(accounts_path)
    ledger.write(LEDGER)
    accounts.write(ACCOUNTS)
    ledger.close()
    accounts.close()
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    job = BillRunJob(NOV, parse_close_policy(POLICY), ledger=partial(SQLiteLedger, ledger_path),
                     accounts=partial(SQLiteAccounts, accounts_path),
                     store=partial(SQLiteBillStore, tmp_path / "bills.db"),
                     catalog=parse_catalog(CATALOG))
    summary = bill_run(job, processes=1, progress=False)
    assert (summary.bills, summary.skipped, summary.failed) == (2, (), ())
    return ledger_path, tmp_path / "bills.db"


def test_shipped_pack_passes_its_own_tests() -> None:
    results = run_pack_tests([shipped_pack("reconciliation")])
    assert len(results) == 4
    assert all(r.passed for r in results), [r.failures for r in results if not r.passed]


def test_reconciliation_of_a_closed_cycle_and_a_deleted_bill_line(
        closed: tuple[Path, Path], tmp_path: Path) -> None:
    ledger_path, store_path = closed
    ledger, store = SQLiteLedger(ledger_path), SQLiteBillStore(store_path)
    pack = load_audit_pack(shipped_pack("reconciliation"))
    carried = load_carried(_write(tmp_path / "carried.yaml", CARRIED))

    def audit() -> tuple[Reconciliation, AuditReport]:
        return audit_reconciliation_store(
            pack, ledger=ledger, documents=lambda: store.documents(NOV.key), period=NOV.key,
            carried=carried)

    rec, report = audit()
    rows = {r.account: r for r in rec.rows}
    # A1: ledger 20.00 + 5.005 + 12.40 = 37.405; lines 20.00 + 5.01 + 12.40 = 37.41
    #     (rounding +0.005); nothing added by the close
    a1 = rows["A1"]
    assert (a1.ledger, a1.rounding, a1.billed, a1.added) == (
        D("37.405"), D("0.005"), D("37.41"), D(0))
    # A2: 30.00 - 3.00 + 0.666 = 27.666 (tax left out); lines 30.00 + 0.67 - realtime 3.00
    a2 = rows["A2"]
    assert (a2.ledger, a2.rounding, a2.billed, a2.added) == (
        D("27.666"), D("0.004"), D("27.67"), D(0))
    # C1: 90.00 on no bill, carried with its reason
    c1 = rows["C1"]
    assert (c1.ledger, c1.billed, c1.carried) == (D("90.00"), D(0), D("90.00"))
    assert c1.reasons == ("90.00 account closed in November; balance to collections",)
    # totals: 37.405 + 27.666 + 90.00 = 155.071 + 0.009 rounding = 65.08 billed + 90.00 carried
    t = rec.totals["EUR"]
    assert (t["ledger"], t["rounding"], t["billed"], t["carried"], t["difference"]) == (
        D("155.071"), D("0.009"), D("65.08"), D("90.00"), D(0))
    assert report.checked == 3
    assert report.ok, render_findings(report.findings)
    # what the documents say the close read: A1's and A2's ledgers (tax left out); C1 has none
    assert (a1.recorded, a2.recorded, c1.recorded) == (D("37.405"), D("27.666"), None)
    assert (a1.documents, a2.documents, c1.documents) == (1, 1, 0)
    assert "difference 0.00" in rec.render()

    # someone deletes A1's data line (12.40) from the stored bill
    doc = store.document(NOV.key, "A1")
    assert doc is not None
    start = doc.index(b'type="data"')
    start, end = doc.rindex(b"<line ", 0, start), doc.index(b"</line>", start) + len(b"</line>")
    _store_xml(store_path, "A1", doc[:start] + doc[end:])
    _, report = audit()
    assert [(f.rule, f.subject) for f in report.findings] == [
        ("ledger-vs-billed", "account A1 (EUR)")]
    # 37.405 + 0.005 - (20.00 + 5.01) - 0 = 12.40: the deleted line
    assert "difference 12.40" in report.findings[0].message
    ledger.close()
    store.close()


def test_without_the_carried_amount_the_dropped_account_is_found(
        closed: tuple[Path, Path]) -> None:
    ledger, store = SQLiteLedger(closed[0]), SQLiteBillStore(closed[1])
    _, report = audit_reconciliation_store(
        load_audit_pack(shipped_pack("reconciliation")), ledger=ledger,
        documents=lambda: store.documents(NOV.key), period=NOV.key)
    assert [(f.rule, f.code, f.subject) for f in report.findings] == [
        ("ledger-vs-billed", "ledger-ne-billed-plus-carried", "account C1 (EUR)"),
        ("not-billed", "not-billed-not-carried", "account C1 (EUR)")]
    assert report.findings[1].message == (
        "account C1 (EUR) in period 2026-11-01: ledger 90.00 is on no document and not "
        "carried (not-billed-not-carried)")
    ledger.close()
    store.close()


def test_balance_and_reconciliation_audits_find_a_hand_altered_ledger_row(
        closed: tuple[Path, Path]) -> None:
    ledger, store = SQLiteLedger(closed[0]), SQLiteBillStore(closed[1])
    target = next(ln for ln in ledger.lines(account="A1") if ln.item_type == "data")
    ledger.update_amount(target, D("14.40"))  # was 12.40: the bill still says 12.40
    balance = audit_bill_store(load_audit_pack(shipped_pack("balance")), ledger=ledger,
                               documents=lambda: store.documents(NOV.key), period=NOV.key)
    assert [(f.rule, f.subject) for f in balance.findings] == [
        ("ledger-vs-bill", "account=A1, item_type=data")]
    _, rec = audit_reconciliation_store(
        load_audit_pack(shipped_pack("reconciliation")), ledger=ledger,
        documents=lambda: store.documents(NOV.key), period=NOV.key,
        carried=[Carried(account="C1", period=NOV.key, currency="EUR", amount=D("90.00"),
                         reason="corporate")])
    # A1: 20.00 + 5.005 + 14.40 = 39.405 + 0.005 - 37.41 = 2.00; the bill says the close
    # read 37.405: the ledger changed after the close
    assert [(f.rule, f.facts["difference"], f.facts["recorded"]) for f in rec.findings] == [
        ("ledger-vs-billed", "2.000", "37.405"), ("ledger-changed", "2.000", "37.405")]
    assert rec.findings[1].message == (
        "account A1 (EUR) in period 2026-11-01: the ledger holds 39.405, the documents say "
        "the close read 37.405 (ledger-changed-after-close)")
    ledger.close()
    store.close()


def test_cli_prints_the_reconciliation_and_locates_bad_carried_files(
        closed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["audit", "reconciliation", "--ledger", str(closed[0]), "--store", str(closed[1]),
            "--period", NOV.key]
    good = _write(tmp_path / "carried.yaml", CARRIED)
    assert run([*base, "--carried", good]) == 0
    out = capsys.readouterr().out
    assert "EUR: ledger 155.07, rounding 0.01, billed 65.08, carried 90.00, difference 0.00" \
        in out
    assert "3 checks, 0 finding(s)" in out
    assert run(base) == 1
    out = capsys.readouterr().out
    assert "CRITICAL reconciliation/not-billed account C1 (EUR)" in out
    bad = _write(tmp_path / "bad.yaml", CARRIED.replace('"90.00"', "lots").replace(
        "reason: account closed in November; balance to collections", "reason: ''"))
    assert run([*base, "--carried", bad]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{bad}:3:" in err
    assert "amount" in err
    assert "reason" in err
    assert run(["audit", "balance", *base[2:], "--carried", good]) == 2
    assert "reconciliation audit only" in capsys.readouterr().err
    _store_xml(closed[1], "A2", b"<bill")  # a stored document that is not XML any more
    assert run([*base, "--carried", good]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "the stored bill of account A2 is not XML" in err


def test_bills_and_their_stored_xml_reconcile_alike() -> None:
    policy, catalog = parse_close_policy(POLICY), parse_catalog(CATALOG)
    bills = []
    for acc in ACCOUNTS:
        bill = close_account(acc, [ln for ln in LEDGER if ln.account == acc.account_id], NOV,
                             policy, catalog)
        assert isinstance(bill, Bill)
        bills.append(bill)
    xml = billed_from_xml([(b.account_id, render_bill_xml(b)) for b in bills])
    assert xml == billed_from_bills(bills)
    assert reconcile(LEDGER, bills, period=NOV.key) == reconcile(LEDGER, xml, period=NOV.key)


def test_payer_documents_statements_and_members_reconcile_to_zero() -> None:
    """The documents of issue #13: a corporate payer whose ledger holds its three members'
    fees (split in real time), a member whose fee nets to 0.00 (paid by the payer), a prepaid
    statement and a hybrid account; each reconciles against its own ledger."""
    policy, catalog = parse_close_policy(POLICY), parse_catalog(CATALOG)
    members = tuple(Member(f"E{i}", (f"E{i}-1",), f"Employee {i}") for i in (1, 2, 3))
    ledger = [
        *(_line("CORP", f"E{i}-1", "recurring", "30.00") for i in (1, 2, 3)),
        _line("E1", "E1-1", "recurring", "0.00"),   # +30.00 posted, -30.00 moved to CORP
        _line("E1", "E1-1", "data", "2.345"),       # the member's own usage: a line of 2.35
        _line("P1", "P1-1", "recurring", "20.00"),  # prepaid: paid from the balance
        _line("P1", "P1-1", "data", "12.40"),
        _line("H1", "H1-1", "recurring", "30.00"),  # hybrid: the fee billed, usage prepaid
        _line("H1", "H1-1", "sms", "0.20"),
    ]
    accounts = [
        BillingAccount("CORP", "Corp", "EUR", members=members),
        BillingAccount("E1", "Employee 1", "EUR", subscriptions=(Subscription("E1-1", "family"),),
                       payers=(PayerRule("CORP", frozenset({"recurring"})),)),
        BillingAccount("P1", "Pia", "EUR", prepaid=True, top_ups=D("40.00"),
                       subscriptions=(Subscription("P1-1", "basic"),)),
        BillingAccount("H1", "Hal", "EUR", prepaid=True, top_ups=D("5.00"),
                       postpaid_items=frozenset({"recurring"}),
                       subscriptions=(Subscription("H1-1", "family"),)),
    ]
    docs = []
    for acc in accounts:
        bill = close_account(acc, [ln for ln in ledger if ln.account == acc.account_id], NOV,
                             policy, catalog)
        assert isinstance(bill, Bill)
        docs.append((acc.account_id, render_bill_xml(bill)))
    assert [etree.fromstring(d).get("kind", "bill") for _, d in docs] == [
        "payer", "bill", "statement", "bill"]
    rec = reconcile(ledger, billed_from_xml(docs), period=NOV.key)
    rows = {r.account: (r.ledger, r.rounding, r.billed) for r in rec.rows}
    assert rows == {
        "CORP": (D("90.00"), D(0), D("90.00")),           # 3 x 30.00 on the payer document
        "E1": (D("2.345"), D("0.005"), D("2.35")),        # 0.00 + 2.345 -> 0.00 + 2.35
        "P1": (D("32.40"), D(0), D("32.40")),             # 20.00 + 12.40 on the statement
        "H1": (D("30.20"), D(0), D("30.20")),             # 30.00 + 0.20
    }
    assert rec.differing == ()


_CATALOG = parse_catalog(CATALOG)
_amounts = st.decimals(min_value=D("-5"), max_value=D("500"), places=4, allow_nan=False,
                       allow_infinity=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["S1", "S2"]),
                          st.sampled_from(["voice", "data", "sms", "recurring", "discount"]),
                          _amounts), min_size=1, max_size=12))
def test_whatever_the_ledger_a_closed_bill_reconciles_to_zero(
        rows: list[tuple[str, str, Decimal]]) -> None:
    policy = parse_close_policy(POLICY)
    account = BillingAccount("A", "x", "EUR", subscriptions=(
        Subscription("S1", "basic"), Subscription("S2", "family")))
    lines = [LedgerLine("A", s, item, NOV.key, "EUR", -abs(a) if item == "discount" else abs(a),
                        D(1)) for s, item, a in rows]
    bill = close_account(account, lines, NOV, policy, _CATALOG)
    # a ledger of discounts only is skipped as "no-charges": its amounts reach no bill
    rec = reconcile(lines, [bill] if isinstance(bill, Bill) else [], period=NOV.key)
    row = rec.rows[0]
    covered = True  # each subscriber's real-time discount within its own charges
    for sub in ("S1", "S2"):
        given = -sum((ln.amount for ln in lines if ln.subscriber == sub
                      and ln.item_type == "discount"), D(0))
        charged = sum((ln.amount for ln in lines if ln.subscriber == sub
                       and ln.item_type != "discount"), D(0))
        covered = covered and given <= charged - D("0.05")
    if covered:  # the discount reaches the bill whole: every cent accounted for
        assert row.difference == 0, rec.render(rows="all")
    report = run_reconciliation_audit(load_audit_pack(shipped_pack("reconciliation")), rec)
    assert report.ok == (row.difference == 0)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_any_carried_file_loads_or_fails_with_a_definition_error(text: str) -> None:
    from telcoflow.loading.source import parse_yaml
    from telcoflow.loading.validate import validate_document
    from telcoflow.ops.reconciliation import CarriedFile

    problems: Sequence[Problem] = ()
    try:
        validate_document(parse_yaml("kind: carried\ncarried:\n" + text, "c.yaml"), CarriedFile)
    except DefinitionError as exc:
        problems = exc.problems
    assert all(p.file == "c.yaml" for p in problems)


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _store_xml(store: Path, account: str, doc: bytes) -> None:
    db = sqlite3.connect(store)
    db.execute("UPDATE bills SET xml=? WHERE account_id=?", (doc, account))
    db.commit()
    db.close()
