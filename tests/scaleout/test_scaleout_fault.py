"""The fault test, smaller: 2 worker processes, SIGKILLs, lost streams, a cut connection.

The full version (4 workers, 200,000 events, a real Redis restart) is
``benchmarks/fault_test.py``; this one never restarts the shared Redis or PostgreSQL: it
deletes only its own Redis keys and terminates only its own PostgreSQL connections.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "fault_test.py"


@pytest.mark.slow
@pytest.mark.services
def test_killed_workers_lost_streams_and_a_cut_connection_still_bill_exactly_once(
        require_service: Callable[[str], None]) -> None:
    require_service("postgres")
    require_service("redis")
    spec = importlib.util.spec_from_file_location("_fault_test_harness", _FILE)
    assert spec is not None
    assert spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = harness
    spec.loader.exec_module(harness)
    lines: list[str] = []
    report = harness.run_fault_test(accounts=200, events=10_000, workers=2, kills=2,
                                    redis_restart=False, lose_streams=True, cut_postgres=True,
                                    batch=250, timeout=45, log=lines.append)
    assert report.problems == [], "\n".join(lines + report.problems[:20])
    assert len(report.faults) == 4  # 2 kills, lost streams, cut connections
    # 10,000 generated + 11 injected events + 1 undecodable message
    assert report.events == 10_012
    assert report.dead_letters == 11  # 4 invalid, 3 unknown subscribers, 3 conflicts, 1 raw
