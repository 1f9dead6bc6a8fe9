"""The bill run: close every account of a bill cycle day, sharded, resumable, with progress.

* **Sharded by account**: ``shard="I/N"`` (1-based, ``1/4`` .. ``4/4``) keeps the accounts whose
  CRC-32 of the id falls in shard I, so N independent jobs (machines, containers) cover every
  account exactly once; without a shard one job runs them all.
* **On a process pool**: the job's accounts are cut into batches of consecutive ids, closed and
  rendered (XML, HTML, optionally TMF678 JSON) by ``processes`` worker processes; ``processes=1``
  runs in the calling process.
* **Resumable**: each batch is claimed and written in one transaction of the job's
  :class:`~telcoflow.billing.cycle.store.BillStore`; a rerun skips finished accounts and redoes
  the batches that were in flight, so after a crash (even ``kill -9``) there is no bill twice and
  none missing.
* **Workers die with their run**: a pool process ends when the bill run's process ends, even
  by ``SIGKILL`` (``PR_SET_PDEATHSIG`` on Linux, a watch on the parent elsewhere); a
  ``SIGTERM`` to the run (when nothing else handles it) stops its workers and raises
  :class:`~telcoflow.errors.RunInterruptedError`; the batches in flight are rolled back and
  redone by the rerun.

Sources and the bill store are given as *factories* (``functools.partial(SQLiteLedger,
path)``; the SQLite ones are in :mod:`telcoflow.stores.sqlite`, whose ``sqlite_job`` builds a
whole job over SQLite files) so that each worker process opens its own connections;
with ``processes > 1`` they must be picklable.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from telcoflow._optional import requires
from telcoflow.billing.cycle.close import CycleCloser
from telcoflow.billing.cycle.model import Bill, BillCycle, SkippedAccount
from telcoflow.billing.cycle.policy import ClosePolicy
from telcoflow.billing.cycle.sources import AccountDirectory, LedgerReader, rows_by_account
from telcoflow.billing.cycle.store import BillStore, FinishedAccount
from telcoflow.catalog.model import Catalog
from telcoflow.errors import ArgumentError, RunInterruptedError, TelcoflowError

__all__ = ["BillRunJob", "BillRunSummary", "Shard", "bill_run", "close_batch"]

_FORMATS = frozenset({"xml", "html", "json"})


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): the accounts whose CRC-32 % count == index - 1.

    >>> Shard.parse("2/4")
    Shard(index=2, count=4)
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ArgumentError(
                f"shard must be I/N with 1 <= I <= N (got {self.index}/{self.count})")

    @classmethod
    def parse(cls, text: str | Shard) -> Shard:
        """Parse ``"I/N"``."""
        if isinstance(text, Shard):
            return text
        left, sep, right = text.partition("/")
        if not sep or not left.strip().isdigit() or not right.strip().isdigit():
            raise ArgumentError(f"shard must be written I/N, such as 1/4 (got {text!r})")
        return cls(int(left), int(right))

    def contains(self, account_id: str) -> bool:
        """Whether ``account_id`` belongs to this shard."""
        return self.count == 1 or zlib.crc32(account_id.encode()) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class BillRunJob:
    """What a bill run closes and where it writes (picklable when its factories are)."""

    cycle: BillCycle
    policy: ClosePolicy
    ledger: Callable[[], LedgerReader]
    accounts: Callable[[], AccountDirectory]
    #: opens the bill store the run writes to (each worker process opens its own)
    store: Callable[[], BillStore]
    formats: frozenset[str] = frozenset({"xml", "html"})
    batch_size: int = 500
    renderer_options: dict[str, Any] = field(default_factory=dict)
    #: the catalog closed against (default: the one the policy names, loaded per worker)
    catalog: Catalog | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - _FORMATS)
        if unknown:
            raise ArgumentError(f"formats must be among {sorted(_FORMATS)} (got {unknown})")
        if self.batch_size < 1:
            raise ArgumentError(f"batch_size must be >= 1 (got {self.batch_size})")


@dataclass(frozen=True)
class BillRunSummary:
    """What a run did (``bills``, ``skipped``, ``failed``, ``totals`` are this run's), and what
    the store holds for the cycle afterwards (``stored_bills``, ``stored_skipped``)."""

    cycle: str
    shard: str
    accounts: int
    already_finished: int
    bills: int
    skipped: tuple[SkippedAccount, ...]
    failed: tuple[tuple[str, str], ...]
    totals: dict[str, Decimal]
    lines: int
    duration_s: float
    stored_bills: int
    stored_skipped: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (amounts as strings)."""
        return {
            "cycle": self.cycle, "shard": self.shard, "accounts": self.accounts,
            "already_finished": self.already_finished, "bills": self.bills,
            "skipped": len(self.skipped),
            "skipped_by_reason": _count_reasons(self.skipped),
            "failed": [{"account": a, "error": e} for a, e in self.failed],
            "totals": {c: str(v) for c, v in sorted(self.totals.items())},
            "lines": self.lines, "duration_s": round(self.duration_s, 3),
            "stored_bills": self.stored_bills, "stored_skipped": self.stored_skipped,
        }

    def render(self) -> str:
        """A few human-readable lines."""
        totals = ", ".join(f"{v} {c}" for c, v in sorted(self.totals.items())) or "-"
        reasons = ", ".join(f"{r}: {n}" for r, n in _count_reasons(self.skipped).items()) or "-"
        out = [
            f"bill run {self.cycle} shard {self.shard}: {self.accounts} accounts, "
            f"{self.already_finished} already finished",
            f"  bills {self.bills} ({self.lines} lines), totals {totals}",
            f"  skipped {len(self.skipped)} ({reasons}), failed {len(self.failed)}",
            f"  duration {self.duration_s:.2f} s; store now holds {self.stored_bills} bills, "
            f"{self.stored_skipped} skipped accounts for the cycle",
        ]
        out.extend(f"  failed {a}: {e}" for a, e in self.failed[:20])
        return "\n".join(out)


def _count_reasons(skipped: Sequence[SkippedAccount]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in skipped:
        out[s.reason] = out.get(s.reason, 0) + 1
    return dict(sorted(out.items()))


@dataclass(slots=True)
class _Outcome:
    bills: int = 0
    lines: int = 0
    already: int = 0
    skipped: list[SkippedAccount] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)


class _Worker:
    """One process's open sources, store and renderers (built once per process)."""

    def __init__(self, job: BillRunJob) -> None:
        from telcoflow.billing.documents.tmf678 import bill_to_tmf678_json
        from telcoflow.billing.documents.xml import render_bill_xml

        self.job = job
        self.ledger = job.ledger()
        self.accounts = job.accounts()
        self.store = job.store()
        self.close = CycleCloser(job.policy, job.cycle, job.catalog)
        self.renderers: list[tuple[str, Callable[[Bill], bytes]]] = []
        issuer = job.policy.issuer  # on every format: XML, HTML and TMF678 JSON
        if "xml" in job.formats:
            self.renderers.append(("xml", lambda bill: render_bill_xml(bill, issuer=issuer)))
        if "html" in job.formats:
            from telcoflow.billing.documents.html import StatementRenderer

            statement = StatementRenderer(
                **{"issuer": issuer, **job.renderer_options})
            self.renderers.append(("html", lambda bill: statement.render(bill).encode("utf-8")))
        if "json" in job.formats:
            self.renderers.append(("json", lambda bill: bill_to_tmf678_json(
                bill, issuer=issuer).encode("utf-8")))

    def documents(self, bill: Bill) -> tuple[tuple[str, bytes], ...]:
        return tuple([(fmt, render(bill)) for fmt, render in self.renderers])

    def release(self) -> None:
        """Close what the worker opened: its bill store and both sources."""
        self.store.close()
        self.ledger.close()
        self.accounts.close()

    def run(self, account_ids: Sequence[str]) -> _Outcome:
        job = self.job
        out = _Outcome()
        ledger_rows = rows_by_account(self.ledger, job.cycle.key, account_ids)
        close = self.close.close_rows
        finished: list[FinishedAccount] = []
        for account in self.accounts.get_accounts(account_ids):
            try:
                result = close(account, ledger_rows.get(account.account_id, ()))
                if isinstance(result, SkippedAccount):
                    finished.append(FinishedAccount(account.account_id, None, result))
                else:
                    finished.append(FinishedAccount(account.account_id, result, None,
                                                    self.documents(result)))
            except RunInterruptedError:
                raise  # the run stops (the batch in hand is not written): a rerun resumes
            except TelcoflowError as exc:  # this account fails; the others are billed
                out.failed.append((account.account_id, str(exc)))
        already = self.store.write(job.cycle.key, finished)
        out.already = len(already)
        for f in finished:
            if f.account_id in already:
                continue
            if f.bill is not None:
                out.bills += 1
                out.lines += len(f.bill.lines)
                cur = f.bill.currency
                out.totals[cur] = out.totals.get(cur, Decimal(0)) + f.bill.total
            elif f.skipped is not None:
                out.skipped.append(f.skipped)
        return out


_WORKER: list[_Worker] = []  # the one worker of a pool process (set by the initializer)


#: Collect the youngest generation every this many allocations during a run instead of 700:
#: a bill run allocates a few hundred short-lived containers per account, nearly all acyclic.
_GC_GEN0 = 10_000


#: ``prctl`` option: the signal this process gets when its parent ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the pid reused by another user
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (not Linux): os.kill is all we know
        return True


def _watch_parent(alive: Callable[[], bool]) -> None:
    while alive():
        time.sleep(0.5)
    os._exit(1)


def _die_with_parent(parent: int, direct: bool) -> None:
    """End this pool process when the bill run's process ``parent`` ends, however it ends.

    ``direct``: this process was started by ``parent`` itself (spawn, fork), not by a fork
    server, so a parent that ended shows as a new parent pid.
    """
    # the run's process handles SIGINT / SIGTERM and stops its workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not direct:
        threading.Thread(target=_watch_parent, args=(partial(_pid_alive, parent),),
                         name="telcoflow-parent-watch", daemon=True).start()
        return
    if os.getppid() != parent:  # the run ended while this process was starting
        os._exit(1)
    # the kernel sends the signal when the *thread* that started this process ends: the pool
    # starts its processes from the thread that runs bill_run, which outlives the pool
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent ended before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(lambda: os.getppid() == parent,),
                     name="telcoflow-parent-watch", daemon=True).start()


def _init_worker(job: BillRunJob, parent: int | None = None, direct: bool = True) -> None:
    if parent is not None:
        _die_with_parent(parent, direct)
    _WORKER[:] = [_Worker(job)]
    # a pool process only runs batches: its imported modules, templates and sources live as
    # long as it does, so the collector need not scan them again; young garbage is rare
    gc.freeze()
    gc.set_threshold(_GC_GEN0, 20, 100)


class _fewer_collections:  # noqa: N801 - a context manager used like a function
    """Raise the collector's youngest threshold for the duration of an in-process run."""

    def __enter__(self) -> None:
        self.saved = gc.get_threshold()
        gc.set_threshold(max(_GC_GEN0, self.saved[0]), *self.saved[1:])

    def __exit__(self, *exc: object) -> None:
        gc.set_threshold(*self.saved)


def _run_batch(account_ids: Sequence[str]) -> _Outcome:
    return _WORKER[0].run(account_ids)


def close_batch(job: BillRunJob, account_ids: Sequence[str]) -> tuple[int, int]:
    """Close and write one batch of accounts in this process; return (written, already done)."""
    worker = _Worker(job)
    try:
        out = worker.run(account_ids)
    finally:
        worker.release()
    return out.bills + len(out.skipped), out.already


def _batches(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def bill_run(
    job: BillRunJob,
    *,
    shard: str | Shard | None = None,
    processes: int | None = None,
    progress: bool = True,
    mp_context: str = "spawn",
) -> BillRunSummary:
    """Run (or resume) the bill run of ``job``; return its summary.

    ``shard`` ``"I/N"`` runs one shard as an independent job; ``processes`` defaults to the CPU
    count (1 = in this process); ``progress`` shows a rich progress bar on stderr.
    """
    started = time.perf_counter()
    the_shard = Shard.parse(shard) if shard is not None else Shard(1, 1)
    cycle = job.cycle
    directory = job.accounts()
    try:
        ids = directory.account_ids(cycle.cycle_day)
    finally:
        directory.close()
    if the_shard.count > 1:
        ids = [a for a in ids if the_shard.contains(a)]
    store = job.store()
    finished = store.finished_accounts(cycle.key)
    todo = [a for a in ids if a not in finished]
    already = len(ids) - len(todo)
    batches = list(_batches(todo, job.batch_size))
    procs = max(1, min(processes or os.cpu_count() or 1, len(batches) or 1))
    total = _Outcome(already=already)

    def merge(o: _Outcome) -> None:
        total.bills += o.bills
        total.lines += o.lines
        total.already += o.already
        total.skipped.extend(o.skipped)
        total.failed.extend(o.failed)
        for cur, amount in o.totals.items():
            total.totals[cur] = total.totals.get(cur, Decimal(0)) + amount

    with _progress(progress, len(todo), f"bill run {cycle.key} {the_shard}") as advance, \
            _stop_on_sigterm(lambda: f"{total.bills + len(total.skipped)} of {len(todo)}"):
        if procs == 1:
            worker = _Worker(job)
            try:
                with _fewer_collections():
                    for batch in batches:
                        merge(worker.run(batch))
                        advance(len(batch))
            finally:
                worker.release()
        else:
            _check_picklable(job)
            ctx = multiprocessing.get_context(mp_context)
            direct = ctx.get_start_method() != "forkserver"
            with ProcessPoolExecutor(procs, mp_context=ctx, initializer=_init_worker,
                                     initargs=(job, os.getpid(), direct)) as pool, \
                    _stopping(pool):
                pending: dict[Future[_Outcome], int] = {}
                queue = iter(batches)
                for batch in queue:
                    pending[pool.submit(_run_batch, batch)] = len(batch)
                    if len(pending) >= procs * 3:
                        break
                while pending:
                    fut = next(iter(_first_done(pending)))
                    size = pending.pop(fut)
                    merge(fut.result())
                    advance(size)
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(_run_batch, nxt)] = len(nxt)

    stored = store.totals(cycle.key)
    store.close()
    return BillRunSummary(
        cycle=cycle.key, shard=str(the_shard), accounts=len(ids), already_finished=total.already,
        bills=total.bills, skipped=tuple(total.skipped), failed=tuple(total.failed),
        totals=total.totals, lines=total.lines, duration_s=time.perf_counter() - started,
        stored_bills=stored.bills, stored_skipped=len(stored.skipped))


class _stopping:  # noqa: N801 - a context manager used like a function
    """On any exception (an interruption, a failed batch), kill the pool's processes at once
    instead of waiting for their batches: a batch in flight is rolled back, the rerun redoes
    it."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            return
        # the pool's own processes: there is no public way to reach them before Python 3.14
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.kill()
        for proc in processes:
            proc.join(timeout=10)


class _stop_on_sigterm:  # noqa: N801 - a context manager used like a function
    """Turn a ``SIGTERM`` into :class:`RunInterruptedError` for the run's duration, when the
    run is in the main thread and nothing else handles ``SIGTERM`` (a host's own handler is
    left alone)."""

    def __init__(self, done: Callable[[], str]) -> None:
        self.done = done
        self.saved: Any = None

    def _raise(self, signum: int, frame: object) -> None:
        raise RunInterruptedError(
            f"bill run stopped by {signal.Signals(signum).name} after {self.done()} accounts; "
            "what was finished is stored and a rerun resumes", signal=signum)

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self.saved = signal.signal(signal.SIGTERM, self._raise)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            signal.signal(signal.SIGTERM, self.saved)


def _check_picklable(job: BillRunJob) -> None:
    try:
        pickle.dumps(job)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise ArgumentError(
            "a bill run on several processes sends its job to each worker, so the job must be "
            "picklable: give `ledger`, `accounts` and `store` as "
            "functools.partial(SQLiteLedger, path) and the like, not lambdas or local "
            f"functions ({exc})") from exc


def _first_done(pending: dict[Future[_Outcome], int]) -> set[Future[_Outcome]]:
    from concurrent.futures import FIRST_COMPLETED, wait

    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    return done


class _progress:  # noqa: N801 - a context manager used like a function
    """A rich progress bar on stderr (or nothing) yielding an ``advance(n)`` callable."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled = enabled
        self.total = total
        self.label = label
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        with requires("billing", "the bill run's progress display"):
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TimeRemainingColumn(),
                             console=Console(stderr=True))
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=self.total)
        bar, task = self._bar, self._task
        return lambda n: bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
