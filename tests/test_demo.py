"""``telcoflow demo`` end to end on a small population: every output is there and consistent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lxml import etree

from telcoflow.billing.documents import validate_bill_xml
from telcoflow.demo import run_demo

NS = "{urn:telcoflow:bill:1}"


def test_demo_writes_valid_bills_audits_and_report(tmp_path: Path) -> None:
    lines: list[str] = []
    out = tmp_path / "demo"
    outcome = run_demo(accounts=30, out_dir=out, seed=3, echo=lines.append)
    assert outcome.events_accepted > 0
    assert outcome.bills > 0
    xml_files = sorted((out / "bills").glob("*.xml"))
    assert len(xml_files) == outcome.bills
    assert len(list((out / "bills").glob("*.html"))) == outcome.bills
    for path in xml_files:
        document = path.read_bytes()
        validate_bill_xml(document)
        root = etree.fromstring(document)
        total = Decimal(root.findtext(f"{NS}totals/{NS}total") or "nan")
        gross = [Decimal(e.text or "nan") for e in root.iter(f"{NS}gross")]
        assert gross, path
        assert sum(gross, Decimal(0)) == total, path  # the bill total equals its lines
    findings = json.loads((out / "audit-findings.json").read_text(encoding="utf-8"))
    # the balance audit must find nothing on an untouched run: rated = ledger = bills
    assert [f for f in findings if f["audit"] == "balance"] == []
    report = json.loads((out / "daily-report.json").read_text(encoding="utf-8"))
    assert report["merged_records"] > 0
    assert (out / "daily-report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert any(line.startswith("bill run 2026-11-01") for line in lines)


def test_cli_bill_run_resumes_and_audit_finds_a_hand_edited_row(tmp_path: Path) -> None:
    import sqlite3

    from click.testing import CliRunner

    from telcoflow.cli import main
    from telcoflow.demo import default_close_policy_path

    out = tmp_path / "demo"
    outcome = run_demo(accounts=20, out_dir=out, seed=5, echo=lambda _line: None)
    runner = CliRunner()
    store = tmp_path / "rerun-bills.sqlite"
    args = [
        "bill-run",
        "--policy",
        str(default_close_policy_path()),
        "--ledger",
        str(out / "ledger.sqlite"),
        "--accounts",
        str(out / "accounts.sqlite"),
        "--store",
        str(store),
        "--month",
        "2026-11",
        "--processes",
        "1",
        "--json",
    ]
    first = runner.invoke(main, [*args, "--shard", "1/2"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, [*args, "--shard", "2/2"])
    assert second.exit_code == 0, second.output
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    done = json.loads(first.output)["bills"] + json.loads(second.output)["bills"]
    assert done == outcome.bills  # the two shards together bill every billable account once
    assert json.loads(again.output)["bills"] == 0  # a rerun bills nobody twice

    audit = [
        "audit",
        "balance",
        "--ledger",
        str(out / "ledger.sqlite"),
        "--store",
        str(store),
        "--period",
        "2026-11-01",
    ]
    clean = runner.invoke(main, audit)
    assert clean.exit_code == 0, clean.output
    with sqlite3.connect(out / "ledger.sqlite") as db:
        billed = sorted(p.stem for p in (out / "bills").glob("*.xml"))
        # the first billed account with voice usage (payer documents and plan-fee-only
        # bills have none)
        voice = {r[0] for r in db.execute("SELECT account FROM ledger WHERE item_type = 'voice'")}
        account, item = next(a for a in billed if a in voice), "voice"
        db.execute(
            "UPDATE ledger SET amount = CAST(amount AS REAL) + 1 "
            "WHERE account = ? AND item_type = 'voice'",
            (account,),
        )
    tampered = runner.invoke(main, audit)
    assert tampered.exit_code == 1
    assert account in tampered.output
    assert item in tampered.output
