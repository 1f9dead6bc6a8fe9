"""The fault test, smaller: 2 worker processes, SIGKILLs, a Redis restart, a cut connection.

The full version (4 workers, 200,000 events) is ``benchmarks/fault_test.py``. Neither ever
restarts a shared service: the Redis that is restarted is the run's own ``redis-server`` (a
free port, its own data folder), and only the run's own PostgreSQL connections are
terminated (its tables live in a schema of its own).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "fault_test.py"


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_fault_test_harness", _FILE)
    assert spec is not None
    assert spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = harness
    spec.loader.exec_module(harness)
    return harness


def _shared_run_id(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["run_id"])
    finally:
        client.close()


needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None,
                                        reason="redis-server is not installed")


@needs_redis_server
@pytest.mark.services
def test_the_restarted_redis_is_the_runs_own(require_service: Callable[[str], None]) -> None:
    require_service("redis")
    harness = _harness()
    shared = _shared_run_id(harness.REDIS_URL)
    own = harness.OwnRedis()
    own.start()
    try:
        assert own.port != 6379
        first = own.run_id()
        own.restart()
        assert own.ping()
        assert own.run_id() != first  # a new server process
    finally:
        folder = own.dir
        own.stop()
    assert not own.ping()
    assert not Path(folder).exists()
    assert _shared_run_id(harness.REDIS_URL) == shared  # the shared server was not restarted


@needs_redis_server
@pytest.mark.slow
@pytest.mark.services
def test_killed_workers_a_redis_restart_and_a_cut_connection_still_bill_exactly_once(
        require_service: Callable[[str], None]) -> None:
    require_service("postgres")
    require_service("redis")
    harness = _harness()
    shared = _shared_run_id(harness.REDIS_URL)
    lines: list[str] = []
    report = harness.run_fault_test(accounts=200, events=10_000, workers=2, kills=2,
                                    redis_restart=True, lose_streams=False, cut_postgres=True,
                                    batch=250, timeout=60, log=lines.append)
    assert report.problems == [], "\n".join(lines + report.problems[:20])
    assert len(report.faults) == 4  # 2 kills, a restart of the run's own Redis, cut connections
    assert any("own Redis" in f and "restarted" in f for f in report.faults)
    # 10,000 generated + 11 injected events + 1 undecodable message
    assert report.events == 10_012
    assert report.dead_letters == 11  # 4 invalid, 3 unknown subscribers, 3 conflicts, 1 raw
    assert _shared_run_id(harness.REDIS_URL) == shared


@pytest.mark.slow
@pytest.mark.services
def test_killed_workers_lost_streams_and_a_cut_connection_on_the_shared_redis(
        require_service: Callable[[str], None]) -> None:
    """Without a redis-server of its own: the run's keys are deleted, never the server's."""
    require_service("postgres")
    require_service("redis")
    lines: list[str] = []
    report = _harness().run_fault_test(accounts=200, events=10_000, workers=2, kills=2,
                                       redis_restart=False, lose_streams=True,
                                       cut_postgres=True, batch=250, timeout=45,
                                       log=lines.append)
    assert report.problems == [], "\n".join(lines + report.problems[:20])
    assert len(report.faults) == 4  # 2 kills, lost streams, cut connections
    assert report.events == 10_012
    assert report.dead_letters == 11
