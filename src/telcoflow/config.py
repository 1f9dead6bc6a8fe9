"""Backends chosen by URL, from code, a YAML file or environment variables.

=================  ==========================  =========================================
what               environment variable        URLs
=================  ==========================  =========================================
ledger             ``TELCOFLOW_LEDGER_URL``    ``memory://``, ``sqlite:///ledger.db``,
                                               ``postgresql://user@host/db?schema=s``
journey instances  ``TELCOFLOW_JOURNEYS_URL``  same kinds (default: the ledger's URL)
bill-run state     ``TELCOFLOW_BILLRUN_URL``   ``sqlite:///...``, ``postgresql://...``
event bus          ``TELCOFLOW_BUS_URL``       ``memory://``, ``redis://host:6379/0``
profile cache      ``TELCOFLOW_CACHE_URL``     unset (in memory), ``redis://...``
=================  ==========================  =========================================

``sqlite:///ledger.db`` is relative to the working directory, ``sqlite:////var/x.db``
absolute. Other settings have variables too: ``TELCOFLOW_BUS_PARTITIONS``,
``TELCOFLOW_BUS_PREFIX``, ``TELCOFLOW_BUS_MAX_BACKLOG``, ``TELCOFLOW_CACHE_TTL_S``,
``TELCOFLOW_CACHE_PREFIX``.

:func:`load_config` merges, lowest first: defaults, a YAML file (keys are the field names of
:class:`BackendConfig`), the environment, keyword overrides. The ``open_*`` functions build a
backend from a URL; PostgreSQL and Redis modules are imported only when such a URL is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from telcoflow.errors import DefinitionError, StoreError

if TYPE_CHECKING:
    from telcoflow.accounts import ProfileCache
    from telcoflow.billing.cycle.store import BillStore
    from telcoflow.bus.base import Bus
    from telcoflow.journeys.store import JourneyStore
    from telcoflow.ledger import LedgerStore

__all__ = [
    "ENVIRONMENT",
    "BackendConfig",
    "load_config",
    "open_bill_store",
    "open_bus",
    "open_journey_store",
    "open_ledger_store",
    "open_profile_cache",
    "sqlite_path",
]

#: field of :class:`BackendConfig` -> environment variable
ENVIRONMENT: dict[str, str] = {
    "ledger_url": "TELCOFLOW_LEDGER_URL",
    "journeys_url": "TELCOFLOW_JOURNEYS_URL",
    "billrun_url": "TELCOFLOW_BILLRUN_URL",
    "bus_url": "TELCOFLOW_BUS_URL",
    "cache_url": "TELCOFLOW_CACHE_URL",
    "bus_partitions": "TELCOFLOW_BUS_PARTITIONS",
    "bus_prefix": "TELCOFLOW_BUS_PREFIX",
    "bus_max_backlog": "TELCOFLOW_BUS_MAX_BACKLOG",
    "cache_ttl_s": "TELCOFLOW_CACHE_TTL_S",
    "cache_prefix": "TELCOFLOW_CACHE_PREFIX",
}

_STORE_SCHEMES = ("memory", "sqlite", "postgresql", "postgres")


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


class BackendConfig(BaseModel):
    """Where each part of telcoflow keeps its state; URLs by kind (see the module docs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ledger_url: str = "memory://"
    journeys_url: str | None = None
    billrun_url: str | None = None
    bus_url: str = "memory://"
    cache_url: str | None = None
    bus_partitions: int = Field(8, ge=1, le=4096)
    bus_prefix: str = Field("telcoflow", min_length=1)
    bus_max_backlog: int = Field(50_000, ge=1)
    cache_ttl_s: int = Field(3600, ge=1)
    cache_prefix: str = Field("telcoflow:profiles", min_length=1)

    @field_validator("ledger_url", "journeys_url")
    @classmethod
    def _store_url(cls, url: str | None) -> str | None:
        if url is not None and _scheme(url) not in _STORE_SCHEMES:
            raise ValueError(f"must be memory://, sqlite:///<path> or postgresql://... "
                             f"(got {url!r})")
        return url

    @field_validator("billrun_url")
    @classmethod
    def _billrun_url(cls, url: str | None) -> str | None:
        if url is not None and _scheme(url) not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"must be sqlite:///<path> or postgresql://... (got {url!r})")
        return url

    @field_validator("bus_url")
    @classmethod
    def _bus_url(cls, url: str) -> str:
        if _scheme(url) not in ("memory", "redis", "rediss", "unix"):
            raise ValueError(f"must be memory:// or redis://host:port/db (got {url!r})")
        return url

    @field_validator("cache_url")
    @classmethod
    def _cache_url(cls, url: str | None) -> str | None:
        if url is not None and _scheme(url) not in ("memory", "redis", "rediss", "unix"):
            raise ValueError(f"must be memory:// or redis://host:port/db (got {url!r})")
        return url

    @property
    def effective_journeys_url(self) -> str:
        """The journey store's URL (the ledger's when not set)."""
        return self.journeys_url or self.ledger_url

    def open_ledger(self) -> LedgerStore:
        """The ledger store of :attr:`ledger_url`."""
        return open_ledger_store(self.ledger_url)

    def open_journeys(self) -> JourneyStore:
        """The journey store of :attr:`effective_journeys_url`."""
        return open_journey_store(self.effective_journeys_url)

    def open_bus(self) -> Bus:
        """The bus of :attr:`bus_url` with this configuration's partitions and backlog."""
        return open_bus(self.bus_url, partitions=self.bus_partitions, prefix=self.bus_prefix,
                        max_backlog=self.bus_max_backlog)


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                **overrides: Any) -> BackendConfig:
    """Defaults < YAML file ``path`` < environment ``env`` (default ``os.environ``) <
    ``overrides``; raises :class:`DefinitionError` with every problem located."""
    from telcoflow.loading.source import load_document
    from telcoflow.loading.validate import validate_document

    data: dict[str, Any] = {}
    if path is not None:
        doc = load_document(path)
        if doc.data is not None or doc.problems:  # an unreadable file is never skipped
            data.update(validate_document(doc, BackendConfig).model_dump(exclude_unset=True))
    environ = os.environ if env is None else env
    for name, var in ENVIRONMENT.items():
        value = environ.get(var)
        if value:
            data[name] = value
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return BackendConfig.model_validate(data)
    except ValidationError as exc:
        from telcoflow.errors import Problem

        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            source = ENVIRONMENT.get(field, "")
            where = f" (from {source})" if source and environ.get(source) else ""
            problems.append(Problem(f"`{field}`{where}: {err['msg']}", "E-config"))
        raise DefinitionError(problems) from exc


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative.db`` / ``sqlite:////absolute.db`` URL
    (``sqlite:///:memory:`` for a private in-memory database)."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"a SQLite URL is sqlite:///<path> (got {url!r})")
    path = url[len("sqlite:///"):]
    if not path:
        raise StoreError(f"the SQLite URL {url!r} names no file")
    return path


def open_ledger_store(url: str) -> LedgerStore:
    """A ledger store for ``memory://``, ``sqlite:///...`` or ``postgresql://...``."""
    scheme = _scheme(url)
    if scheme == "memory":
        from telcoflow.stores.memory import MemoryLedgerStore

        return MemoryLedgerStore()
    if scheme == "sqlite":
        from telcoflow.stores.sqlite.ledger import SQLiteLedgerStore

        return SQLiteLedgerStore(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from telcoflow.stores.postgres.ledger import PostgresLedgerStore

        return PostgresLedgerStore(url)
    raise StoreError(f"unknown ledger URL {url!r}: expected memory://, sqlite:///<path> or "
                     "postgresql://...")


def open_journey_store(url: str) -> JourneyStore:
    """A journey instance store for ``memory://``, ``sqlite:///...`` or ``postgresql://...``."""
    scheme = _scheme(url)
    if scheme == "memory":
        from telcoflow.stores.memory import MemoryJourneyStore

        return MemoryJourneyStore()
    if scheme == "sqlite":
        from telcoflow.stores.sqlite.journeys import SQLiteJourneyStore

        return SQLiteJourneyStore(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from telcoflow.stores.postgres.journeys import PostgresJourneyStore

        return PostgresJourneyStore(url)
    raise StoreError(f"unknown journey store URL {url!r}: expected memory://, "
                     "sqlite:///<path> or postgresql://...")


def open_bill_store(url: str) -> BillStore:
    """The bill-run state store for ``sqlite:///...`` or ``postgresql://...``."""
    scheme = _scheme(url)
    if scheme == "sqlite":
        from telcoflow.stores.sqlite.bills import SQLiteBillStore

        return SQLiteBillStore(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from telcoflow.stores.postgres.bills import PostgresBillStore

        return PostgresBillStore(url)
    raise StoreError(f"unknown bill-run store URL {url!r}: expected sqlite:///<path> or "
                     "postgresql://...")


def open_bus(url: str, *, partitions: int = 8, prefix: str = "telcoflow",
             max_backlog: int = 50_000) -> Bus:
    """The in-process bus (``memory://``) or the Redis Streams bus (``redis://...``)."""
    scheme = _scheme(url)
    if scheme == "memory":
        from telcoflow.bus.memory import MemoryBus

        return MemoryBus(partitions, max_backlog=max_backlog)
    if scheme in ("redis", "rediss", "unix"):
        from telcoflow.bus.redis_streams import RedisStreamBus

        return RedisStreamBus(url, prefix=prefix, partitions=partitions,
                              max_backlog=max_backlog)
    raise StoreError(f"unknown bus URL {url!r}: expected memory:// or redis://host:port/db")


def open_profile_cache(url: str | None, source: ProfileCache, *, ttl_s: int = 3600,
                       prefix: str = "telcoflow:profiles") -> ProfileCache:
    """``source`` itself (``None`` / ``memory://``) or a Redis cache reading through to it."""
    scheme = _scheme(url) if url else "memory"
    if scheme == "memory":
        return source
    if url is not None and scheme in ("redis", "rediss", "unix"):
        from telcoflow.stores.redis.cache import RedisProfileCache

        return RedisProfileCache(url, source=source, ttl_s=ttl_s, prefix=prefix)
    raise StoreError(f"unknown profile cache URL {url!r}: expected redis://host:port/db")
