"""The code stays ruff- and mypy --strict clean; the public API is explicit and sorted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import telcoflow

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_clean() -> None:
    result = _run("ruff", "check", "src", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_clean() -> None:
    result = _run("mypy", "--strict", "src/telcoflow")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts_kept() -> None:
    """The import contracts of pyproject.toml (docs/architecture.md), lazy imports included."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_public_api_sorted_and_importable() -> None:
    names = list(telcoflow.__all__)
    assert names == sorted(names)
    for name in names:
        assert hasattr(telcoflow, name), name
