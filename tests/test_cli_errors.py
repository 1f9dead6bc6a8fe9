"""CLI errors: one line and an exit code, never a traceback; empty runs fail (issue #14)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from telcoflow.cli import run

REPO = Path(__file__).resolve().parent.parent
POLICY = str(REPO / "examples/close/close-policy.yaml")


def sqlite_with(path: Path, table: str) -> str:
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE {table} (x)")
    db.commit()
    db.close()
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {"ledger": sqlite_with(tmp_path / "ledger.db", "ledger"),
            "accounts": sqlite_with(tmp_path / "accounts.db", "billing_accounts"),
            "bills": sqlite_with(tmp_path / "bills.db", "bills"),
            "text": str(tmp_path / "notes.txt")}


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out
    return code, out


@pytest.mark.parametrize(("shard", "why"), [("5/4", "1 <= I <= N"), ("0/4", "1 <= I <= N"),
                                            ("1/0", "1 <= I <= N"), ("abc", "written I/N")])
def test_bad_shards_are_usage_errors(capsys: pytest.CaptureFixture[str], files: dict[str, str],
                                     shard: str, why: str) -> None:
    code, out = invoke(capsys, "bill-run", "--policy", POLICY, "--ledger", files["ledger"],
                       "--accounts", files["accounts"], "--store", files["bills"],
                       "--month", "2026-11", "--shard", shard)
    assert code == 2
    assert why in out


def test_bad_month_and_period(capsys: pytest.CaptureFixture[str], files: dict[str, str]) -> None:
    code, out = invoke(capsys, "bill-run", "--policy", POLICY, "--ledger", files["ledger"],
                       "--accounts", files["accounts"], "--store", files["bills"],
                       "--month", "2026-13")
    assert code == 2
    assert "month 01-12 (got '2026-13')" in out
    for period in ("2026-11", "garbage", "2026-02-30"):
        code, out = invoke(capsys, "audit", "balance", "--ledger", files["ledger"], "--store",
                           files["bills"], "--period", period)
        assert code == 2
        assert "expected a period key YYYY-MM-DD" in out


def test_swapped_files_are_named(capsys: pytest.CaptureFixture[str], files: dict[str, str]) -> None:
    code, out = invoke(capsys, "audit", "balance", "--ledger", files["bills"], "--store",
                       files["ledger"], "--period", "2026-11-01")
    assert code == 2
    assert "has no `ledger` table" in out
    assert "swapped" in out
    code, out = invoke(capsys, "bill-run", "--policy", POLICY, "--ledger", files["ledger"],
                       "--accounts", files["ledger"], "--store", files["bills"],
                       "--month", "2026-11")
    assert code == 2
    assert "has no `billing_accounts` table" in out


def test_counts_and_paths(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = invoke(capsys, "demo", "--accounts", "-5")
    assert code == 2
    assert "1<=x<=1000000" in out
    existing = tmp_path / "file"
    existing.write_text("x", encoding="utf-8")
    code, out = invoke(capsys, "demo", "--out", str(existing))
    assert code == 2
    assert "is a file" in out
    code, out = invoke(capsys, "schema", "--out", str(existing / "sub"))
    assert code == 2
    assert "cannot write schemas" in out
    code, out = invoke(capsys, "journey", "diagram", str(REPO / "journeys/top_up.yaml"),
                       "--format", "png")
    assert code == 2


def test_empty_runs_fail_and_say_what_they_looked_at(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path,
                                                      files: dict[str, str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = invoke(capsys, "validate", str(empty))
    assert code == 1
    assert f"no YAML file (*.yaml, *.yml) under {empty}" in out


def test_the_installed_script_prints_no_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "telcoflow"
    done = subprocess.run([str(script), "bill-run", "--policy", POLICY, "--ledger", "/etc/hostname",
                           "--accounts", "x", "--store", "y", "--month", "2026-11"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "is not a real-time SQLite ledger" in done.stderr
