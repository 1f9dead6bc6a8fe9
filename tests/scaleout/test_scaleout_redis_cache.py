"""The customer-profile cache on Redis: CRM feed with versions, read-through, TTLs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from scaleout_helpers import REDIS_URL, redis_prefix

from telcoflow.accounts import (
    AccountProfile,
    DictProfiles,
    DiscountRule,
    ProfileCache,
    SplitPolicy,
    SubscriberAllowance,
    SubscriberProfile,
)
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.demo.generator import generate_events, generate_population
from telcoflow.errors import StoreError
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.stores.redis.cache import (
    ProfileUpdate,
    RedisProfileCache,
    account_from_dict,
    account_to_dict,
)

pytestmark = pytest.mark.services

ACC = AccountProfile("acc-1", prepaid=False, bill_cycle_day=15, credit_limit=Decimal("100.00"),
                     tax_rates={"*": Decimal("0.20"), "data": Decimal("0.10")},
                     discounts=(DiscountRule("fam", Decimal(10), frozenset({"data"}),
                                             Decimal("5.00")),),
                     split=SplitPolicy("corp", frozenset({"plan"}), Decimal("80.00")))
SUB = SubscriberProfile("sub-1", ACC, offer="5g-plus", segment="family", allowances=(
    SubscriberAllowance("data", Decimal(30000), frozenset({"data"}), frozenset({"home"}), 1),))


class CountingSource:
    """The host's customer database: counts how often it is asked."""

    def __init__(self, *profiles: AccountProfile | SubscriberProfile) -> None:
        self.inner = DictProfiles()
        self.inner.add(*profiles)
        self.asked = 0

    def subscriber(self, subscriber_id: str) -> SubscriberProfile | None:
        self.asked += 1
        return self.inner.subscriber(subscriber_id)

    def account(self, account_id: str) -> AccountProfile | None:
        self.asked += 1
        return self.inner.account(account_id)


@pytest.fixture
def prefix(require_service: Callable[[str], None]) -> Iterator[str]:
    with redis_prefix(require_service) as p:
        yield p


def test_profiles_survive_the_round_trip_exactly() -> None:
    assert account_from_dict(account_to_dict(ACC)) == ACC


def test_read_through_then_served_from_redis(prefix: str) -> None:
    source = CountingSource(SUB)
    cache = RedisProfileCache(REDIS_URL, source=source, prefix=prefix, ttl_s=60)
    assert isinstance(cache, ProfileCache)
    assert cache.subscriber("sub-1") == SUB  # miss: read through (subscriber)
    asked = source.asked
    assert cache.subscriber("sub-1") == SUB  # now from Redis, with its account
    assert cache.account("acc-1") == ACC
    assert source.asked == asked + 1  # only the account was read through, once
    assert cache.subscriber("nobody") is None
    assert 0 < int(cache.redis.ttl(f"{prefix}:sub:sub-1")) <= 60  # entries expire
    cache.close()


def test_feed_versions_only_move_forward(prefix: str) -> None:
    cache = RedisProfileCache(REDIS_URL, source=CountingSource(ACC), prefix=prefix)
    v2 = AccountProfile("acc-1", credit_limit=Decimal("200.00"))
    v1 = AccountProfile("acc-1", credit_limit=Decimal("50.00"))
    assert cache.apply([ProfileUpdate.upsert(v2, 2), ProfileUpdate.upsert(v1, 1)]) == 1
    assert cache.account("acc-1") == v2  # the late, older version 1 was ignored
    assert cache.version("account", "acc-1") == 2
    assert cache.apply([ProfileUpdate.upsert(v2, 2)]) == 0  # a replayed feed changes nothing
    cache.close()


def test_a_delete_leaves_a_tombstone_that_old_upserts_cannot_undo(prefix: str) -> None:
    source = CountingSource(SUB)
    cache = RedisProfileCache(REDIS_URL, source=source, prefix=prefix)
    cache.apply([ProfileUpdate.upsert(SUB, 3), ProfileUpdate.upsert(ACC, 3)])
    assert cache.subscriber("sub-1") == SUB
    cache.apply([ProfileUpdate.delete("subscriber", "sub-1", 4),
                 ProfileUpdate.upsert(SUB, 3)])  # an older upsert arriving after the delete
    asked = source.asked
    assert cache.subscriber("sub-1") is None  # deleted: not read through to the source
    assert source.asked == asked
    cache.invalidate("subscriber", "sub-1")
    assert cache.subscriber("sub-1") == SUB  # forgotten: read through again
    with pytest.raises(StoreError, match="version must be >= 1"):
        cache.apply([ProfileUpdate.upsert(SUB, 0)])
    cache.close()


def test_a_read_through_never_overwrites_a_fed_version(prefix: str) -> None:
    fed = AccountProfile("acc-1", credit_limit=Decimal("999.00"))
    cache = RedisProfileCache(REDIS_URL, source=CountingSource(ACC), prefix=prefix)
    cache.apply([ProfileUpdate.upsert(fed, 1)])
    cache._fill(f"{prefix}:acc:acc-1", ACC)  # a slow reader arriving late
    assert cache.account("acc-1") == fed
    cache.close()


def test_local_copies_spare_redis_round_trips(prefix: str) -> None:
    cache = RedisProfileCache(REDIS_URL, source=CountingSource(SUB), prefix=prefix,
                              local_ttl_s=60)
    cache.subscriber("sub-1")
    hits = cache.hits
    for _ in range(5):
        assert cache.subscriber("sub-1") == SUB
    assert cache.hits == hits  # served locally
    cache.apply([ProfileUpdate.delete("subscriber", "sub-1", 1)])  # the feed drops the copy
    assert cache.subscriber("sub-1") is None
    cache.close()


def test_the_graph_rates_the_same_through_the_redis_cache(prefix: str) -> None:
    pop = generate_population(30, seed=5)
    events = list(generate_events(pop, events=1500, seed=6))
    direct = MemoryLedgerStore()
    RealtimeBilling(direct, default_graph(pop.profiles, pop.rater, fees=pop.fees)).stream(events)
    cache = RedisProfileCache(REDIS_URL, source=pop.profiles, prefix=prefix, local_ttl_s=5)
    cached = MemoryLedgerStore()
    RealtimeBilling(cached, default_graph(cache, pop.rater, fees=pop.fees)).stream(events)
    assert cached.lines() == direct.lines()
    cache.close()
