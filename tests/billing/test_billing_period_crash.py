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
    from telcoflow.billing.profiles import AccountProfile, DictProfiles, SubscriberProfile
    from telcoflow.billing.realtime import RealtimeBilling, default_graph
    from telcoflow.events import UsageEvent
    from telcoflow.loading.catalog import parse_catalog
    from telcoflow.rating.catalog_rater import CatalogRater
    from telcoflow.stores import SQLiteLedgerStore

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
    billing = RealtimeBilling(default_graph(profiles, CatalogRater(catalog)),
                              SQLiteLedgerStore(sys.argv[1]))
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
    from telcoflow.stores import SQLiteLedgerStore

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

    from telcoflow.billing.cycle.sources import SqliteLedger
    from telcoflow.stores import SQLiteLedgerStore
    from telcoflow.stores.sqlite import pending_claims

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
    reader = SqliteLedger(db)
    # 30 events: sum of 7 + n % 13 for n < 30 = 210 + 2 x (0..12) 78 + (0..3) 6 = 372 MB
    # 1.00 flat + 372 x 0.02 = 8.44
    assert sum((ln.amount for ln in reader.lines()), Dec(0)) == Dec("8.44")
    assert pending_claims(db) == 0
    del reader
    gc.collect()
    store = SQLiteLedgerStore(db)  # and the writer's store reopens on the same state
    assert sum((ln.amount for ln in store.lines()), Dec(0)) == Dec("8.44")
    store.close()
