"""Bill run benchmark: close 1,000,000 accounts (``--quick``: 20,000) with XML and HTML bills.

Setup (not timed): a ledger in the real-time store's SQLite format (table ``ledger`` of
``telcoflow.stores.sqlite.SQLiteLedgerStore``, rows written directly: that store keeps every
line in memory, too much at this size) and a billing-account directory, priced by a small
catalog (plan fees posted as the real-time path posts them, taxes and discounts from the
catalog). Of every 25 accounts: 1 has no subscribers and 1 no charges (both get no
document), 1 is prepaid (a statement), 1 is a corporate payer (a payer document listing its
members), the rest get bills.

Timed: ``bill_run`` on a process pool of 2 (this machine's cores): read ledger batches, close
(catalog discounts, taxes by the catalog's rule, split, balance, position), render XML + HTML,
claim-and-write every batch in SQLite (documents stored as rendered, uncompressed).

Baseline (same run): the naive close, which re-reads and re-aggregates every raw rated event
of an account (about 1,700 per subscriber, one query per account) instead of reading the
ledger, then closes, renders and writes through the very same bill run code. It runs in one
process on a block of consecutive accounts (1,000; ``--quick``: 300), next
to the ledger close on the same subset, and its time is extrapolated linearly to the full
population on 2 processes (ideal scaling: favourable to the baseline). Peak RSS is printed for
the parent and the largest worker; CPU time is printed because this machine is shared (wall
times move with the other load).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path

from telcoflow.billing.cycle import (
    BillCycle,
    BillingAccount,
    BillRunJob,
    ClosePolicy,
    Member,
    PayerRule,
    Subscription,
    bill_run,
    parse_close_policy,
)
from telcoflow.billing.cycle.sources import account_to_json
from telcoflow.billing.documents import validate_bill_xml
from telcoflow.ledger import LedgerLine
from telcoflow.stores.sqlite import SQLiteAccounts, SQLiteBillStore, SQLiteLedger

#: The catalog closed against: plan fees (posted to the ledger in real time, as the rows
#: below are), tax categories and rates, discounts.
CATALOG = """
kind: catalog
currency: EUR
tax_defaults: {category: telecom, jurisdiction: default}
tax_categories:
  - id: telecom
    rates: [{jurisdiction: "*", percent: 20}, {jurisdiction: ES-CN, percent: 7}]
  - id: digital
    rates: [{jurisdiction: "*", percent: 10}, {jurisdiction: ES-CN, percent: 7}]
tariffs:
  - {id: slice, service: slice, unit: hour, price: {model: per_unit, unit_price: 1.00},
     tax_category: digital}
offerings:
  - {id: basic, name: 5G Basic, prices: [{price_type: recurring, id: plan, amount: 19.99},
                                          {price_type: usage, id: slice, tariff: slice}]}
  - {id: family, name: 5G Family, prices: [{price_type: recurring, id: plan, amount: 39.99},
                                            {price_type: usage, id: slice, tariff: slice}]}
  - {id: max, name: 5G Max, prices: [{price_type: recurring, id: plan, amount: 59.99},
                                      {price_type: usage, id: slice, tariff: slice}]}
discounts:
  - {id: data-10, kind: percentage, percent: 10, cap: 5.00, name: "10% off usage",
     applies_to: {price_types: [usage]}}
  - {id: welcome, kind: fixed, amount: 5.00, coupon_code: W5, name: Welcome coupon}
"""
POLICY = """
kind: close-policy
currency: EUR
catalog: catalog.yaml
"""
FEES = {"basic": Decimal("19.99"), "family": Decimal("39.99"), "max": Decimal("59.99")}
CYCLE = BillCycle.for_month(1, 2026, 11)
PERIOD = CYCLE.key
PLANS = ("basic", "basic", "family", "max")
D0 = Decimal(0)
LOCALES = ("en_GB", "en_GB", "en_GB", "de_DE", "fr_FR")
#: Raw rated events per ledger line in a month: calls, data records (interim CDRs every
#: 15 minutes of a session or per volume threshold), messages, slice sessions; about 1,700
#: per subscriber.
EVENTS_PER_LINE = {"voice": 150, "data": 1500, "sms": 60, "slice": 20, "recurring": 1}


def _fee_row(aid: str, s: Subscription) -> tuple[str, ...]:
    """The plan fee the real-time path posts for ``s`` (prorated from a mid-cycle start)."""
    fee = FEES[s.plan_id]
    if s.start is not None:
        fee = (fee * s.days_held(CYCLE) / CYCLE.days).quantize(Decimal("0.01"))
    return (aid, s.subscriber_id, "recurring", PERIOD, "EUR", str(fee), "1")


def _account(i: int, rng: random.Random) -> tuple[BillingAccount, list[tuple[str, ...]]]:
    """Account i and its ledger rows (store format: 7 text columns).

    Every 25 accounts: one with nothing (no subscriber, no ledger line: skipped), one idle
    (skipped: no charges), one prepaid (a statement: top-ups, usage and fee paid from the
    balance), one corporate payer (a payer document: the plan fees the split moved to it,
    per member), the rest postpaid bills.
    """
    aid = f"ACC{i:08d}"
    kind = i % 25
    if kind == 0:
        return BillingAccount(aid, f"Customer {i}", "EUR"), []
    if kind == 3:  # a corporate payer: the fees of the next 3 accounts' first subscribers
        members = tuple(Member(f"ACC{j:08d}", (f"ACC{j:08d}-0",)) for j in (i + 1, i + 2, i + 3))
        acc = BillingAccount(aid, f"Corporate {i}", "EUR", members=members,
                             address=(f"{i % 900 + 1} High Street", "Springfield"))
        return acc, [(aid, m.subscribers[0], "recurring", PERIOD, "EUR", "39.99", "1")
                     for m in members]
    n_subs = 1 if rng.random() < 0.7 else (2 if rng.random() < 0.83 else 3)
    start = date(2026, 11, rng.randint(2, 28)) if rng.random() < 0.05 else None
    subs = tuple(Subscription(f"{aid}-{s}", rng.choice(PLANS), start=start if s == 0 else None)
                 for s in range(n_subs))
    prepaid = kind == 2
    acc = BillingAccount(
        aid, f"Customer {i}", "EUR", subscriptions=subs,
        jurisdiction="ES-CN" if rng.random() < 0.1 else "default",
        locale=rng.choice(LOCALES),
        previous_balance=Decimal(rng.randint(0, 5000)) / 100,
        payments=Decimal(rng.randint(0, 5000)) / 100,
        coupons=("W5",) if rng.random() < 0.03 else (),
        payers=(PayerRule("CORP-1", frozenset({"recurring", "data"}), Decimal("40.00")),)
        if rng.random() < 0.05 and not prepaid else (),
        address=(f"{i % 900 + 1} High Street", "Springfield"),
        prepaid=prepaid, opening_balance=Decimal(rng.randint(0, 3000)) / 100 if prepaid else D0,
        top_ups=Decimal(rng.randint(0, 10)) * 10 if prepaid else D0)
    if kind == 1:
        return acc, []
    rows: list[tuple[str, ...]] = [_fee_row(aid, s) for s in subs]
    for s in subs:
        sub = s.subscriber_id
        rows.append((aid, sub, "voice", PERIOD, "EUR", f"{rng.randint(0, 3000) / 100:.2f}",
                     str(rng.randint(60, 30000))))
        rows.append((aid, sub, "data", PERIOD, "EUR", f"{rng.randint(0, 4000) / 100:.4f}",
                     str(rng.randint(10, 50000))))
        if rng.random() < 0.6:
            rows.append((aid, sub, "sms", PERIOD, "EUR", f"{rng.randint(0, 500) / 100:.2f}",
                         str(rng.randint(1, 200))))
        if rng.random() < 0.1:
            rows.append((aid, sub, "slice", PERIOD, "EUR", f"{rng.randint(100, 900) / 100:.2f}",
                         str(rng.randint(1, 12))))
    return acc, rows


def prepare(workdir: Path, n: int, seed: int = 7) -> tuple[Path, Path, int]:
    """Write the ledger and the account directory; return their paths and the row count."""
    ledger_path, accounts_path = workdir / "ledger.db", workdir / "accounts.db"
    SQLiteLedger(ledger_path).close()
    SQLiteAccounts(accounts_path).close()
    rng = random.Random(seed)
    lconn = sqlite3.connect(ledger_path, isolation_level=None)
    aconn = sqlite3.connect(accounts_path, isolation_level=None)
    for c in (lconn, aconn):
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=OFF")
    rows_total = 0
    step = 20_000
    for lo in range(0, n, step):
        accounts: list[tuple[str, int, str]] = []
        rows: list[tuple[str, ...]] = []
        for i in range(lo, min(n, lo + step)):
            acc, acc_rows = _account(i, rng)
            accounts.append((acc.account_id, acc.cycle_day, account_to_json(acc)))
            rows.extend(acc_rows)
        lconn.execute("BEGIN")
        lconn.executemany("INSERT INTO ledger VALUES (?,?,?,?,?,?,?)", rows)
        lconn.execute("COMMIT")
        aconn.execute("BEGIN")
        aconn.executemany("INSERT INTO billing_accounts VALUES (?,?,?)", accounts)
        aconn.execute("COMMIT")
        rows_total += len(rows)
    lconn.close()
    aconn.close()
    return ledger_path, accounts_path, rows_total


def _split(amount: Decimal, quantity: int, parts: int) -> Iterator[tuple[Decimal, int]]:
    """``parts`` raw events whose amounts and quantities sum exactly to the ledger line."""
    each = (amount / parts).quantize(Decimal("0.0001"))
    q_each = quantity // parts
    for p in range(parts - 1):
        yield each, q_each
        del p
    yield amount - each * (parts - 1), quantity - q_each * (parts - 1)


def prepare_raw_events(
    workdir: Path, ledger_path: Path, account_ids: list[str]
) -> tuple[Path, int]:
    """Raw rated events of ``account_ids`` (every ledger line split into its events)."""
    path = workdir / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE raw_events (event_id TEXT PRIMARY KEY, account TEXT NOT NULL, "
                 "subscriber TEXT NOT NULL, item_type TEXT NOT NULL, period TEXT NOT NULL, "
                 "currency TEXT NOT NULL, amount TEXT NOT NULL, quantity TEXT NOT NULL)")
    conn.execute("CREATE INDEX raw_events_account ON raw_events (account, period)")
    ledger = SQLiteLedger(ledger_path)
    events: list[tuple[str, ...]] = []
    for lines in ledger.lines_for_accounts(PERIOD, account_ids).values():
        for ln in lines:
            parts = EVENTS_PER_LINE.get(ln.item_type, 5)
            for k, (amount, qty) in enumerate(_split(ln.amount, int(ln.quantity), parts)):
                events.append((f"{ln.account}/{ln.subscriber}/{ln.item_type}/{k}", ln.account,
                               ln.subscriber, ln.item_type, PERIOD, "EUR", str(amount),
                               str(qty)))
    ledger.close()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO raw_events VALUES (?,?,?,?,?,?,?,?)", events)
    conn.execute("COMMIT")
    conn.close()
    return path, len(events)


class RawEventLedger:
    """The naive close's ledger: for each account, re-read and re-aggregate every raw rated
    event (one query per account, Decimal sums in Python) instead of reading ledger lines."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path)

    def lines(self, *, account: str | None = None, period: str | None = None) -> list[LedgerLine]:
        sums: dict[tuple[str, str], list[Decimal]] = {}
        for sub, item, amount, qty in self._conn.execute(
                "SELECT subscriber, item_type, amount, quantity FROM raw_events "
                "WHERE account=? AND period=?", (account, period)):
            s = sums.get((sub, item))
            if s is None:
                sums[(sub, item)] = [Decimal(amount), Decimal(qty)]
            else:
                s[0] += Decimal(amount)
                s[1] += Decimal(qty)
        return [LedgerLine(account or "", sub, item, period or "", "EUR", a, q)
                for (sub, item), (a, q) in sums.items()]


def subset_run(ledger: object, accounts_path: Path, workdir: Path, account_ids: list[str],
               name: str) -> tuple[float, float]:
    """The bill run (close, XML + HTML, claim-and-write) over ``account_ids`` in this process
    with ``ledger`` (a picklable factory); return (wall, CPU) seconds."""
    subset = workdir / f"{name}-accounts.db"
    if not subset.exists():
        source, target = SQLiteAccounts(accounts_path), SQLiteAccounts(subset)
        target.write(source.get_accounts(account_ids))
        source.close()
        target.close()
    job = BillRunJob(CYCLE, _policy(workdir), ledger=ledger,  # type: ignore[arg-type]
                     accounts=partial(SQLiteAccounts, subset),
                     store=partial(SQLiteBillStore, workdir / f"{name}.db"),
                     batch_size=1000)
    cpu0 = time.process_time()
    summary = bill_run(job, processes=1, progress=False)
    cpu = time.process_time() - cpu0
    assert summary.bills + len(summary.skipped) == len(account_ids)
    return summary.duration_s, cpu


def _kinds(store_path: Path) -> dict[str, int]:
    """Stored documents by kind (read from their XML: ``kind=`` on the root, else a bill)."""
    store = SQLiteBillStore(store_path)
    counts: dict[str, int] = {}
    for _, doc in store.documents(CYCLE.key, "xml"):
        head = doc[:400]
        kind = ("statement" if b'kind="statement"' in head
                else "payer" if b'kind="payer"' in head else "bill")
        counts[kind] = counts.get(kind, 0) + 1
    store.close()
    return counts


def _policy(workdir: Path) -> ClosePolicy:
    """The close policy, its catalog written next to it (each worker loads it once)."""
    (workdir / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    return parse_close_policy(POLICY, base=workdir)


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 accounts")
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--baseline-accounts", type=int, default=None)
    args = parser.parse_args()
    n = args.accounts or (20_000 if args.quick else 1_000_000)
    k = args.baseline_accounts or (300 if args.quick else 1_000)
    workdir = Path(tempfile.mkdtemp(prefix="telcoflow-bill-run-"))
    try:
        t0 = time.perf_counter()
        ledger_path, accounts_path, rows = prepare(workdir, n)
        print(f"prepared {n:,} accounts, {rows:,} ledger rows in {time.perf_counter() - t0:.1f} s"
              f" (not timed)", flush=True)

        job = BillRunJob(CYCLE, _policy(workdir),
                         ledger=partial(SQLiteLedger, ledger_path),
                         accounts=partial(SQLiteAccounts, accounts_path),
                         store=partial(SQLiteBillStore, workdir / "bills.db"), batch_size=1000)
        cpu0 = os.times()
        summary = bill_run(job, processes=args.processes, progress=sys.stderr.isatty())
        cpu1 = os.times()
        cpu = (cpu1.user + cpu1.system + cpu1.children_user + cpu1.children_system
               - cpu0.user - cpu0.system - cpu0.children_user - cpu0.children_system)
        print(summary.render(), flush=True)
        kinds = _kinds(workdir / "bills.db")
        print("documents by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())),
              flush=True)
        seconds = summary.duration_s
        assert summary.bills + len(summary.skipped) == n, "every account finished once"
        parent_mb, worker_mb = _rss_mb(resource.RUSAGE_SELF), _rss_mb(resource.RUSAGE_CHILDREN)
        print(f"bill run: {n:,} accounts in {seconds:.1f} s = {n / seconds:,.0f} accounts/s; "
              f"peak RSS parent {parent_mb:.0f} MB, largest worker {worker_mb:.0f} MB "
              f"(total <= {parent_mb + args.processes * worker_mb:.0f} MB)", flush=True)
        print(f"CPU time of the run (parent + workers): {cpu:.1f} s = {cpu / n * 1e6:.0f} us per "
              f"account; on {args.processes} idle cores that is >= {cpu / args.processes:.1f} s "
              f"(this machine is shared: load average {os.getloadavg()[0]:.1f})", flush=True)
        store = SQLiteBillStore(workdir / "bills.db")
        checked = 0
        for _, doc in store.documents(CYCLE.key, "xml"):
            validate_bill_xml(doc)
            checked += 1
            if checked >= 200:
                break
        store.close()
        db_mb = (workdir / "bills.db").stat().st_size / 2**20
        print(f"validated {checked} stored XML bills against bill.xsd; bill store {db_mb:.0f} MB")

        directory = SQLiteAccounts(accounts_path)
        all_ids = directory.account_ids(1)
        directory.close()
        # a contiguous block from the middle: the population's mix repeats every 25 accounts
        ids = all_ids[len(all_ids) // 2:len(all_ids) // 2 + k]
        raw_path, events = prepare_raw_events(workdir, ledger_path, ids)
        naive, naive_cpu = subset_run(partial(RawEventLedger, str(raw_path)), accounts_path,
                                      workdir, ids, "naive")
        fast, fast_cpu = subset_run(partial(SQLiteLedger, ledger_path), accounts_path, workdir,
                                    ids, "ledger")
        m = len(ids)
        extrapolated = naive / m * n / args.processes
        print(f"same {m:,} accounts in one process: ledger close {fast:.2f} s (CPU "
              f"{fast_cpu / m * 1e6:.0f} us/account); naive close re-aggregating {events:,} raw "
              f"events {naive:.2f} s (CPU {naive_cpu / m * 1e6:.0f} us/account)")
        print(f"baseline: naive close extrapolated to {n:,} accounts on {args.processes} "
              f"processes (linear, ideal scaling): {extrapolated:.1f} s")
        print(json.dumps({"benchmark": "bill_run", "value": round(seconds, 2), "unit": "s",
                          "baseline_name": "naive_close_reaggregating_raw_events_extrapolated",
                          "baseline": round(extrapolated, 2)}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
