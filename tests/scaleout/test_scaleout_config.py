"""Backends by URL: from code, a YAML file or the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from scaleout_helpers import PG_URL, REDIS_URL, pg_schema, redis_prefix

from telcoflow.accounts import DictProfiles
from telcoflow.bus import MemoryBus
from telcoflow.config import (
    BackendConfig,
    load_config,
    open_bill_store,
    open_bus,
    open_journey_store,
    open_ledger_store,
    open_profile_cache,
    sqlite_path,
)
from telcoflow.errors import DefinitionError, StoreError
from telcoflow.stores.memory import MemoryJourneyStore, MemoryLedgerStore
from telcoflow.stores.sqlite import SQLiteJourneyStore, SQLiteLedgerStore


def test_defaults_are_the_embedded_backends() -> None:
    config = load_config(env={})
    assert (config.ledger_url, config.bus_url, config.cache_url) == ("memory://", "memory://",
                                                                     None)
    assert isinstance(config.open_ledger(), MemoryLedgerStore)
    assert isinstance(config.open_bus(), MemoryBus)
    assert isinstance(config.open_journeys(), MemoryJourneyStore)


def test_file_then_environment_then_code(tmp_path: Path) -> None:
    f = tmp_path / "backends.yaml"
    f.write_text("ledger_url: sqlite:///from-file.db\nbus_partitions: 4\n"
                 "bus_url: redis://file:6379/0\n", encoding="utf-8")
    env = {"TELCOFLOW_BUS_URL": "redis://env:6379/1", "TELCOFLOW_BUS_PARTITIONS": "16"}
    config = load_config(f, env=env, bus_partitions=32)
    assert config.ledger_url == "sqlite:///from-file.db"  # only in the file
    assert config.bus_url == "redis://env:6379/1"  # the environment beats the file
    assert config.bus_partitions == 32  # code beats both
    assert config.effective_journeys_url == "sqlite:///from-file.db"


def test_a_bad_file_is_reported_with_its_location(tmp_path: Path) -> None:
    f = tmp_path / "backends.yaml"
    f.write_text("ledger_url: sqlite:///x.db\nledger_ur1: oops\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"backends.yaml:2:1"):
        load_config(f, env={})


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(DefinitionError, match="TELCOFLOW_LEDGER_URL") as info:
        load_config(env={"TELCOFLOW_LEDGER_URL": "mysql://db/x"})
    assert "postgresql://" in str(info.value)
    with pytest.raises(DefinitionError, match="bus_partitions"):
        load_config(env={"TELCOFLOW_BUS_PARTITIONS": "0"})


def test_sqlite_urls_and_stores(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:///rel/x.db") == "rel/x.db"
    assert sqlite_path("sqlite:////abs/x.db") == "/abs/x.db"
    with pytest.raises(StoreError, match="sqlite:///<path>"):
        sqlite_path("sqlite://x.db")
    ledger = open_ledger_store(f"sqlite:///{tmp_path}/l.db")
    assert isinstance(ledger, SQLiteLedgerStore)
    ledger.close()
    assert isinstance(open_journey_store("sqlite:///:memory:"), SQLiteJourneyStore)
    bills = open_bill_store(f"sqlite:///{tmp_path}/b.db")
    assert bills.finished_accounts("2026-11") == set()
    bills.close()
    with pytest.raises(StoreError, match="unknown ledger URL"):
        open_ledger_store("oracle://x")
    with pytest.raises(StoreError, match="unknown bus URL"):
        open_bus("kafka://x")


def test_the_profile_cache_is_the_source_unless_a_redis_url_is_given() -> None:
    source = DictProfiles()
    assert open_profile_cache(None, source) is source
    assert open_profile_cache("memory://", source) is source
    with pytest.raises(StoreError, match="unknown profile cache URL"):
        open_profile_cache("memcached://x", source)


@pytest.mark.services
def test_postgres_and_redis_by_url(require_service: Callable[[str], None]) -> None:
    from telcoflow.bus.redis_streams import RedisStreamBus
    from telcoflow.stores.postgres import (
        PostgresBillStore,
        PostgresJourneyStore,
        PostgresLedgerStore,
    )
    from telcoflow.stores.redis.cache import RedisProfileCache

    with pg_schema(require_service) as schema, redis_prefix(require_service) as prefix:
        url = f"{PG_URL}?schema={schema}"
        config = BackendConfig(ledger_url=url, bus_url=REDIS_URL, bus_prefix=prefix,
                               bus_partitions=3)
        ledger = config.open_ledger()
        assert isinstance(ledger, PostgresLedgerStore)
        assert ledger.schema == schema
        journeys = config.open_journeys()
        assert isinstance(journeys, PostgresJourneyStore)
        bills = open_bill_store(url)
        assert isinstance(bills, PostgresBillStore)
        bus = config.open_bus()
        assert isinstance(bus, RedisStreamBus)
        assert (bus.prefix, bus.partitions) == (prefix, 3)
        cache = open_profile_cache(REDIS_URL, DictProfiles(), prefix=f"{prefix}:p")
        assert isinstance(cache, RedisProfileCache)
        for closable in (ledger, journeys, bills, bus, cache):
            closable.close()
