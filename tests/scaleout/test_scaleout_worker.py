"""The worker: bus -> real-time graph -> ledger, retries, poison events, health, shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from scaleout_helpers import PG_URL, REDIS_URL, pg_schema, redis_prefix

from telcoflow.billing.batch import Batch
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.bus import (
    MemoryBus,
    Message,
    bill_run_messages,
    billing_message,
    journey_message,
)
from telcoflow.demo.generator import Population, generate_events, generate_population
from telcoflow.errors import StoreError
from telcoflow.events import Event
from telcoflow.ledger import ChangeSet
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.worker import Worker, WorkerApp, bill_run_handler, serve_endpoint

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def world() -> tuple[Population, list[Event], MemoryLedgerStore]:
    pop = generate_population(40, seed=3)
    events = list(generate_events(pop, events=2000, seed=4))
    reference = MemoryLedgerStore()
    RealtimeBilling(reference, default_graph(pop.profiles, pop.rater, fees=pop.fees)).stream(events)
    return pop, events, reference


def app_of(pop: Population) -> WorkerApp:
    return WorkerApp(default_graph(pop.profiles, pop.rater, fees=pop.fees))


def test_a_worker_bills_the_bus_exactly_like_one_process(
        world: tuple[Population, list[Event], MemoryLedgerStore]) -> None:
    pop, events, reference = world
    bus = MemoryBus(4)
    bus.publish(billing_message(e) for e in events)
    bus.publish([billing_message(events[5])])  # a redelivered event: a duplicate, no effect
    store = MemoryLedgerStore()
    worker = Worker(store, app_of(pop), bus, name="w1", batch_size=300)
    assert worker.run(idle_exit=0.2) == 2001
    assert store.lines() == reference.lines()
    assert store.claim_count() == reference.claim_count() == 2000
    assert bus.backlog() == 0
    text = worker.metrics.registry.get_sample_value(
        "telcoflow_worker_messages_total", {"kind": "billing", "outcome": "duplicate"})
    assert text == 1.0


def test_undecodable_and_unknown_messages_go_to_the_dead_letters(
        world: tuple[Population, list[Event], MemoryLedgerStore]) -> None:
    pop, _, _ = world
    bus = MemoryBus(1)
    bus.publish([Message("billing", "A1", '["usage","ev-x","S1"]'),
                 Message("billing", "A1", "garbage"),
                 Message("fax", "A1", "{}")])
    store = MemoryLedgerStore()
    Worker(store, app_of(pop), bus, name="w1").run(idle_exit=0.2)
    dead = store.dead_letters()
    assert [(d.event_id, d.reason) for d in dead] == [("ev-x", "undecodable"),
                                                      ("msg:0-2", "undecodable")]
    assert "expected 6 to 14 fields for a usage event, got 2" in dead[0].message
    assert [(d.message.kind, d.reason) for d in bus.dead_letters()] == [
        ("billing", "undecodable"), ("billing", "undecodable"), ("fax", "unknown-kind")]


class FlakyStore(MemoryLedgerStore):
    """Fails the first ``failures`` commits, as a store whose server went away would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def apply(self, changes: ChangeSet) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("connection lost")
        super().apply(changes)


def test_a_store_failure_is_retried_and_nothing_is_lost(
        world: tuple[Population, list[Event], MemoryLedgerStore]) -> None:
    pop, events, reference = world
    bus = MemoryBus(2)
    bus.publish(billing_message(e) for e in events)
    store = FlakyStore(failures=3)
    worker = Worker(store, app_of(pop), bus, name="w1", batch_size=500)
    worker.run(idle_exit=0.3)
    assert store.lines() == reference.lines()
    assert worker.metrics.registry.get_sample_value(
        "telcoflow_worker_retries_total", {"error": "store-unavailable"}) == 3.0


class Poison:
    """A host step that fails on one event id (a bug the worker must contain)."""

    name = "poison"
    needs = ("valid",)
    provides = ("checked",)

    def __init__(self, bad: str) -> None:
        self.bad = bad

    def __call__(self, batch: Batch) -> None:
        if any(i.event.id == self.bad for i in batch.items):
            raise RuntimeError(f"cannot handle {self.bad}")


def test_a_poison_event_is_dead_lettered_and_the_rest_billed(
        world: tuple[Population, list[Event], MemoryLedgerStore]) -> None:
    pop, events, _ = world
    sample = events[:200]
    bad = sample[50].id
    graph = default_graph(pop.profiles, pop.rater, fees=pop.fees)
    graph.add(Poison(bad))
    bus = MemoryBus(1)
    bus.publish(billing_message(e) for e in sample)
    store = MemoryLedgerStore()
    Worker(store, WorkerApp(graph), bus, name="w1", batch_size=100).run(idle_exit=0.2)
    assert store.claim_count() == 199
    assert [(d.event_id, d.reason) for d in store.dead_letters()] == [(bad, "worker-error")]
    assert "RuntimeError: cannot handle" in store.dead_letters()[0].message
    assert [d.reason for d in bus.dead_letters()] == ["worker-error"]


def test_journey_messages_start_and_move_instances() -> None:
    from telcoflow.journeys.instance import ManualClock
    from telcoflow.journeys.runtime import JourneyRuntime
    from telcoflow.stores.memory import MemoryJourneyStore

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journeys"))
    try:
        from test_journeys_runtime import Recorder, load
    finally:
        sys.path.pop(0)
    runtime = JourneyRuntime(MemoryJourneyStore(), [load()], actions=Recorder().registry,
                             clock=ManualClock(1000.0))
    app = WorkerApp(default_graph(generate_population(1).profiles,
                                  generate_population(1).rater), journeys=runtime)
    bus = MemoryBus(2)
    start = {"start": {"journey": "pay"}, "instance": "j1", "channel": "app"}
    bus.publish([Message("journey", "j1", json.dumps(start)),
                 Message("journey", "j1", json.dumps(start)),  # redelivered: no second start
                 journey_message("j1", "start_payment", {"amount": 1}, channel="app"),
                 Message("journey", "j1", json.dumps({"instance": "j1", "trigger": "nope"}))])
    Worker(MemoryLedgerStore(), app, bus, name="w1").run(idle_exit=0.2)
    assert runtime.store.load("j1").state == "paying.pending"
    assert [d.message.body for d in bus.dead_letters()] == [
        json.dumps({"instance": "j1", "trigger": "nope"})]


def test_bill_run_shards_on_the_bus_bill_every_account_once(tmp_path: Path) -> None:
    import importlib.util

    from telcoflow.billing.cycle import BillRunJob, MemoryAccounts, MemoryLedger, parse_close_policy
    from telcoflow.stores.sqlite import SQLiteBillStore

    spec = importlib.util.spec_from_file_location(
        "_cycle_helpers_for_worker", Path(__file__).resolve().parents[1] / "cycle" /
        "cycle_helpers.py")
    assert spec is not None
    assert spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    accounts, lines = helpers.population(50)
    job = BillRunJob(helpers.NOV, parse_close_policy(helpers.POLICY_YAML),
                     ledger=lambda: MemoryLedger(lines),
                     accounts=lambda: MemoryAccounts(accounts),
                     store=partial(SQLiteBillStore, tmp_path / "bills.db"), batch_size=7)
    pop = generate_population(1)
    app = WorkerApp(default_graph(pop.profiles, pop.rater), bill_run=bill_run_handler(job))
    bus = MemoryBus(2)
    bus.publish(bill_run_messages(3, cycle=helpers.NOV.key))
    bus.publish(bill_run_messages(3, cycle=helpers.NOV.key)[:1])  # shard 1/3 redelivered
    Worker(MemoryLedgerStore(), app, bus, name="w1").run(idle_exit=0.2)
    store = SQLiteBillStore(tmp_path / "bills.db")
    # 50 accounts: 5 without subscribers, 5 without charges -> 40 bills, each exactly once
    assert store.totals(helpers.NOV.key).bills == 40
    assert set(store.bill_counts(helpers.NOV.key).values()) == {1}
    assert len(store.finished_accounts(helpers.NOV.key)) == 40  # finished = billed
    assert len(store.totals(helpers.NOV.key).skipped) == 10
    store.close()
    assert bus.dead_letters() == []


def test_health_and_metrics_endpoint(
        world: tuple[Population, list[Event], MemoryLedgerStore]) -> None:
    pop, events, _ = world
    bus = MemoryBus(1)
    bus.publish(billing_message(e) for e in events[:10])
    worker = Worker(MemoryLedgerStore(), app_of(pop), bus, name="w1")
    worker.run(idle_exit=0.1)
    worker.stop_event.clear()
    worker.last_loop = time.monotonic()
    server = serve_endpoint(worker, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/healthz") as r:
            health = json.loads(r.read())
        assert (health["status"], health["name"], health["handled"]) == ("ok", "w1", 10)
        with urllib.request.urlopen(base + "/metrics") as r:
            metrics = r.read().decode()
        assert 'telcoflow_worker_messages_total{kind="billing",outcome="rated"} 10.0' in metrics
        worker.stop()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + "/healthz")
        assert info.value.code == 503
        assert json.loads(info.value.read())["status"] == "unhealthy"
        info.value.close()
    finally:
        server.shutdown()
        server.server_close()


def _worker_command(args: list[str]) -> int:
    from click.testing import CliRunner

    from telcoflow.cli import main

    return CliRunner().invoke(main, ["worker", *args]).exit_code


def test_main_runs_on_the_embedded_defaults_and_exits_cleanly() -> None:
    assert _worker_command(["--ledger-url", "memory://", "--bus-url", "memory://",
                            "--idle-exit", "0.1", "--log-level", "ERROR"]) == 0
    assert _worker_command(["--ledger-url", "mysql://x", "--log-level", "CRITICAL"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.services
def test_workers_on_redis_and_postgres_bill_exactly_once_and_stop_on_sigterm(
        require_service: Callable[[str], None],
        world: tuple[Population, list[Event], MemoryLedgerStore]) -> None:
    from telcoflow.bus.redis_streams import RedisStreamBus
    from telcoflow.stores.postgres import PostgresLedgerStore

    pop, events, reference = world
    with pg_schema(require_service) as schema, redis_prefix(require_service) as prefix:
        url = f"{PG_URL}?schema={schema}"
        bus = RedisStreamBus(REDIS_URL, prefix=prefix, partitions=4, lease_ms=1000)
        bus.publish(billing_message(e) for e in events)
        port = _free_port()
        env = dict(os.environ, TELCOFLOW_DEMO_ACCOUNTS="40", TELCOFLOW_DEMO_SEED="3",
                   PYTHONPATH=str(SRC))
        proc = subprocess.Popen(
            [sys.executable, "-m", "telcoflow", "worker", "--ledger-url", url, "--bus-url",
             REDIS_URL, "--prefix", prefix, "--partitions", "4", "--name", "proc",
             "--metrics-host", "127.0.0.1", "--metrics-port", str(port), "--log-level",
             "ERROR"], env=env)
        # a second worker in this process shares the partitions
        store = PostgresLedgerStore(url)
        thread_worker = Worker(store, app_of(pop), bus, name="thread")
        t = threading.Thread(target=thread_worker.run, kwargs={"idle_exit": 3.0})
        t.start()
        try:
            health: dict[str, object] = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                    store.claim_count() >= 2000 and health.get("name") == "proc"):
                time.sleep(0.2)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                        health = json.loads(r.read())
                except OSError:
                    continue  # not listening yet
            assert health["status"] == "ok"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0  # clean shutdown
        finally:
            if proc.poll() is None:
                proc.kill()
            t.join()
        assert store.lines() == reference.lines()
        assert store.claim_count() == 2000
        assert thread_worker.handled > 0  # both took part
        # the stopped worker released its leases at once
        assert not [k for k in bus.redis.scan_iter(match=f"{prefix}:lease:*")
                    if bus.redis.get(k) == "proc"]
        store.close()
        bus.close()


