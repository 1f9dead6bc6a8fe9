"""``telcoflow demo``: the main job on the embedded defaults, end to end.

1. load the shipped 5G catalog and price a small generated sample with the price models;
2. generate a population and stream its month through the real-time billing graph into SQLite;
3. close the cycle (bill cycle day 1): bills as XML (checked against the shipped XSD), HTML and
   TMF678 JSON, then the balance and floating audits and the daily report, all written to an
   output folder.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from telcoflow.shipped import shipped_path

__all__ = ["DemoOutcome", "default_close_policy_path", "run_demo"]

_FORMATS = ("xml", "html", "json")


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """Where the demo wrote its outputs and what it counted."""

    out_dir: Path
    ledger_path: Path
    events_accepted: int
    events_rejected: int
    bills: int
    skipped: int
    findings: int


def default_close_policy_path() -> Path:
    """The demo operator's close policy, ``examples/close/close-policy.yaml`` (shipped: see
    :func:`telcoflow.shipped.shipped_path`)."""
    return shipped_path("examples/close/close-policy.yaml")


def run_demo(
    *,
    accounts: int = 200,
    out_dir: Path = Path("telcoflow-demo"),
    seed: int = 7,
    echo: Callable[[str], object] = print,
) -> DemoOutcome:
    """Run the whole demo, writing into ``out_dir`` (recreated), and report through ``echo``."""
    from telcoflow.demo.billing import run_billing_demo
    from telcoflow.demo.catalog import run_catalog_demo
    from telcoflow.events import RatedRecord

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    echo("== 1. the shipped 5G catalog, priced on a generated sample")
    run_catalog_demo(seed=seed, out=echo)
    echo("")
    echo("== 2. a month of synthetic 5G traffic through the real-time billing graph")
    ledger_path = out_dir / "ledger.sqlite"
    buffer = io.StringIO()
    records: list[RatedRecord] = []
    result = run_billing_demo(accounts, db_path=ledger_path, out=buffer, seed=seed, records=records)
    echo(buffer.getvalue().rstrip())
    echo("")
    echo("== 3. cycle close (bill cycle day 1): bills, audits, daily report")
    bills, skipped, findings = _close(accounts, seed, ledger_path, out_dir, records, echo)
    echo("")
    echo(f"outputs in {out_dir.resolve()}")
    return DemoOutcome(
        out_dir, ledger_path, result.accepted, result.rejected, bills, skipped, findings
    )


def _close(
    accounts: int,
    seed: int,
    ledger_path: Path,
    out_dir: Path,
    records: Sequence[object],
    echo: Callable[[str], object],
) -> tuple[int, int, int]:
    from telcoflow.billing.cycle import Subscription
    from telcoflow.billing.cycle.run import bill_run
    from telcoflow.billing.documents import validate_bill_xml
    from telcoflow.demo.generator import generate_population
    from telcoflow.events import RatedRecord
    from telcoflow.ops.audits import (
        FindingStore,
        audit_bill_store,
        audit_reconciliation_store,
        daily_metrics,
        load_audit_pack,
        render_findings,
        run_floating_audit,
        shipped_pack,
    )
    from telcoflow.ops.daily_report import build_daily_report

    rated = [r for r in records if isinstance(r, RatedRecord)]
    population = generate_population(accounts, seed=seed)
    month: date = population.month
    directory = out_dir / "accounts.sqlite"
    subs: dict[str, list[Subscription]] = {}
    for sub in population.subscribers:
        subs.setdefault(sub.account.id, []).append(Subscription(sub.id, sub.offer))
    from telcoflow.billing.cycle.sources import accounts_from_profiles
    from telcoflow.ledger import top_up_key
    from telcoflow.stores.sqlite import (
        SQLiteAccounts,
        SQLiteBillStore,
        SQLiteLedger,
        SQLiteLedgerStore,
        sqlite_job,
    )

    period = month.replace(day=1).isoformat()
    ledger_store = SQLiteLedgerStore(ledger_path)
    counters = ledger_store.get_counters([top_up_key(a.id, period) for a in population.accounts])
    ledger_store.close()
    book = SQLiteAccounts(directory)
    book.write(accounts_from_profiles(
        population.accounts, subs, period=period, counters=counters,
        names={a.id: f"Customer {a.id}" for a in population.accounts}))
    book.close()
    job = sqlite_job(
        policy=default_close_policy_path(),
        ledger=ledger_path,
        accounts=directory,
        store=out_dir / "bills.sqlite",
        cycle_day=1,
        year=month.year,
        month=month.month,
        formats=_FORMATS,
    )
    summary = bill_run(job, processes=1, progress=False)
    echo(summary.render())
    period = job.cycle.key
    store = SQLiteBillStore(out_dir / "bills.sqlite")
    bills_dir = out_dir / "bills"
    bills_dir.mkdir()
    written = 0
    try:
        for fmt in _FORMATS:
            for account_id, document in store.documents(period, fmt):
                if fmt == "xml":
                    validate_bill_xml(document)  # every bill the demo writes is XSD-valid
                (bills_dir / f"{account_id}.{fmt}").write_bytes(document)
                written += 1
        balance = audit_bill_store(
            load_audit_pack(shipped_pack("balance")),
            ledger=SQLiteLedger(str(ledger_path)),
            documents=lambda: store.documents(period, "xml"),
            period=period,
            rated=rated,
        )
        reconciliation, recon = audit_reconciliation_store(
            load_audit_pack(shipped_pack("reconciliation")),
            ledger=SQLiteLedger(str(ledger_path)),
            documents=lambda: store.documents(period, "xml"),
            period=period,
            rounding=job.policy.rounding.decimal_mode,
        )
    finally:
        store.close()
    floating = run_floating_audit(load_audit_pack(shipped_pack("floating")), daily_metrics(rated))
    findings_store = FindingStore(out_dir / "findings.sqlite")
    try:
        for report in (balance, recon, floating):
            findings_store.save(report)
    finally:
        findings_store.close()
    all_findings = [*balance.findings, *recon.findings, *floating.findings]
    (out_dir / "audit-findings.json").write_text(
        render_findings(all_findings, as_json=True), encoding="utf-8"
    )
    echo(reconciliation.render())
    echo(_other_cycles(ledger_path, period))
    echo(
        f"balance audit: {balance.checked} checks, {len(balance.findings)} finding(s); "
        f"reconciliation audit: {recon.checked} checks, {len(recon.findings)} finding(s); "
        f"floating audit: {floating.checked} checks, {len(floating.findings)} finding(s)"
    )
    days = sorted({r.start.date() for r in rated})
    if days:
        daily = build_daily_report(days[-1], rated)
        (out_dir / "daily-report.json").write_text(daily.to_json(), encoding="utf-8")
        (out_dir / "daily-report.html").write_text(daily.to_html(), encoding="utf-8")
        echo(
            f"daily report for {days[-1]}: {daily.to_dict().get('merged_records', '?')} "
            "merged records"
        )
    skipped_by = dict(sorted(summary.as_dict().get("skipped_by_reason", {}).items()))
    echo(f"{written} bill documents in {bills_dir} ("
         + (json.dumps(skipped_by) + " skipped)" if skipped_by else "no account skipped)"))
    return summary.bills, len(summary.skipped), len(all_findings)


def _other_cycles(ledger_path: Path, period: str) -> str:
    """What the ledger holds outside the closed cycle: the periods of accounts on other bill
    cycle days, billed when their own cycle closes (accounted for, not lost)."""
    from decimal import Decimal

    from telcoflow.stores.sqlite import SQLiteLedger

    totals: dict[str, Decimal] = {}
    for line in SQLiteLedger(str(ledger_path)).lines():
        if line.period != period:
            totals[line.period] = totals.get(line.period, Decimal(0)) + line.amount
    if not totals:
        return "the ledger holds nothing outside this cycle"
    return ("ledger outside this cycle (accounts on other bill cycle days, billed when their "
            "own cycle closes): " + ", ".join(f"period {p} {v:,.2f}" for p, v in
                                                sorted(totals.items())))
