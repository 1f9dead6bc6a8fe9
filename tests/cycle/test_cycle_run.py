"""The bill run: memory and SQLite sources, shards, process pool, resume after kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from cycle_helpers import NOV, POLICY_YAML, billable, line, population

from telcoflow.billing.cycle import (
    BillRunJob,
    MemoryAccounts,
    MemoryLedger,
    Shard,
    bill_run,
    parse_close_policy,
)
from telcoflow.billing.documents import validate_bill_xml
from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore, SQLiteLedger

D = Decimal


def _job(ledger_path: Path, accounts_path: Path, store: Path, **kw: object) -> BillRunJob:
    return BillRunJob(
        cycle=NOV, policy=parse_close_policy(POLICY_YAML),
        ledger=partial(SQLiteLedger, ledger_path), accounts=partial(SQLiteAccounts, accounts_path),
        store=partial(SQLiteBillStore, store), **kw)  # type: ignore[arg-type]


def test_shard_parse_and_cover() -> None:
    assert Shard.parse("3/4") == Shard(3, 4)
    for bad in ("0/4", "5/4", "x", "1-4"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)
    ids = [f"ACC{i}" for i in range(400)]
    shards = [Shard(i, 3) for i in (1, 2, 3)]
    assert all(sum(s.contains(a) for s in shards) == 1 for a in ids)


def test_memory_run_in_process(tmp_path: Path) -> None:
    accounts, lines = population(50)
    job = BillRunJob(NOV, parse_close_policy(POLICY_YAML), ledger=lambda: MemoryLedger(lines),
                     accounts=lambda: MemoryAccounts(accounts),
                     store=partial(SQLiteBillStore, tmp_path / "bills.db"),
                     formats=frozenset({"xml", "html", "json"}), batch_size=7)
    summary = bill_run(job, processes=1, progress=False)
    # 50 accounts: 5 without subscribers (i % 10 == 0), 5 without charges (i % 10 == 5)
    assert summary.bills == 40
    assert sorted(s.reason for s in summary.skipped) == ["no-charges"] * 5 + ["no-subscribers"] * 5
    assert summary.as_dict()["skipped_by_reason"] == {"no-charges": 5, "no-subscribers": 5}
    store = SQLiteBillStore(tmp_path / "bills.db")
    totals = store.totals(NOV.key)
    assert totals.bills == 40
    assert totals.totals == summary.totals
    assert store.document(NOV.key, "ACC000001", "json") is not None
    # a second run finds every billed account finished; the 10 skipped ones are closed again
    # (still nothing to bill) and the store still holds 40 bills, one each
    again = bill_run(job, processes=1, progress=False)
    assert (again.bills, again.already_finished, len(again.skipped)) == (0, 40, 10)
    assert "bills 0" in again.render()
    assert set(store.bill_counts(NOV.key).values()) == {1}
    assert store.totals(NOV.key).bills == 40
    with pytest.raises(ValueError, match="must be picklable"):
        bill_run(BillRunJob(NOV, job.policy, ledger=lambda: MemoryLedger(lines),
                            accounts=lambda: MemoryAccounts(accounts),
                            store=partial(SQLiteBillStore, tmp_path / "other.db"), batch_size=7),
                 processes=2, progress=False)


def test_charges_that_reach_the_ledger_after_a_run_are_billed_by_the_rerun(
        tmp_path: Path) -> None:
    """An account skipped for want of charges is not finished: once its events are recovered
    into the ledger (a writer crash, a late journal), the rerun bills it; billed ones stay."""
    accounts, lines = population(20)  # ACC000005 and ACC000015 have no charges
    ledger_path, accounts_path = tmp_path / "ledger.db", tmp_path / "accounts.db"
    ledger, directory = SQLiteLedger(ledger_path), SQLiteAccounts(accounts_path)
    ledger.write(lines)
    directory.write(accounts)
    directory.close()
    job = _job(ledger_path, accounts_path, tmp_path / "bills.db", batch_size=4)
    first = bill_run(job, processes=1, progress=False)
    # 20 accounts: 2 without subscribers (0, 10), 2 without charges (5, 15), 16 bills
    assert first.bills == 16
    assert sorted(s.account_id for s in first.skipped if s.reason == "no-charges") == [
        "ACC000005", "ACC000015"]
    # the recovered events of ACC000005: voice 2.50 + data 1.50 = 4.00 of usage
    ledger.write([line("ACC000005", "ACC000005-1", "voice", "2.50", "30"),
                  line("ACC000005", "ACC000005-1", "data", "1.50", "10")])
    ledger.close()
    second = bill_run(job, processes=2, progress=False)
    assert (second.bills, second.already_finished) == (1, 16)
    assert [s.account_id for s in second.skipped if s.reason == "no-charges"] == ["ACC000015"]
    store = SQLiteBillStore(tmp_path / "bills.db")
    try:
        assert store.bill_counts(NOV.key) == dict.fromkeys(billable(accounts) | {"ACC000005"}, 1)
        xml = store.document(NOV.key, "ACC000005", "xml")
        assert xml is not None
        assert b"2.50" in xml
        assert b"1.50" in xml
        # the skip recorded by the first run was replaced: 17 bills, 3 skipped accounts
        totals = store.totals(NOV.key)
        assert (totals.bills, len(totals.skipped)) == (17, 3)
        assert totals.totals["EUR"] == first.totals["EUR"] + second.totals["EUR"]
    finally:
        store.close()


def test_sqlite_pool_run_shards_and_xsd(
    sqlite_sources: tuple[Path, Path, list[object]], tmp_path: Path
) -> None:
    ledger_path, accounts_path, accounts = sqlite_sources
    store_path = tmp_path / "bills.db"
    job = _job(ledger_path, accounts_path, store_path, batch_size=40)
    first = bill_run(job, shard="1/2", processes=2, progress=False)
    second = bill_run(job, shard=Shard(2, 2), processes=1, progress=False)
    assert first.accounts + second.accounts == 600
    store = SQLiteBillStore(store_path)
    counts = store.bill_counts(NOV.key)
    assert set(counts) == billable(accounts)  # type: ignore[arg-type]
    assert set(counts.values()) == {1}
    n = 0
    for _, xml in store.documents(NOV.key, "xml"):
        validate_bill_xml(xml)
        n += 1
    assert n == 480  # 600 - 60 without subscribers - 60 without charges
    assert first.bills + second.bills == 480
    assert first.totals["EUR"] + second.totals["EUR"] == store.totals(NOV.key).totals["EUR"]


_RUNNER = textwrap.dedent("""
    import sys
    from functools import partial
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from cycle_helpers import NOV, POLICY_YAML
    from telcoflow.billing.cycle import BillRunJob, bill_run, parse_close_policy
    from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore, SQLiteLedger

    if __name__ == "__main__":
        job = BillRunJob(NOV, parse_close_policy(POLICY_YAML),
                         ledger=partial(SQLiteLedger, {ledger!r}),
                         accounts=partial(SQLiteAccounts, {accounts!r}),
                         store=partial(SQLiteBillStore, {store!r}), batch_size=25)
        s = bill_run(job, processes=2, progress=False)
        print("DONE", s.bills, s.already_finished)
""")


def _finished(store_path: Path) -> int:
    try:
        store = SQLiteBillStore(store_path)
    except Exception:  # the store may be mid-creation
        return 0
    try:
        return len(store.finished_accounts(NOV.key))
    finally:
        store.close()


def test_kill_9_and_rerun_gives_exactly_one_bill_each(
    sqlite_sources: tuple[Path, Path, list[object]], tmp_path: Path
) -> None:
    ledger_path, accounts_path, accounts = sqlite_sources
    store_path = tmp_path / "bills.db"
    script = tmp_path / "run_bills.py"
    script.write_text(_RUNNER.format(tests=str(Path(__file__).parent), ledger=str(ledger_path),
                                     accounts=str(accounts_path), store=str(store_path)))
    log = (tmp_path / "first.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=log, stderr=log,
                            start_new_session=True)
    # wait until some (not all) accounts are finished, then kill -9 the whole process group
    deadline = time.monotonic() + 60
    done = 0
    rng = random.Random()
    target = rng.randint(30, 400)
    while time.monotonic() < deadline and proc.poll() is None:
        if store_path.exists():
            done = _finished(store_path)
            if done >= target:
                break
        time.sleep(0.01)
    if proc.poll() is not None:
        log.close()
        pytest.fail("the bill run ended before it was killed:\n"
                    + (tmp_path / "first.log").read_text())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    partial_done = _finished(store_path)
    assert 0 < partial_done < 600
    # rerun to completion in a fresh process
    rerun = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           timeout=120, check=True)
    assert rerun.stdout.startswith("DONE")
    store = SQLiteBillStore(store_path)
    counts = store.bill_counts(NOV.key)
    assert set(counts) == billable(accounts)  # type: ignore[arg-type]
    assert set(counts.values()) == {1}
    assert len(store.finished_accounts(NOV.key)) == 480  # finished = billed
    assert len(store.totals(NOV.key).skipped) == 120  # 60 + 60


def test_sqlite_ledger_reads_the_real_time_store_file(tmp_path: Path) -> None:
    from telcoflow.ledger import ChangeSet
    from telcoflow.stores.sqlite import SQLiteLedgerStore

    path = tmp_path / "ledger.db"
    store = SQLiteLedgerStore(path)
    changes = ChangeSet()
    changes.ledger[("A1", "S1", "voice", NOV.key, "EUR")] = [D("1.25"), D(60)]
    changes.ledger[("A2", "S2", "data", NOV.key, "EUR")] = [D("3.5"), D(100)]
    changes.ledger[("A2", "S2", "data", "2026-10-01", "EUR")] = [D("9"), D(1)]
    store.apply(changes)
    expected = store.lines(period=NOV.key)
    store.close()
    reader = SQLiteLedger(path)
    assert reader.lines(period=NOV.key) == expected
    batch = reader.lines_for_accounts(NOV.key, ["A1", "A2"])
    assert [ln.amount for ln in batch["A2"]] == [D("3.5")]
    assert batch["A1"] == [expected[0]]
    reader.close()


def test_sqlite_job_from_files(
    sqlite_sources: tuple[Path, Path, list[object]], tmp_path: Path
) -> None:
    from telcoflow.billing.cycle.policy import validate_policy_files
    from telcoflow.errors import DefinitionError
    from telcoflow.stores.sqlite import sqlite_job

    ledger_path, accounts_path, _ = sqlite_sources
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY_YAML, encoding="utf-8")
    assert len(validate_policy_files([policy])) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: close-policy\ncurrency: euro\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"bad\.yaml:1:1"):
        validate_policy_files([policy, bad])
    job = sqlite_job(policy=policy, ledger=ledger_path, accounts=accounts_path,
                     store=tmp_path / "bills.db", cycle_day=1, year=2026, month=11)
    summary = bill_run(job, shard="2/3", processes=1, progress=False)
    assert summary.shard == "2/3"
    assert 100 < summary.accounts < 300  # about a third of 600
    assert summary.bills + len(summary.skipped) == summary.accounts
