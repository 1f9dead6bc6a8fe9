"""Helpers of the scale-out tests: a private PostgreSQL schema / Redis key prefix per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PG_URL = os.environ.get("TELCOFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TELCOFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique(prefix: str) -> str:
    """A name no other test (or test run) uses."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


@contextmanager
def pg_schema(require: Callable[[str], None]) -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards); yields its name."""
    import psycopg

    require("postgres")
    name = unique("tfs")
    try:
        yield name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextmanager
def redis_prefix(require: Callable[[str], None]) -> Iterator[str]:
    """A fresh Redis key prefix (its keys deleted afterwards); yields it."""
    import redis

    require("redis")
    prefix = unique("tft")
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
