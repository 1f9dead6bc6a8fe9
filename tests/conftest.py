"""Shared fixtures: real services (PostgreSQL, Redis) that fail instead of skipping in CI."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SERVICES = {
    "postgres": ("127.0.0.1", 5432),
    "redis": ("127.0.0.1", 6379),
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def require_service() -> Callable[[str], None]:
    """Call with a service name; skips when it is down, or fails if
    ``TELCOFLOW_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets)."""

    def check(name: str) -> None:
        host, port = SERVICES[name]
        if _reachable(host, port):
            return
        msg = f"service {name} not reachable on {host}:{port}"
        if os.environ.get("TELCOFLOW_REQUIRE_SERVICES") == "1":
            pytest.fail(msg + " (TELCOFLOW_REQUIRE_SERVICES=1)")
        pytest.skip(msg)

    return check


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (examples/, rules/, journeys/ live there)."""
    return REPO
