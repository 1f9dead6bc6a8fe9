"""Audits as rule packs: balance (rated = ledger = bill, bill totals) and floating metrics."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from cycle_helpers import NOV, POLICY_YAML

from telcoflow.billing.cycle import (
    Bill,
    BillingAccount,
    Subscription,
    close_account,
    parse_close_policy,
)
from telcoflow.billing.documents import render_bill_xml
from telcoflow.events import Charge, RatedRecord
from telcoflow.ledger import LedgerLine
from telcoflow.ops.audits import (
    AuditJob,
    AuditReport,
    AuditScheduler,
    FindingStore,
    bill_checks_from_xml,
    daily_metrics,
    load_audit_pack,
    render_findings,
    run_balance_audit,
    run_floating_audit,
    shipped_pack,
    totals_from_bills,
    totals_from_ledger,
    totals_from_rated,
)
from telcoflow.stores.sqlite import SQLiteLedger
from telcoflow.testing.packs import run_pack_tests

D = Decimal
DIMS = ("account", "item_type")


def _rated(n_accounts: int = 3) -> list[RatedRecord]:
    out = []
    for a in range(n_accounts):
        for i in range(4):
            item = ("voice", "data")[i % 2]
            out.append(RatedRecord(
                event_id=f"e{a}-{i}", kind="usage", account=f"A{a}", subscriber=f"S{a}",
                period=NOV.key, currency="EUR",
                charges=[Charge(item, D("1.2345") * (i + 1), D(60))],
                start=datetime(2026, 11, 2 + i, 10, tzinfo=timezone.utc)))
    return out


def _ledger_from(records: list[RatedRecord]) -> list[LedgerLine]:
    sums: dict[tuple[str, str, str], list[Decimal]] = {}
    for r in records:
        for c in r.charges:
            acc = sums.setdefault((r.account, r.subscriber, c.item_type), [D(0), D(0)])
            acc[0] += c.gross
            acc[1] += c.quantity
    return [LedgerLine(a, s, t, NOV.key, "EUR", v[0], v[1]) for (a, s, t), v in sums.items()]


def test_shipped_packs_pass_their_own_tests() -> None:
    results = run_pack_tests([shipped_pack("balance"), shipped_pack("floating")])
    assert len(results) == 5
    assert all(r.passed for r in results), [r.failures for r in results if not r.passed]


def test_balance_audit_finds_one_ledger_row_changed_by_hand(tmp_path: Path) -> None:
    policy = parse_close_policy(POLICY_YAML)
    records = _rated()
    ledger = SQLiteLedger(tmp_path / "ledger.db")
    ledger.write(_ledger_from(records))
    bills: list[Bill] = []
    for a in range(3):
        acc = BillingAccount(f"A{a}", "x", "EUR", subscriptions=(Subscription(f"S{a}", "basic"),))
        bill = close_account(acc, ledger.lines(account=f"A{a}"), NOV, policy)
        assert isinstance(bill, Bill)
        bills.append(bill)
    pack = load_audit_pack(shipped_pack("balance"))
    bill_totals, bill_lines = totals_from_bills(bills, DIMS)

    def audit() -> AuditReport:
        return run_balance_audit(
            pack, rated=totals_from_rated(records, DIMS),
            ledger=totals_from_ledger(ledger.lines(period=NOV.key), DIMS), bills=bill_totals,
            bill_lines=bill_lines, dimensions=DIMS)

    clean = audit()
    # 3 accounts x (voice, data); rated 1.2345 + 3.7035 = 4.9380 voice vs bill 4.94: rounding
    assert clean.checked == 6
    assert clean.ok, render_findings(clean.findings)
    # someone edits one ledger row by hand: A1's data line 2.4690 + 4.9380 = 7.4070 -> 7.50
    target = next(ln for ln in ledger.lines(account="A1") if ln.item_type == "data")
    assert target.amount == D("7.4070")
    ledger.update_amount(target, D("7.50"))
    report = audit()
    assert {f.subject for f in report.findings} == {"account=A1, item_type=data"}
    assert sorted(f.rule for f in report.findings) == ["ledger-vs-bill", "rated-vs-ledger"]
    assert "rated 7.4070, ledger 7.50" in report.findings[0].message
    ledger.close()


def test_bill_total_audit_reads_stored_xml() -> None:
    policy = parse_close_policy(POLICY_YAML)
    acc = BillingAccount("A", "x", "EUR", subscriptions=(Subscription("S", "basic"),))
    bill = close_account(acc, [LedgerLine("A", "S", "voice", NOV.key, "EUR", D(5), D(1)),
                               LedgerLine("A", "S", "recurring", NOV.key, "EUR", D(20), D(1))],
                         NOV, policy)
    assert isinstance(bill, Bill)
    good = render_bill_xml(bill)
    # 5.00 + 20.00 = 25.00, data-10 10 % of usage 5.00 = 0.50, tax 20 % of 24.50 = 4.90
    # -> 29.40; tamper the stored total to 31.00
    bad = good.replace(b"<total>29.40</total>", b"<total>31.00</total>")
    assert bad != good
    pack = load_audit_pack(shipped_pack("balance"))
    report = run_balance_audit(pack, rated={}, ledger={}, bills={},
                               bill_checks=bill_checks_from_xml([("A", good), ("B", bad)]))
    assert report.checked == 2
    assert [(f.rule, f.subject) for f in report.findings] == [
        ("bill-total", "bill A-2026-11-01 (account B)"),
        ("bill-gross", "bill A-2026-11-01 (account B)")]


def _series() -> dict[date, Decimal]:
    start = date(2026, 11, 1)
    values = {start + timedelta(days=i): D(100 + i % 3) for i in range(21)}
    values[date(2026, 11, 10)] = D(125)  # near miss: about +24 % on its mean
    values[date(2026, 11, 16)] = D(140)  # the spike
    return values


def test_floating_audit_flags_the_spike_day_and_no_other() -> None:
    pack = load_audit_pack(shipped_pack("floating"))
    flat = {date(2026, 11, 1) + timedelta(days=i): D(50) for i in range(21)}
    report = run_floating_audit(pack, {"revenue.voice": _series(), "revenue.data": flat})
    # judged: 21 - 7 = 14 days per metric
    assert report.checked == 28
    assert [f.subject for f in report.findings] == ["revenue.voice on 2026-11-16"]
    # trailing mean of 9..15 Nov: 102+125+101+102+100+101+102 = 733 / 7 = 104.71;
    # 140 is 33.7 % above it
    assert "33.7 % off its trailing 7-day mean 104.71 (limit 30 %)" in report.findings[0].message


def test_daily_metrics_from_rated_records() -> None:
    metrics = daily_metrics(_rated(2))
    # voice events i=0 and i=2 of each account: 1.2345 * 1 on 2 Nov, 1.2345 * 3 on 4 Nov
    assert metrics["revenue.voice"][date(2026, 11, 2)] == D("2.4690")
    assert metrics["revenue.voice"][date(2026, 11, 4)] == D("7.4070")


def test_scheduler_runs_hourly_and_daily_jobs_when_due(tmp_path: Path) -> None:
    pack = load_audit_pack(shipped_pack("floating"))
    store = FindingStore(tmp_path / "findings.db")

    def floating(now: datetime) -> AuditReport:
        return run_floating_audit(pack, {"revenue.voice": _series()}, now=now)

    def nothing(now: datetime) -> AuditReport:
        return AuditReport("hourly-balance", "audit-balance", 0, (), now)

    sched = AuditScheduler([AuditJob("daily-floating", "daily", floating),
                            AuditJob("hourly-balance", "hourly", nothing)], store)
    t0 = datetime(2026, 11, 22, 10, 5, tzinfo=timezone.utc)
    assert [r.audit for r in sched.run_due(t0)] == ["daily-floating", "hourly-balance"]
    assert sched.run_due(t0 + timedelta(minutes=40)) == []
    assert [r.audit for r in sched.run_due(t0 + timedelta(minutes=55))] == ["hourly-balance"]
    assert [r.audit for r in sched.run_due(t0 + timedelta(days=1))] == [
        "daily-floating", "hourly-balance"]
    stored = store.findings(audit="daily-floating")
    assert len(stored) == 2  # one spike finding per daily run
    assert stored[0].subject == "revenue.voice on 2026-11-16"
    assert "WARNING  daily-floating/voice-revenue-30pct" in render_findings(stored)
    assert '"code": "metric-deviation"' in render_findings(stored, as_json=True)
    with pytest.raises(ValueError, match="unique"):
        AuditScheduler([AuditJob("x", "daily", nothing)] * 2, store)
    store.close()


def test_audit_a_closed_cycle_from_the_bill_store(
    sqlite_sources: tuple[Path, Path, list[object]], tmp_path: Path
) -> None:
    from functools import partial

    from telcoflow.billing.cycle import BillRunJob, bill_run
    from telcoflow.ops.audits import audit_bill_store
    from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore

    ledger_path, accounts_path, _ = sqlite_sources
    job = BillRunJob(NOV, parse_close_policy(POLICY_YAML),
                     ledger=partial(SQLiteLedger, ledger_path),
                     accounts=partial(SQLiteAccounts, accounts_path),
                     store=partial(SQLiteBillStore, tmp_path / "bills.db"))
    bill_run(job, processes=1, progress=False)
    store, ledger = SQLiteBillStore(tmp_path / "bills.db"), SQLiteLedger(ledger_path)
    pack = load_audit_pack(shipped_pack("balance"))

    def audit() -> AuditReport:
        return audit_bill_store(pack, ledger=ledger, documents=lambda: store.documents(NOV.key),
                                period=NOV.key)

    clean = audit()
    # 480 billed accounts x (voice, data) dimensions + 480 bill checks
    assert clean.checked == 480 * 2 + 480
    assert clean.ok, render_findings(clean.findings[:5])
    target = next(ln for ln in ledger.lines(account="ACC000123") if ln.item_type == "voice")
    ledger.update_amount(target, target.amount + D("0.02"))
    report = audit()
    assert [(f.rule, f.subject) for f in report.findings] == [
        ("ledger-vs-bill", "account=ACC000123, item_type=voice")]
    store.close()
    ledger.close()
