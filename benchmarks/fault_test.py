"""Fault test: workers on Redis Streams + PostgreSQL, killed and cut, still bill exactly once.

4 worker processes (``python -m telcoflow.worker``) consume 200,000 events of a synthetic
5G month (plus injected bad events) from the Redis Streams bus into a PostgreSQL ledger
while this script

- kills a worker with SIGKILL at random moments, several times, and restarts it (under the
  same name, or a new one so that the living must reclaim its pending entries);
- restarts Redis once (``redis-cli shutdown nosave``: the streams are lost; the producer
  re-publishes what the ledger has not durably processed). That Redis is the run's own
  ``redis-server`` (:class:`OwnRedis`: a free port, its own temporary data folder), started
  for the run and stopped after it; the machine's shared Redis (6379) is never touched;
- cuts the workers' PostgreSQL connections once (``pg_terminate_backend`` of the connections
  whose ``application_name`` is the run's own: other clients of the shared server are left
  alone; the run's tables live in a schema of their own, dropped at the end).

Then the ledger must equal, line by line and to the cent, the ledger of the same events
processed once in one process (memory store); every rejected event must be in the dead
letters with its reason; nothing charged twice (claims = distinct accepted ids).

Usage: python benchmarks/fault_test.py [--quick]   (exit status 1 if anything differs)
The last line is the JSON result: events/s under faults, and the one-process memory run as
the baseline. ``run_fault_test`` is also used (smaller, without the Redis restart) by
``tests/scaleout/test_scaleout_fault.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg

from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.bus import BusResetError, BusUnavailableError, Message, billing_message
from telcoflow.bus.codec import body_fingerprint
from telcoflow.bus.redis_streams import RedisStreamBus
from telcoflow.demo.generator import generate_events, generate_population
from telcoflow.errors import StoreError
from telcoflow.events import Event, UsageEvent, fingerprint
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.postgres import PostgresLedgerStore

PG_URL = os.environ.get("TELCOFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TELCOFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass
class FaultReport:
    """What happened and whether the ledger came out exact."""

    events: int
    seconds: float
    reference_seconds: float
    faults: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    republished: int = 0
    lines: int = 0
    dead_letters: int = 0
    ledger_total: Decimal = Decimal(0)

    @property
    def ok(self) -> bool:
        """True when the ledger, claims and dead letters are exactly as expected."""
        return not self.problems


def bad_events(events: list[Event]) -> tuple[list[Event], list[Message], dict[str, str]]:
    """Events and raw messages to inject, and the dead-letter reason expected per id."""
    usage = [e for e in events if type(e) is UsageEvent]
    first = usage[0]
    extra: list[Event] = []
    expected: dict[str, str] = {}
    for i, e in enumerate(usage[10:20]):
        assert isinstance(e, UsageEvent)
        if i % 3 == 0:  # negative quantity
            bad = UsageEvent(f"bad-neg-{i}", e.subscriber, e.account, e.usage_type, e.start,
                             Decimal(-5))
            expected[bad.id] = "invalid"
        elif i % 3 == 1:  # unknown subscriber
            bad = UsageEvent(f"bad-sub-{i}", "S-nobody", e.account, e.usage_type, e.start,
                             Decimal(5))
            expected[bad.id] = "unknown-subscriber"
        else:  # the same id as an accepted event, another payload
            bad = UsageEvent(e.id, e.subscriber, e.account, e.usage_type, e.start,
                             e.quantity + 1, zone=e.zone, slice=e.slice)
            expected[f"conflict:{e.id}"] = "conflict"
        extra.append(bad)
    extra.append(first)  # an exact replay: a duplicate, no effect, no dead letter
    raw = [Message("billing", first.account, '["usage","bad-undecodable-1","S1"]')]
    expected["bad-undecodable-1"] = "undecodable"
    return extra, raw, expected


class Producer(threading.Thread):
    """Publishes the messages in chunks; after a Redis restart, re-publishes what the ledger
    has not durably processed, in the original order, before going on."""

    def __init__(self, bus: RedisStreamBus, store: PostgresLedgerStore,
                 messages: list[tuple[str, str, Message]], chunk: int = 2000) -> None:
        super().__init__(name="producer", daemon=True)
        self.bus, self.store, self.messages, self.chunk = bus, store, messages, chunk
        self.published = 0
        self.republished = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            while not self.finished.is_set():
                try:
                    if self.published < len(self.messages):
                        part = self.messages[self.published:self.published + self.chunk]
                        self.bus.publish([m for _, _, m in part], timeout=600)
                        self.published += len(part)
                    elif self.bus.lost():  # all published, but Redis lost what was pending
                        self.republish_until_done()
                    else:
                        self.finished.wait(0.2)
                except BusUnavailableError:
                    time.sleep(0.2)
                except BusResetError:
                    self.republish_until_done()
                except StoreError:  # the ledger connection was cut: ask again
                    time.sleep(0.2)
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def republish_until_done(self) -> None:
        while True:
            try:
                self.republish()
                return
            except (StoreError, BusUnavailableError):
                time.sleep(0.2)

    def republish(self) -> None:
        done = self.messages[:self.published]
        pairs = [(i, fp) for i, fp, _ in done]
        processed: set[tuple[str, str]] = set()
        for start in range(0, len(pairs), 5000):
            processed |= self.store.processed_payloads(pairs[start:start + 5000])
        again = [m for i, fp, m in done if (i, fp) not in processed]
        self.bus.reset()
        for start in range(0, len(again), self.chunk):
            self.bus.publish(again[start:start + self.chunk], timeout=600)
        self.republished += len(again)


def _worker(name: str, url: str, bus_url: str, prefix: str, accounts: int, seed: int,
            batch: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TELCOFLOW_DEMO_ACCOUNTS=str(accounts),
               TELCOFLOW_DEMO_SEED=str(seed), PYTHONPATH=str(SRC))
    return subprocess.Popen(
        [sys.executable, "-m", "telcoflow", "worker", "--ledger-url", url, "--bus-url", bus_url,
         "--prefix", prefix, "--partitions", "8", "--name", name, "--batch-size", str(batch),
         "--log-level", "ERROR"], env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OwnRedis:
    """A ``redis-server`` of this run alone: a free port on 127.0.0.1, its own temporary data
    folder, no persistence. :meth:`restart` stops it without saving (what it held is lost)
    and starts it again on the same port; :meth:`stop` ends it and removes its folder."""

    def __init__(self, executable: str = "redis-server") -> None:
        found = shutil.which(executable)
        if found is None:
            raise RuntimeError(f"{executable} not found: the Redis restart needs its own server")
        self.executable = found
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="telcoflow-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.proc = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with "
                                   f"{self.proc.returncode} (log in {self.dir})")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within 10 s")

    def ping(self) -> bool:
        """Whether the server answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def run_id(self) -> str:
        """The server's ``run_id`` (a new one after each start)."""
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return str(client.info("server")["run_id"])
        finally:
            client.close()

    def restart(self) -> None:
        """``SHUTDOWN NOSAVE`` this server (its streams are lost), then start it again."""
        assert self.proc is not None, "start() first"
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], check=False,
                       capture_output=True, timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.5)
        self.start()

    def stop(self) -> None:
        """Stop the server and remove its data folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def run_fault_test(*, accounts: int = 2000, events: int = 200_000, workers: int = 4,
                   kills: int = 4, redis_restart: bool = True, lose_streams: bool = False,
                   cut_postgres: bool = True,
                   seed: int = 11, batch: int = 500, timeout: float = 900.0,
                   log: Callable[[str], None] = print) -> FaultReport:
    """Run the fault test (see the module docs); return its report.

    ``redis_restart`` runs the bus on a Redis server of the run's own (:class:`OwnRedis`)
    and restarts that one; otherwise the bus uses the shared Redis (``REDIS_URL``) under a
    key prefix of its own. ``lose_streams`` deletes the run's Redis keys instead of a restart.
    """
    rng = random.Random(seed)
    pop = generate_population(accounts, seed=seed)
    stream = list(generate_events(pop, events=events, seed=seed + 1))
    extra, raw, expected_dead = bad_events(stream)
    all_events = stream + extra
    t0 = time.perf_counter()
    reference = MemoryLedgerStore()
    RealtimeBilling(reference,
                    default_graph(pop.profiles, pop.rater, fees=pop.fees)).stream(
        all_events, batch_size=batch)
    ref_seconds = time.perf_counter() - t0
    log(f"reference (one process, memory store): {len(all_events)} events in "
        f"{ref_seconds:.1f} s")

    run = f"tffault_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    app = run.replace("_", "-")
    url = f"{PG_URL}?schema={run}&application_name={app}"
    own_redis = OwnRedis() if redis_restart else None
    if own_redis is not None:
        own_redis.start()
    bus_url = own_redis.url if own_redis is not None else REDIS_URL
    store = PostgresLedgerStore(url)
    bus = RedisStreamBus(bus_url, prefix=run, partitions=8, max_backlog=20_000)
    messages = [(e.id, fingerprint(e), billing_message(e)) for e in all_events]
    messages += [("bad-undecodable-1", body_fingerprint(m.body), m) for m in raw]
    report = FaultReport(len(messages), 0.0, ref_seconds)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for i in range(workers):
            procs[f"w{i}"] = _worker(f"w{i}", url, bus_url, run, accounts, seed, batch)
        time.sleep(1.0)
        producer = Producer(bus, store, messages)
        ids = list(dict.fromkeys(i for i, _, _ in messages))
        t_start = time.perf_counter()
        producer.start()
        plan = sorted(rng.uniform(0.05, 0.85) for _ in range(kills))
        faults: list[tuple[float, str]] = [(p, "kill") for p in plan]
        if redis_restart:
            faults.append((rng.uniform(0.3, 0.6), "redis"))
        if lose_streams:  # what a restart does to this run's keys, without a restart
            faults.append((rng.uniform(0.3, 0.6), "purge"))
        if cut_postgres:
            faults.append((rng.uniform(0.2, 0.8), "postgres"))
        faults.sort()
        restarts = 0
        deadline = time.monotonic() + timeout
        stable = 0
        while True:
            if producer.error is not None:
                raise producer.error
            if time.monotonic() > deadline:
                report.problems.append(f"timed out after {timeout:g} s")
                break
            try:
                done = store.claim_count() + len({d.event_id for d in store.dead_letters()})
            except Exception as exc:  # the ledger connection was cut: try again
                log(f"  (reading progress failed: {exc})")
                time.sleep(0.2)
                continue
            progress = done / len(ids)
            while faults and progress >= faults[0][0]:
                _, kind = faults.pop(0)
                if kind == "kill":
                    name = rng.choice(sorted(procs))
                    procs[name].send_signal(signal.SIGKILL)
                    procs[name].wait()
                    del procs[name]
                    time.sleep(rng.uniform(0.1, 1.0))
                    restarts += 1
                    new = name if restarts % 2 else f"{name.split('-')[0]}-r{restarts}"
                    procs[new] = _worker(new, url, bus_url, run, accounts, seed, batch)
                    report.faults.append(f"kill -9 {name} at {progress:.0%}, restarted as {new}")
                elif kind == "redis":
                    assert own_redis is not None
                    own_redis.restart()
                    report.faults.append(f"the run's own Redis (port {own_redis.port}) "
                                         f"restarted (streams lost) at {progress:.0%}")
                elif kind == "purge":
                    bus.purge()
                    report.faults.append(f"every Redis key of the run deleted at {progress:.0%}")
                else:
                    with psycopg.connect(PG_URL, autocommit=True) as admin:
                        row = admin.execute(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = %s", (app,)).fetchone()
                    report.faults.append(f"PostgreSQL: {row[0] if row else 0} connections "
                                         f"terminated at {progress:.0%}")
                log(f"  fault: {report.faults[-1]}")
            if producer.published == len(messages) and done >= len(ids):
                try:
                    backlog = bus.backlog()
                except BusUnavailableError:
                    backlog = -1
                stable = stable + 1 if backlog == 0 else 0
                if stable >= 3:
                    break
            time.sleep(0.1)
        report.seconds = time.perf_counter() - t_start
        ready_by = time.monotonic() + 30  # let restarted workers finish starting up
        while time.monotonic() < ready_by and not all(
                bus.redis.zscore(f"{run}:members:workers", n) is not None for n in procs):
            time.sleep(0.1)
        producer.finished.set()
        producer.join(timeout=10)
        report.republished = producer.republished
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            code = proc.wait(timeout=30)
            if code != 0:
                report.problems.append(f"worker {name} exited with {code} after SIGTERM")
        procs.clear()
        compare(report, reference, store, expected_dead)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        store.close()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{run}" CASCADE')
        try:
            bus.purge()
        finally:
            bus.close()
            if own_redis is not None:
                own_redis.stop()
    return report


def compare(report: FaultReport, reference: MemoryLedgerStore, store: PostgresLedgerStore,
            expected_dead: dict[str, str]) -> None:
    """Record every difference between the distributed ledger and the reference."""
    want = {(ln.account, ln.subscriber, ln.item_type, ln.period, ln.currency):
            (ln.amount, ln.quantity) for ln in reference.lines()}
    got = {(ln.account, ln.subscriber, ln.item_type, ln.period, ln.currency):
           (ln.amount, ln.quantity) for ln in store.lines()}
    report.lines = len(got)
    report.ledger_total = sum((a for a, _ in got.values()), Decimal(0))
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            report.problems.append(f"ledger line {key}: expected {want.get(key)}, "
                                   f"got {got.get(key)}")
    if reference.claim_count() != store.claim_count():
        report.problems.append(f"claims: expected {reference.claim_count()}, got "
                               f"{store.claim_count()}")
    dead = store.dead_letters()
    report.dead_letters = len(dead)
    found: dict[str, str] = {}
    for d in dead:
        found[f"conflict:{d.event_id}" if d.reason == "conflict" else d.event_id] = d.reason
    if found != expected_dead:
        report.problems.append(f"dead letters: expected {sorted(expected_dead.items())}, got "
                               f"{sorted(found.items())}")
    ref_dead = {(d.event_id, d.reason) for d in reference.dead_letters()}
    missing = ref_dead - {(d.event_id, d.reason) for d in dead}
    if missing:
        report.problems.append(f"dead letters of the reference missing: {sorted(missing)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        report = run_fault_test(accounts=300, events=20_000, workers=4, kills=2, batch=500,
                                timeout=50)
    else:
        report = run_fault_test()
    print(f"faults: {len(report.faults)}; re-published after the Redis restart: "
          f"{report.republished}")
    print(f"distributed run: {report.events} messages in {report.seconds:.1f} s "
          f"({report.events / report.seconds:,.0f} events/s under faults); ledger "
          f"{report.lines} lines, total {report.ledger_total}; {report.dead_letters} dead "
          "letters")
    if report.ok:
        print("OK: the ledger equals the one-process reference exactly; every rejected "
              "event is in the dead letters with its reason; nothing charged twice")
    else:
        print("FAILED:")
        for p in report.problems[:30]:
            print(f"  {p}")
    print(json.dumps({"benchmark": "fault_test",
                      "value": round(report.events / report.seconds) if report.ok else 0,
                      "unit": "events/s", "baseline_name": "one_process_memory_reference",
                      "baseline": round(report.events / report.reference_seconds)}))
    if not report.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
