"""The demo's worker app: ``telcoflow worker --app telcoflow.demo.app:worker_app`` (the
default) runs the real-time graph of the demo's synthetic population."""

from __future__ import annotations

import os

from telcoflow.billing.realtime import default_graph
from telcoflow.config import BackendConfig, open_profile_cache
from telcoflow.demo.generator import generate_population
from telcoflow.errors import ArgumentError
from telcoflow.worker import WorkerApp

__all__ = ["worker_app"]


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ArgumentError(f"{name} must be a whole number (got {text!r})") from None
    if value < 1:
        raise ArgumentError(f"{name} must be >= 1 (got {value})")
    return value


def worker_app(config: BackendConfig) -> WorkerApp:
    """The synthetic population of :func:`telcoflow.demo.generator.generate_population`
    (``TELCOFLOW_DEMO_ACCOUNTS``, default 200, and ``TELCOFLOW_DEMO_SEED``, default 7)
    behind the configured profile cache."""
    accounts = _env_int("TELCOFLOW_DEMO_ACCOUNTS", 200)
    seed = _env_int("TELCOFLOW_DEMO_SEED", 7)
    pop = generate_population(accounts, seed=seed)
    profiles = open_profile_cache(config.cache_url, pop.profiles, ttl_s=config.cache_ttl_s,
                                  prefix=config.cache_prefix)
    return WorkerApp(default_graph(profiles, pop.rater, fees=pop.fees))
