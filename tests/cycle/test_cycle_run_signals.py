"""Killing `telcoflow bill-run` (SIGTERM or SIGKILL of the parent only) leaves no pool worker
running; SIGTERM ends it cleanly (one line, exit 143); a rerun bills every account once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cycle_helpers import NOV, POLICY_YAML, billable, population

from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore, SQLiteLedger

ACCOUNTS = 40_000  # about 4 s of work on 2 processes: time to be killed in the middle
CLI = "from telcoflow.cli import console; console()"


def _pool_workers(pid: int) -> list[int]:
    """Pids of the live (not zombie) pool workers whose parent is ``pid`` (multiprocessing's
    resource tracker, a child too, is left out)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _billed(store_path: Path) -> int:
    if not store_path.exists():
        return 0
    try:
        store = SQLiteBillStore(store_path)
    except Exception:  # the store may be mid-creation
        return 0
    try:
        return len(store.finished_accounts(NOV.key))
    except Exception:
        return 0
    finally:
        store.close()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, set[str]]:
    folder = tmp_path_factory.mktemp("signals")
    accounts, lines = population(ACCOUNTS)
    ledger, directory = SQLiteLedger(folder / "ledger.db"), SQLiteAccounts(folder / "acc.db")
    ledger.write(lines)
    directory.write(accounts)
    ledger.close()
    directory.close()
    policy = folder / "policy.yaml"
    policy.write_text(POLICY_YAML, encoding="utf-8")
    return policy, folder / "ledger.db", folder / "acc.db", billable(accounts)


def _bill_run(sources: tuple[Path, Path, Path, set[str]], store: Path,
              processes: int = 2) -> subprocess.Popen[bytes]:
    """Start `telcoflow bill-run`; its output goes to files next to the store (a pipe would
    be held open by any worker that outlived the run)."""
    policy, ledger, accounts, _ = sources
    with store.with_suffix(".out").open("wb") as out, store.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-c", CLI, "bill-run", "--policy", str(policy), "--ledger",
             str(ledger), "--accounts", str(accounts), "--store", str(store), "--month",
             "2026-11", "--processes", str(processes), "--json"], stdout=out, stderr=err)


def _output(store: Path) -> tuple[str, str]:
    return (store.with_suffix(".out").read_text(encoding="utf-8"),
            store.with_suffix(".err").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("sig", "processes", "billed"), [
    (signal.SIGTERM, 2, 1000), (signal.SIGKILL, 2, 1000), (signal.SIGTERM, 1, 1000),
    (signal.SIGKILL, 2, 0)],
    ids=["SIGTERM-pool", "SIGKILL-pool", "SIGTERM-in-process", "SIGKILL-workers-starting"])
def test_killing_the_bill_run_parent_stops_its_workers_and_a_rerun_finishes(
        sources: tuple[Path, Path, Path, set[str]], tmp_path: Path, sig: signal.Signals,
        processes: int, billed: int) -> None:
    store = tmp_path / "bills.db"
    proc = _bill_run(sources, store, processes)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _pool_workers(proc.pid)
        if len(workers) == (processes if processes > 1 else 0) and _billed(store) >= billed:
            break  # billed 0: the workers may still be starting (importing, unpickling)
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"the bill run ended before it was killed: {_output(store)}")
    os.kill(proc.pid, sig)  # the parent only, not its process group
    # the run ends; it is *not* reaped yet (a supervisor may be slow to): a zombie whose pid
    # still answers os.kill, which must not keep a worker alive
    until = time.monotonic() + 60
    while _alive(proc.pid) and time.monotonic() < until:
        time.sleep(0.01)
    # every pool worker ends with its parent (within 10 s; in practice at once)
    until = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < until:
        time.sleep(0.05)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:  # do not leave them behind when the test fails
        os.kill(w, signal.SIGKILL)
    proc.wait(timeout=60)
    err = _output(store)[1]
    assert survivors == [], err
    if sig == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert err.strip().splitlines()[-1].startswith("bill run stopped by SIGTERM after ")
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    partial = _billed(store)
    assert billed <= partial < len(sources[3]), (partial, err)
    rerun = _bill_run(sources, store)
    assert rerun.wait(timeout=120) == 0, _output(store)
    summary = json.loads(_output(store)[0])
    # the rerun leaves what was billed before the kill and bills the rest
    assert summary["already_finished"] == partial, (summary, partial)
    assert summary["bills"] == len(sources[3]) - partial, (summary, partial)
    bills = SQLiteBillStore(store)
    try:
        counts = bills.bill_counts(NOV.key)
        assert set(counts) == sources[3]  # 40,000 - 4,000 no subscribers - 4,000 no charges
        assert set(counts.values()) == {1}
    finally:
        bills.close()


def test_a_hosts_own_sigterm_handler_is_left_alone(tmp_path: Path) -> None:
    """A host that handles SIGTERM itself keeps its handler during a run; without one, the run
    installs its own for its duration only."""
    from functools import partial

    from telcoflow.billing.cycle import (
        BillRunJob,
        MemoryAccounts,
        MemoryLedger,
        bill_run,
        parse_close_policy,
    )

    accounts, lines = population(20)
    during: list[object] = []

    def ledger() -> MemoryLedger:  # opened by the run: what handles SIGTERM now?
        during.append(signal.getsignal(signal.SIGTERM))
        return MemoryLedger(lines)

    job = BillRunJob(NOV, parse_close_policy(POLICY_YAML), ledger=ledger,
                     accounts=partial(MemoryAccounts, accounts),
                     store=partial(SQLiteBillStore, tmp_path / "a.db"))
    seen: list[int] = []

    def host(signum: int, frame: object) -> None:
        seen.append(signum)

    before = signal.signal(signal.SIGTERM, host)
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # the host's handler runs; no run to stop yet
        summary = bill_run(job, processes=1, progress=False)
        assert signal.getsignal(signal.SIGTERM) is host
    finally:
        signal.signal(signal.SIGTERM, before)
    assert seen == [signal.SIGTERM]
    assert during == [host]
    assert summary.bills == 16  # 20 accounts - 2 without subscribers - 2 without charges
    # no handler of the host's: the run's own while it runs, the default again afterwards
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        job = BillRunJob(NOV, job.policy, ledger=ledger, accounts=job.accounts,
                         store=partial(SQLiteBillStore, tmp_path / "b.db"))
        assert bill_run(job, processes=1, progress=False).bills == 16
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert during[-1] not in (signal.SIG_DFL, host)
    finally:
        signal.signal(signal.SIGTERM, before)
