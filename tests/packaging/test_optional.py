"""A missing optional package is a MissingDependencyError (a TelcoflowError and an
ImportError) naming the extra to install; the console script prints it on one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from telcoflow._optional import EXTRAS, missing, require, requires
from telcoflow.errors import MissingDependencyError, TelcoflowError

REPO = Path(__file__).resolve().parents[2]


def _blocked(modules: list[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``modules`` cannot be imported (as if not
    installed: ``sys.modules[name] = None`` makes ``import name`` fail)."""
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True,
                          text=True, timeout=120, check=False)


def test_requires_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError) as caught, requires("cli", "the demo"):
        raise ModuleNotFoundError("No module named 'rich.table'", name="rich.table")
    assert caught.value.extra == "cli"
    assert caught.value.module == "rich"
    assert "install telcoflow[cli]" in str(caught.value)


def test_an_unrelated_missing_module_goes_through_unchanged() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, requires("redis", "the Redis bus"):
        import telcoflow_no_such_module  # noqa: F401
    assert not isinstance(caught.value, MissingDependencyError)


def test_the_error_says_what_to_install() -> None:
    error = missing("prometheus_client.core", "billing", "the worker")
    assert isinstance(error, TelcoflowError)
    assert isinstance(error, ImportError)
    assert (error.extra, error.module) == ("billing", "prometheus_client")
    assert str(error) == ("the worker needs the optional package prometheus-client, which is "
                          "not installed: install telcoflow[billing] "
                          "(pip install 'telcoflow[billing]')")
    assert require("json", "cli").dumps([1]) == "[1]"
    with pytest.raises(ValueError, match="unknown extra 'nope'"), requires("nope"):
        pass


@pytest.mark.parametrize(("blocked", "module", "extra"), [
    (["redis"], "telcoflow.bus.redis_streams", "redis"),
    (["redis"], "telcoflow.stores.redis.cache", "redis"),
    (["psycopg"], "telcoflow.stores.postgres.connection", "postgres"),
    (["transitions"], "telcoflow.journeys", "journeys"),
    (["networkx"], "telcoflow.billing.graph", "billing"),
    (["lxml"], "telcoflow.rules.dmn", "documents"),
    (["simplejson"], "telcoflow.billing.documents.tmf678", "documents"),
    (["prometheus_client"], "telcoflow.worker", "billing"),
    (["click"], "telcoflow.cli", "cli"),
])
def test_importing_a_feature_without_its_package_names_its_extra(
        blocked: list[str], module: str, extra: str) -> None:
    done = _blocked(blocked, f"""
from telcoflow.errors import MissingDependencyError
try:
    import {module}
except MissingDependencyError as exc:
    print(exc.extra, "|", exc)
""")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{extra} | "), done.stdout
    assert f"install telcoflow[{extra}]" in done.stdout


def test_the_console_script_without_click_prints_one_line() -> None:
    done = _blocked(["click"], "from telcoflow._console import main\nmain()")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "telcoflow: the telcoflow command needs the optional package click, which is not "
        "installed: install telcoflow[cli] (pip install 'telcoflow[cli]')"]


def test_the_extras_table_matches_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    declared = config["project"]["optional-dependencies"]
    for extra in EXTRAS:
        assert extra in declared, extra
    for extra in ("all", "test", "cli", "documents", "journeys", "billing", "postgres",
                  "redis", "durable"):
        assert extra in declared, extra
    assert declared["postgres"] == ["psycopg>=3.1"]  # plain psycopg for a library
    assert config["project"]["dependencies"] == ["pydantic>=2.7,<3", "pyyaml>=6.0"]
