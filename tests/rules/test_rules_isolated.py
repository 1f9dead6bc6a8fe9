"""durable-rules optional and isolated (issue 14, item 6): a crash of its child process is
absorbed with the state rebuilt, a child that keeps crashing is reported, the host process
never loads the C core, and a missing backend is reported (or fails when required)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.cli import main
from telcoflow.rules import StatefulEngine, StatefulError, pack_from_text
from telcoflow.rules.isolated import IsolatedDurableBackend, Supervisor
from telcoflow.rules.stateful import make_backend
from telcoflow.testing import run_pack_tests
from telcoflow.testing.packs import REQUIRE_DURABLE_ENV

#: why the durable cases cannot run where durable-rules is absent (on 3.13+ the reason is the
#: Python version: durable-rules does not build there)
MISSING = ("durable-rules does not support Python 3.13+ (use the python backend)"
           if sys.version_info >= (3, 13) else
           "durable-rules not installed (pip install telcoflow[durable])")

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

PACK = """
kind: rule-pack
name: iso
context: [event]
stateful:
  - {id: burst, key: event.sub, match: event.type == "topup", count: 3, within: 1h}
  - {id: usage-80, key: event.sub, match: event.type == "usage", total: event.mb,
     reach: "800"}
  - {id: fail-ok, key: event.sub,
     sequence: ['event.type == "fail"', 'event.type == "ok"'], within: 10m}
"""

# (minute, subscriber, type, mb): what fires is worked out by hand below
STREAM = [
    (0, "a", "topup", 0), (1, "b", "usage", 500), (2, "a", "topup", 0),   # a: 2 top-ups
    (3, "c", "fail", 0), (4, "b", "usage", 200),                          # b: 500+200 = 700
    (5, "a", "topup", 0),                    # a: 3rd top-up within 1h -> burst fires
    (6, "c", "ok", 0),                       # c: fail at 3, ok at 6 (3 min <= 10m) -> fail-ok
    (7, "b", "usage", 100),                  # b: 700+100 = 800 >= 800 -> usage-80 fires
    (8, "a", "topup", 0), (70, "a", "topup", 0), (71, "a", "topup", 0),  # 8 is > 1h before 71
    (72, "a", "topup", 0),                   # a: 70, 71, 72 within 1h -> burst fires
]
EXPECTED = [("burst", "a"), ("fail-ok", "c"), ("usage-80", "b"), ("burst", "a")]


def _event(minute: int, sub: str, kind: str, mb: int) -> dict[str, Any]:
    return {"event": {"time": (T0 + timedelta(minutes=minute)).isoformat(), "sub": sub,
                      "type": kind, "mb": mb}}


def _run(engine: StatefulEngine, kill_before: set[int]) -> list[tuple[str, Any]]:
    fired: list[tuple[str, Any]] = []
    for i, row in enumerate(STREAM):
        if i in kill_before:
            backend = engine.backend
            assert isinstance(backend, IsolatedDurableBackend)
            pid = backend.supervisor.pid
            assert pid is not None
            os.kill(pid, signal.SIGSEGV)     # what the C core does to its process
        fired += [(f.rule, f.key) for f in engine.process(_event(*row))]
    return fired


def test_the_stream_fires_as_worked_out_by_hand() -> None:
    engine = StatefulEngine(pack_from_text(PACK, "iso.rules.yaml"), "python")
    assert _run(engine, set()) == EXPECTED


@pytest.mark.durable_rules
@pytest.mark.parametrize("kill_before", [{1}, {5}, {2, 6, 7}, {10, 11}])
def test_a_child_crash_is_absorbed_and_its_state_rebuilt(kill_before: set[int]) -> None:
    # the child is killed while keys hold state (a's top-ups, b's running total, c's "fail"):
    # the restarted child is replayed what it held, so the same rules fire as without a crash
    supervisor = Supervisor()
    try:
        engine = StatefulEngine(pack_from_text(PACK, "iso.rules.yaml"),
                                IsolatedDurableBackend(supervisor=supervisor))
        assert _run(engine, kill_before) == EXPECTED
        assert supervisor.crashes == len(kill_before)
        backend = engine.backend
        assert isinstance(backend, IsolatedDurableBackend)
        # what a next restart would replay: a's top-ups at 70, 71, 72 fired (consumed) and
        # the one at 8 left the window; b fired at 7; c fired at 6: nothing is held
        assert backend.held() == []
        engine.close()
    finally:
        supervisor.stop()


@pytest.mark.durable_rules
def test_engines_in_threads_survive_a_crash_together() -> None:
    # four engines share the child; it is killed while they all hold state: every engine's
    # state is replayed into the new child and each still fires exactly what it should
    supervisor = Supervisor()
    pack = pack_from_text(PACK, "iso.rules.yaml")
    engines = [StatefulEngine(pack, IsolatedDurableBackend(supervisor=supervisor))
               for _ in range(4)]
    half = threading.Barrier(5)
    results: list[list[tuple[str, Any]]] = [[] for _ in engines]

    def feed(i: int) -> None:
        for n, row in enumerate(STREAM):
            if n == 6:
                half.wait(timeout=30)   # all hold state; the main thread kills the child
                half.wait(timeout=30)
            results[i] += [(f.rule, f.key) for f in engines[i].process(_event(*row))]

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(len(engines))]
    try:
        for t in threads:
            t.start()
        half.wait(timeout=30)
        pid = supervisor.pid
        assert pid is not None
        os.kill(pid, signal.SIGSEGV)
        half.wait(timeout=30)
        for t in threads:
            t.join(timeout=60)
        assert results == [EXPECTED] * 4
        assert supervisor.crashes == 1
    finally:
        supervisor.stop()


@pytest.mark.durable_rules
def test_a_total_without_window_holds_one_running_sum() -> None:
    supervisor = Supervisor()
    try:
        backend = IsolatedDurableBackend(supervisor=supervisor)
        engine = StatefulEngine(pack_from_text(PACK, "iso.rules.yaml"), backend)
        for minute, mb in ((0, 300), (1, 200), (2, 250)):      # 300 + 200 + 250 = 750 < 800
            assert engine.process(_event(minute, "b", "usage", mb)) == []
        held = backend.held()
        assert [(spec.id, item[0], item[3]) for spec, item in held] == [("usage-80", "b", 750)]
        pid = supervisor.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # replayed 750; + 50 = 800 >= 800: fires on the restarted child
        assert [f.rule for f in engine.process(_event(3, "b", "usage", 50))] == ["usage-80"]
        assert supervisor.crashes == 1
    finally:
        supervisor.stop()


_STREAMS = st.lists(st.tuples(st.integers(0, 15), st.sampled_from(["a", "b"]),
                              st.sampled_from(["topup", "fail", "ok", "usage"]),
                              st.integers(0, 500)), min_size=4, max_size=30)


@pytest.mark.durable_rules
@settings(max_examples=15, deadline=None)
@given(_STREAMS, st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=3))
def test_crashes_anywhere_change_nothing(stream: list[tuple[int, str, str, int]],
                                         where: list[float]) -> None:
    """Any time-ordered stream, the child killed before some of its events (``where``: as
    fractions of the stream): what fires is what the python backend fires, no crash."""
    kills = {int(f * len(stream)) for f in where}
    pack = pack_from_text(PACK, "iso.rules.yaml")
    supervisor = Supervisor()
    try:
        expected_engine = StatefulEngine(pack, "python")
        engine = StatefulEngine(pack, IsolatedDurableBackend(supervisor=supervisor))
        minute, expected, got = 0, [], []
        for i, (gap, sub, kind, mb) in enumerate(stream):
            minute += gap
            ev = _event(minute, sub, kind, mb)
            if i in kills:
                pid = supervisor.pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
            expected += [(f.rule, f.key) for f in expected_engine.process(ev)]
            got += [(f.rule, f.key) for f in engine.process(ev)]
        assert got == expected
        assert supervisor.crashes == len(kills)
    finally:
        supervisor.stop()


def test_a_child_that_keeps_crashing_is_reported() -> None:
    crashing = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    supervisor = Supervisor(crashing, max_crashes=3)
    backend = IsolatedDurableBackend(supervisor=supervisor)
    with pytest.raises(StatefulError) as info:
        StatefulEngine(pack_from_text(PACK, "iso.rules.yaml"), backend)
    assert "crashed 3 times in a row (killed by SIGSEGV)" in str(info.value)
    assert "backend='python'" in str(info.value)
    assert supervisor.crashes == 3
    assert supervisor.pid is None


def test_a_child_that_stops_answering_is_killed_and_reported() -> None:
    hanging = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = Supervisor(hanging, max_crashes=2, timeout=0.3)
    with pytest.raises(StatefulError, match=r"crashed 2 times in a row \(no answer within 0.3 s\)"):
        StatefulEngine(pack_from_text(PACK, "iso.rules.yaml"),
                       IsolatedDurableBackend(supervisor=supervisor))


@pytest.mark.durable_rules
def test_the_host_process_never_loads_the_c_core() -> None:
    code = ("import sys\n"
            "from telcoflow.testing.packs import run_pack_tests\n"
            "results = run_pack_tests('rules/topups')\n"
            "durable = [r for r in results if r.backend == 'durable']\n"
            "assert durable and all(r.passed for r in durable), results\n"
            "assert 'durable' not in sys.modules, 'durable-rules imported in the host'\n"
            "assert 'rules' not in sys.modules, 'its C extension loaded in the host'\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def no_durable(monkeypatch: pytest.MonkeyPatch) -> None:
    """durable-rules unimportable, as on a machine where the extra is not installed."""
    monkeypatch.setitem(sys.modules, "durable", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "durable.engine", None)  # type: ignore[arg-type]
    monkeypatch.delenv(REQUIRE_DURABLE_ENV, raising=False)


@pytest.mark.usefixtures("no_durable")
def test_a_missing_durable_backend_is_refused_by_name() -> None:
    with pytest.raises(StatefulError, match=re.escape(f"'durable' requested: {MISSING}")):
        make_backend("durable")
    assert make_backend("auto").name == "python"   # the default never needs the extra


@pytest.mark.usefixtures("no_durable")
def test_pack_tests_report_missing_durable_as_skipped() -> None:
    results = run_pack_tests(ROOT / "rules/topups")
    durable = [r for r in results if r.backend == "durable"]
    python = [r for r in results if r.backend == "python"]
    assert len(durable) == len(python) == 6        # tests.yaml: 6 stateful cases, each backend
    assert all(r.skipped == MISSING and not r.failed and not r.passed for r in durable)
    assert all(r.passed for r in python)
    assert str(durable[0]).endswith(f"skipped: {MISSING}")


@pytest.mark.usefixtures("no_durable")
def test_cli_test_counts_and_names_the_skipped_cases() -> None:
    result = CliRunner().invoke(main, ["test", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    # 12 durable cases (6 in topups, 6 in offer-triggers), each also run on python
    total = len(run_pack_tests(ROOT / "rules"))
    assert result.output.splitlines()[-1] == (
        f"{total - 12} passed, 0 failed, 12 skipped ({MISSING})")
    skip_lines = [ln for ln in result.output.splitlines() if ln.startswith("SKIP ")]
    assert len(skip_lines) == 12
    assert all(" [durable] (" in ln for ln in skip_lines)


@pytest.mark.usefixtures("no_durable")
def test_cli_test_fails_when_durable_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_DURABLE_ENV, "1")
    result = CliRunner().invoke(main, ["test", "-q", str(ROOT / "rules/topups")])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "6 passed, 6 failed"
    assert f"{MISSING}; TELCOFLOW_REQUIRE_DURABLE=1 requires it" in result.output


def _pytest_without_durable(tmp_path: Path,
                            env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "rules/topups", tmp_path / "rules/topups")
    (tmp_path / "conftest.py").write_text(
        "import sys\nsys.modules['durable'] = None\nsys.modules['durable.engine'] = None\n",
        encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                           "-q", "rules"], cwd=tmp_path, capture_output=True, text=True,
                          check=False, timeout=120, env=env)


def test_the_pytest_plugin_skips_durable_cases_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_DURABLE_ENV}
    proc = _pytest_without_durable(tmp_path, env)
    assert proc.returncode == 0, proc.stdout
    assert "6 passed, 6 skipped" in proc.stdout
    assert f"skipped: {MISSING}" in proc.stdout


def test_the_pytest_plugin_fails_durable_cases_when_required(tmp_path: Path) -> None:
    proc = _pytest_without_durable(tmp_path, {**os.environ, REQUIRE_DURABLE_ENV: "1"})
    assert proc.returncode == 1, proc.stdout
    assert "6 passed, 6 errors" in proc.stdout     # failed in set-up, before the case runs
    assert "TELCOFLOW_REQUIRE_DURABLE=1 requires it" in proc.stdout


def test_ci_runs_the_readme_command_then_the_durable_tests() -> None:
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    main_line = ('python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && '
                 '.venv/bin/python -m pytest')
    durable_lines = ['.venv/bin/pip install -q -e ".[test,durable]"',
                     "TELCOFLOW_REQUIRE_DURABLE=1 .venv/bin/python -m pytest -q -m durable_rules"]
    assert main_line in ci
    assert main_line in readme
    for line in durable_lines:
        assert line in readme
        assert any(c.strip() == line for c in ci), line
    assert ci.index(main_line) < min(i for i, c in enumerate(ci) if durable_lines[1] in c)


def test_durable_rules_is_an_extra_not_a_dependency() -> None:
    tomllib = pytest.importorskip("tomllib")   # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(d.startswith("durable-rules") for d in project["dependencies"])
    assert project["optional-dependencies"]["durable"] == [
        "durable-rules>=2.0.28; python_version < '3.13'"]


@pytest.mark.slow
@pytest.mark.durable_rules
def test_the_crash_loop_script_runs_and_reports() -> None:
    # the acceptance loop (300 runs) in small: every run passes all 96 cases, none crashes
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/stateful_crash_loop.py"),
                           "--runs", "8"], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "stateful_crash_loop"
    assert (result["value"], result["runs"], result["exit_codes"]) == (0, 8, {"0": 8})
