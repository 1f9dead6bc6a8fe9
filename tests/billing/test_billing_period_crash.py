"""kill -9 of a writer rating tiered usage into SQLite, then a replay: the period stays exact."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal as Dec
from pathlib import Path

import pytest

WRITER = textwrap.dedent('''
    import sys
    from datetime import datetime, timedelta
    from decimal import Decimal
    from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
    from telcoflow.billing.realtime import RealtimeBilling, default_graph
    from telcoflow.events import UsageEvent
    from telcoflow.loading.catalog import parse_catalog
    from telcoflow.rating.catalog_rater import CatalogRater
    from telcoflow.stores.sqlite import SQLiteLedgerStore

    catalog = parse_catalog("""
    kind: catalog
    id: crash
    currency: EUR
    tax_categories:
      - {id: telecom, rates: [{jurisdiction: NV, percent: 0}]}
    tariffs:
      - id: data
        service: data
        unit: MB
        price:
          model: graduated
          tiers:
            - {up_to: 1000, unit_price: 0.02, flat_fee: 1.00}
            - {up_to: 5000, unit_price: 0.01}
            - {unit_price: 0.005}
    offerings:
      - {id: p, kind: postpaid, prices: [{price_type: usage, id: data, tariff: data}]}
    """)
    acct = AccountProfile("a")
    profiles = DictProfiles([acct], [SubscriberProfile("s", acct, "p")])
    billing = RealtimeBilling(SQLiteLedgerStore(sys.argv[1]),
                              default_graph(profiles, CatalogRater(catalog)))
    start = datetime(2026, 11, 2)
    events = [UsageEvent(f"e{n}", "s", "a", "data", start + timedelta(seconds=n),
                         Decimal(7 + n % 13)) for n in range(3000)]
    for i in range(0, len(events), 3):
        billing.process(events[i:i + 3])
    print("done", flush=True)
''')


def _claimed(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM claims").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_mid_stream_then_replay_gives_the_price_of_the_total(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    log_path = tmp_path / "writer.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=log,
                                stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while _claimed(db) < 600 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.fail("the writer ended before it was killed: "
                        + log_path.read_text(encoding="utf-8", errors="replace"))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # restart: the whole stream again (replays of claimed events are no-ops)
    rerun = subprocess.run([sys.executable, str(script), str(db)], capture_output=True,
                           text=True, timeout=100, check=False)
    assert rerun.returncode == 0, rerun.stderr
    from telcoflow.stores.sqlite import SQLiteLedgerStore

    store = SQLiteLedgerStore(db)
    try:
        total = sum((ln.amount for ln in store.lines() if ln.item_type == "data"), Dec(0))
    finally:
        store.close()
    # units: sum of 7 + n % 13 for n < 3000 = 3000 x 7 + (230 full cycles x 78 + (0..9) 45)
    #      = 21000 + 17940 + 45 = 38,985 MB
    # price: 1.00 + 1000 x 0.02 + 4000 x 0.01 + 33,985 x 0.005 = 1 + 20 + 40 + 169.925
    assert total == Dec("230.925")


def test_a_reader_of_the_ledger_table_sees_every_committed_event(tmp_path: Path) -> None:
    """The writer dies between checkpoints: the bill run's reader folds the journal first."""
    import gc

    from telcoflow.stores.sqlite import SQLiteLedger, SQLiteLedgerStore, pending_claims

    db = tmp_path / "ledger.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.replace("range(3000)", "range(30)"), encoding="utf-8")
    # the writer commits 10 batches (checkpoint every 50) and exits without closing the store
    script.write_text(script.read_text(encoding="utf-8").replace(
        'print("done", flush=True)', 'import os; os._exit(0)'), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(db)], capture_output=True,
                          text=True, timeout=100, check=False)
    assert done.returncode == 0, done.stderr
    assert pending_claims(db) == 30
    reader = SQLiteLedger(db)
    # 30 events: sum of 7 + n % 13 for n < 30 = 210 + 2 x (0..12) 78 + (0..3) 6 = 372 MB
    # 1.00 flat + 372 x 0.02 = 8.44
    assert sum((ln.amount for ln in reader.lines()), Dec(0)) == Dec("8.44")
    assert pending_claims(db) == 0
    del reader
    gc.collect()
    store = SQLiteLedgerStore(db)  # and the writer's store reopens on the same state
    assert sum((ln.amount for ln in store.lines()), Dec(0)) == Dec("8.44")
    store.close()


def _replaced(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


# the same tariff, 8 accounts (one subscriber each, events round robin); argv[2], when given,
# is a file of the event ids to process (the reference run), else the whole stream
WRITER_MANY = _replaced(
    WRITER,
    ('acct = AccountProfile("a")\n'
     'profiles = DictProfiles([acct], [SubscriberProfile("s", acct, "p")])\n',
     'accts = [AccountProfile(f"a{k}") for k in range(8)]\n'
     'profiles = DictProfiles(accts, [SubscriberProfile(f"s{k}", a, "p")\n'
     '                                for k, a in enumerate(accts)])\n'),
    ('events = [UsageEvent(f"e{n}", "s", "a", "data",',
     'events = [UsageEvent(f"e{n}", f"s{n % 8}", f"a{n % 8}", "data",'),
    ("for n in range(3000)]\n",
     "for n in range(3000)]\n"
     "if len(sys.argv) > 2:\n"
     "    keep = set(open(sys.argv[2], encoding='utf-8').read().split())\n"
     "    events = [e for e in events if e.id in keep]\n"))

CLOSE_POLICY = """\
kind: close-policy
currency: EUR
payment_terms_days: 14
catalog: [catalog.yaml]
"""
#: the writer's catalog, which the close policy names (prices and taxes have one source)
CATALOG = WRITER.split('parse_catalog("""')[1].split('""")')[0]


def _bill_run_cli(folder: Path, ledger: Path, store: Path) -> dict[str, object]:
    """`telcoflow bill-run` of November 2026 over ``ledger``, in a process of its own."""
    import json

    run = subprocess.run(
        [sys.executable, "-c", "from telcoflow.cli import console; console()", "bill-run",
         "--policy", str(folder / "policy.yaml"), "--ledger", str(ledger), "--accounts",
         str(folder / "accounts.db"), "--store", str(store), "--month", "2026-11",
         "--processes", "2", "--json"], capture_output=True, text=True, timeout=120,
        check=False)
    assert run.returncode == 0, run.stderr
    summary: dict[str, object] = json.loads(run.stdout)
    return summary


def _bills(store_path: Path) -> dict[str, bytes]:
    """Each stored bill of November 2026 as its XML document, by account."""
    from telcoflow.stores.sqlite import SQLiteBillStore

    store = SQLiteBillStore(store_path)
    try:
        return dict(store.documents("2026-11-01", "xml"))
    finally:
        store.close()


def test_kill_9_of_the_writer_then_the_bill_run_at_once_bills_what_was_committed(
        tmp_path: Path) -> None:
    """The writer dies mid-stream (most of its commits not yet in the ledger table); the bill
    run started at once over the same file bills exactly the committed events: the same bills
    as an uninterrupted writer given those events."""
    from telcoflow.billing.cycle import BillingAccount, Subscription
    from telcoflow.stores.sqlite import SQLiteAccounts, pending_claims

    (tmp_path / "policy.yaml").write_text(CLOSE_POLICY, encoding="utf-8")
    (tmp_path / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    directory = SQLiteAccounts(tmp_path / "accounts.db")
    directory.write([BillingAccount(f"a{k}", f"Customer {k}", "EUR",
                                    subscriptions=(Subscription(f"s{k}", "p"),))
                     for k in range(8)])
    directory.close()
    db = tmp_path / "ledger.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER_MANY, encoding="utf-8")
    with (tmp_path / "writer.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=log,
                                stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _claimed(db) >= 700:
                # freeze the writer, and kill it only at a moment with committed claims the
                # ledger table does not hold yet (else let it run to its next such moment)
                os.killpg(proc.pid, signal.SIGSTOP)
                if pending_claims(db) > 0:
                    break
                os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.fail("the writer ended before it was killed: "
                        + (tmp_path / "writer.log").read_text(encoding="utf-8", errors="replace"))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    committed = _claimed(db)
    assert 700 <= committed < 3000
    assert pending_claims(db) > 0  # committed events the ledger table does not hold yet
    crashed = _bill_run_cli(tmp_path, db, tmp_path / "bills.db")
    # every account had committed events (round robin over 8 accounts): 8 bills, none skipped
    assert (crashed["bills"], crashed["skipped"], crashed["failed"]) == (8, 0, [])
    with sqlite3.connect(db) as conn:
        ids = sorted(r[0] for r in conn.execute("SELECT event_id FROM claims"))
    assert len(ids) == committed  # the bill run's reader folded the journal, lost nothing
    # the reference: an uninterrupted writer given exactly the committed events
    (tmp_path / "ids.txt").write_text("\n".join(ids), encoding="utf-8")
    ref_db = tmp_path / "reference.db"
    ref = subprocess.run([sys.executable, str(script), str(ref_db), str(tmp_path / "ids.txt")],
                         capture_output=True, text=True, timeout=100, check=False)
    assert ref.returncode == 0, ref.stderr
    reference = _bill_run_cli(tmp_path, ref_db, tmp_path / "reference-bills.db")
    assert reference["totals"] == crashed["totals"]
    got, want = _bills(tmp_path / "bills.db"), _bills(tmp_path / "reference-bills.db")
    assert sorted(got) == [f"a{k}" for k in range(8)]
    assert got == want  # every bill, line by line and to the cent: the same XML, byte for byte
    totals = crashed["totals"]
    assert isinstance(totals, dict)
    # 8 bills of at least the 10.00 plan fee + 20% tax = 12.00 each, plus usage
    assert Dec(totals["EUR"]) > 8 * Dec("12.00")
