"""The built wheel in clean virtual environments: the core install pulls only pydantic and
PyYAML and runs money, catalog, loading and rules; each extra installs and its feature works.

One wheel is built per session (through an sdist, as a release is); pip's cache keeps the
installs quick after the first run. Marked slow: CI runs them (``.ci/run`` runs every test).
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

#: what ``pip install telcoflow`` may bring: the core's two dependencies and what they need
CORE = {"telcoflow", "pydantic", "pydantic-core", "annotated-types", "typing-extensions",
        "typing-inspection", "pyyaml", "pip", "setuptools"}


def run(*args: str | Path, cwd: Path | None = None, ok: bool = True
        ) -> subprocess.CompletedProcess[str]:
    """Run a command (a non-zero exit fails the test with its output, unless not ``ok``)."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=900, check=False)
    if ok:
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree built once into a wheel."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, REPO)
    (built,) = out.glob("telcoflow-*.whl")
    return built


@pytest.fixture(scope="session")
def install(wheel: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Callable[[str], Path]:
    """``install(extras)``: a fresh venv with the wheel (and ``extras``, "" for the core);
    returns the venv's folder."""

    def make(extras: str) -> Path:
        folder = tmp_path_factory.mktemp(f"venv-{extras or 'core'}")
        venv.create(folder, with_pip=True)
        spec = f"telcoflow[{extras}] @ {wheel.as_uri()}" if extras else str(wheel)
        run(folder / "bin/python", "-m", "pip", "install", "-q", spec)
        return folder

    return make


@pytest.fixture(scope="session")
def core(install: Callable[[str], Path]) -> Path:
    return install("")


def test_the_core_install_pulls_only_pydantic_and_pyyaml(core: Path) -> None:
    listed = run(core / "bin/python", "-m", "pip", "list", "--format", "json").stdout
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert names - CORE == set()
    assert {"telcoflow", "pydantic", "pyyaml"} <= names


def test_the_core_runs_money_catalog_and_rules_from_any_directory(core: Path,
                                                                   tmp_path: Path) -> None:
    script = """
from decimal import Decimal
import telcoflow.rules, telcoflow.money, telcoflow.catalog, telcoflow.loading
from telcoflow.money import Currency, Money
from telcoflow.loading.catalog import load_catalog
from telcoflow.shipped import shipped_path
from telcoflow.rules import load_pack
assert Currency.of("JPY").exponent == 0 and Currency.of("BHD").exponent == 3
total = Money(Decimal("5.10"), "EUR") + Money(Decimal("0.05"), "EUR")
assert total == Money(Decimal("5.15"), "EUR")
catalog = load_catalog(shipped_path("examples/catalog", directory=True))
pack = load_pack(shipped_path("rules/audits/balance.rules.yaml"))
print(len(catalog.offerings), "site-packages" in str(shipped_path("journeys/top_up.yaml")))
"""
    done = run(core / "bin/python", "-c", script, cwd=tmp_path)
    count, in_site = done.stdout.split()
    assert int(count) > 0
    assert in_site == "True"


def test_the_core_names_the_extra_of_a_missing_feature(core: Path, tmp_path: Path) -> None:
    script = """
from telcoflow.errors import MissingDependencyError
for module in ("telcoflow.journeys", "telcoflow.bus.redis_streams",
               "telcoflow.stores.postgres.connection"):
    try:
        __import__(module)
    except MissingDependencyError as exc:
        print(exc.extra)
"""
    done = run(core / "bin/python", "-c", script, cwd=tmp_path)
    assert done.stdout.split() == ["journeys", "redis", "postgres"]
    cli = run(core / "bin/telcoflow", "--help", cwd=tmp_path, ok=False)
    assert cli.returncode == 1
    assert "Traceback" not in cli.stderr
    assert "install telcoflow[cli]" in cli.stderr


#: extra -> a script that uses its feature in a venv with only the core and that extra
FEATURES = {
    "cli": None,  # the console script validates the shipped catalog (below)
    "journeys": """
from telcoflow.journeys import load_journey
from telcoflow.shipped import shipped_path
journey = load_journey(shipped_path("journeys/top_up.yaml"))
print("ok", journey)
""",
    "documents": """
import telcoflow.billing.documents.xml, telcoflow.billing.documents.tmf678
import telcoflow.billing.documents.html, telcoflow.rules.dmn
print("ok")
""",
    "billing": """
import telcoflow.billing.graph, telcoflow.ops.prometheus, telcoflow.worker
print("ok")
""",
    # the ledger store, through the package's name, without the journeys extra the journey
    # store's module needs (the package loads its names lazily)
    "postgres": "import psycopg; from telcoflow.stores.postgres import PostgresLedgerStore; "
                "print('ok', psycopg.pq.version(), PostgresLedgerStore.__name__)",
    "redis": "import telcoflow.bus.redis_streams, telcoflow.stores.redis.cache; print('ok')",
    "analytics": """
from decimal import Decimal
from telcoflow.analytics import to_arrow, to_pandas
from telcoflow.ledger import LedgerLine
lines = [LedgerLine("A", "S", "data", "2026-11-01", "EUR", Decimal("1.005"), Decimal("1"))]
assert list(to_pandas(lines)["amount"]) == [Decimal("1.005")]
assert str(to_arrow(lines).schema.field("amount").type) == "decimal128(38, 3)"
print("ok")
""",
}


@pytest.mark.parametrize("extra", sorted(FEATURES))
def test_each_extra_installs_and_its_feature_works(extra: str, install: Callable[[str], Path],
                                                  tmp_path: Path) -> None:
    folder = install(extra)
    script = FEATURES[extra]
    if script is None:
        catalog = run(folder / "bin/python", "-c", "from telcoflow.shipped import shipped_path;"
                      "print(shipped_path('examples/catalog', directory=True))").stdout.strip()
        done = run(folder / "bin/telcoflow", "validate", catalog, cwd=tmp_path)
        assert "ok" in (done.stdout + done.stderr).lower()
        return
    done = run(folder / "bin/python", "-c", script, cwd=tmp_path)
    assert done.stdout.startswith("ok")


def test_the_stadium_example_runs_from_the_installed_wheel(install: Callable[[str], Path],
                                                           tmp_path: Path) -> None:
    folder = install("journeys")
    script = tmp_path / "5g_stadium.py"
    script.write_text((REPO / "examples/5g_stadium.py").read_text(encoding="utf-8"),
                      encoding="utf-8")
    done = run(folder / "bin/python", script, cwd=tmp_path)
    assert "customer revenue by partner:" in done.stdout
