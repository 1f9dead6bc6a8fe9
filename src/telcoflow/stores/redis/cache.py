"""The customer-profile cache on Redis: kept in sync from a CRM feed, read through on a miss.

:class:`RedisProfileCache` is a :class:`~telcoflow.accounts.ProfileCache` shared by
every worker:

- **CRM feed**: :meth:`RedisProfileCache.apply` takes :class:`ProfileUpdate` records
  (upserts and deletes, each with the CRM's version number). A record older than or equal to
  what Redis holds is ignored (a Lua script compares and writes in one step), so a feed
  replayed or delivered out of order never goes back in time. A delete leaves a *tombstone*
  (the version, no data): the profile reads as unknown and an older upsert arriving late
  cannot bring it back.
- **Read-through**: a miss (never fed, or expired) asks ``source`` (the host's customer
  database, any ``ProfileCache``) and stores the answer (version 0, so any fed version wins).
- **TTLs**: every entry expires after ``ttl_s`` seconds (re-fed or re-read after that);
  ``local_ttl_s`` adds a per-process copy for that many seconds (0: off) -- faster, but a
  worker may see a change that late.

Entries are ``<version>|<json>`` strings under ``<prefix>:acc:<id>`` and
``<prefix>:sub:<id>``; amounts are decimal strings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from telcoflow._optional import requires
from telcoflow.accounts import (
    AccountProfile,
    DiscountRule,
    ProfileCache,
    SplitPolicy,
    SubscriberAllowance,
    SubscriberProfile,
)
from telcoflow.errors import StoreError
from telcoflow.privacy import redact_url

with requires("redis", "the Redis cache"):
    import redis

__all__ = [
    "ProfileUpdate",
    "RedisProfileCache",
    "account_from_dict",
    "account_to_dict",
    "subscriber_from_dict",
    "subscriber_to_dict",
]

_PUT = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
"""


@contextmanager
def _redis_errors(what: str, url: str) -> Iterator[None]:
    url = redact_url(url)
    try:
        yield
    except redis.RedisError as exc:
        raise StoreError(f"Redis profile cache {url}: {what} failed: {exc}") from exc


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def account_to_dict(a: AccountProfile) -> dict[str, Any]:
    """An account profile as JSON-ready data (decimals as strings)."""
    return {
        "id": a.id, "prepaid": a.prepaid, "bill_cycle_day": a.bill_cycle_day,
        "currency": a.currency, "credit_limit": _str(a.credit_limit),
        "thresholds": [str(t) for t in a.thresholds],
        "tax_rates": {k: str(v) for k, v in a.tax_rates.items()},
        "discounts": [{"name": d.name, "percent": str(d.percent),
                       "item_types": sorted(d.item_types), "cap": _str(d.cap)}
                      for d in a.discounts],
        "split": None if a.split is None else {
            "payer": a.split.payer,
            "item_types": None if a.split.item_types is None else sorted(a.split.item_types),
            "cap": _str(a.split.cap)},
    }


def account_from_dict(d: dict[str, Any]) -> AccountProfile:
    """The account profile of :func:`account_to_dict` data."""
    split = d.get("split")
    return AccountProfile(
        id=d["id"], prepaid=bool(d.get("prepaid", False)),
        bill_cycle_day=int(d.get("bill_cycle_day", 1)), currency=d.get("currency", "EUR"),
        credit_limit=_dec(d.get("credit_limit")),
        thresholds=tuple(Decimal(t) for t in d.get("thresholds", ("80", "100"))),
        tax_rates={k: Decimal(v) for k, v in d.get("tax_rates", {}).items()},
        discounts=tuple(DiscountRule(x["name"], Decimal(x["percent"]),
                                     frozenset(x["item_types"]), _dec(x.get("cap")))
                        for x in d.get("discounts", ())),
        split=None if not split else SplitPolicy(
            split["payer"],
            None if split.get("item_types") is None else frozenset(split["item_types"]),
            _dec(split.get("cap"))),
    )


def subscriber_to_dict(s: SubscriberProfile) -> dict[str, Any]:
    """A subscriber profile as JSON-ready data (its account by id)."""
    return {
        "id": s.id, "account": s.account.id, "offer": s.offer, "segment": s.segment,
        "allowances": [{"name": x.name, "units": str(x.units),
                        "usage_types": sorted(x.usage_types),
                        "zones": None if x.zones is None else sorted(x.zones),
                        "priority": x.priority} for x in s.allowances],
    }


def subscriber_from_dict(d: dict[str, Any], account: AccountProfile) -> SubscriberProfile:
    """The subscriber profile of :func:`subscriber_to_dict` data, with its account."""
    return SubscriberProfile(
        id=d["id"], account=account, offer=d.get("offer", ""), segment=d.get("segment", ""),
        allowances=tuple(SubscriberAllowance(
            x["name"], Decimal(x["units"]), frozenset(x["usage_types"]),
            None if x.get("zones") is None else frozenset(x["zones"]),
            int(x.get("priority", 0))) for x in d.get("allowances", ())),
    )


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """One CRM feed record: an upsert (``profile`` given) or a delete (``profile=None``) of
    the account or subscriber ``id`` at ``version`` (higher wins).

    ``kind`` is ``"account"`` or ``"subscriber"``.
    """

    kind: str
    id: str
    version: int
    profile: AccountProfile | SubscriberProfile | None = None

    @classmethod
    def upsert(cls, profile: AccountProfile | SubscriberProfile, version: int) -> ProfileUpdate:
        """An upsert of ``profile`` at ``version``."""
        kind = "subscriber" if isinstance(profile, SubscriberProfile) else "account"
        return cls(kind, profile.id, version, profile)

    @classmethod
    def delete(cls, kind: str, id: str, version: int) -> ProfileUpdate:
        """A delete of account / subscriber ``id`` at ``version``."""
        return cls(kind, id, version, None)


_MISSING = object()


class RedisProfileCache:
    """A shared :class:`~telcoflow.accounts.ProfileCache` on Redis (module docs)."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *,
                 source: ProfileCache | None = None, ttl_s: int = 3600,
                 prefix: str = "telcoflow:profiles", local_ttl_s: float = 0.0,
                 client: redis.Redis | None = None) -> None:
        if ttl_s < 1:
            raise StoreError(f"`ttl_s` must be >= 1 (got {ttl_s})")
        self.url = url
        self.source = source
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.local_ttl_s = local_ttl_s
        self.redis: redis.Redis = client if client is not None else redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=5.0)
        self._put = self.redis.register_script(_PUT)
        self._local: dict[str, tuple[float, object]] = {}
        self.hits = 0
        self.misses = 0

    def _key(self, kind: str, id: str) -> str:
        return f"{self.prefix}:{'acc' if kind == 'account' else 'sub'}:{id}"

    # -- the CRM feed ------------------------------------------------------------------
    def apply(self, updates: Iterable[ProfileUpdate]) -> int:
        """Apply feed records (newer versions only); return how many changed the cache."""
        with _redis_errors("applying the CRM feed", self.url), self.redis.pipeline(
                transaction=False) as pipe:
            n = 0
            for u in updates:
                if u.kind not in ("account", "subscriber"):
                    raise StoreError(f"profile update kind must be 'account' or 'subscriber' "
                                     f"(got {u.kind!r} for {u.id})")
                if u.version < 1:
                    raise StoreError(f"profile update version must be >= 1 (got {u.version} "
                                     f"for {u.kind} {u.id})")
                body = "null" if u.profile is None else json.dumps(
                    self._to_dict(u.profile), separators=(",", ":"))
                self._put(keys=[self._key(u.kind, u.id)], args=[u.version, body, self.ttl_s],
                          client=pipe)
                self._local.pop(self._key(u.kind, u.id), None)
                n += 1
            results = pipe.execute() if n else []
        return sum(int(r) for r in results)

    @staticmethod
    def _to_dict(profile: AccountProfile | SubscriberProfile) -> dict[str, Any]:
        if isinstance(profile, SubscriberProfile):
            return subscriber_to_dict(profile)
        return account_to_dict(profile)

    def version(self, kind: str, id: str) -> int | None:
        """The version Redis holds for account / subscriber ``id`` (0: read through)."""
        with _redis_errors("reading a version", self.url):
            raw = self.redis.get(self._key(kind, id))
        return None if raw is None else int(str(raw).split("|", 1)[0])

    def invalidate(self, kind: str, id: str) -> None:
        """Forget ``id`` here and in Redis (the next read goes to the source)."""
        key = self._key(kind, id)
        self._local.pop(key, None)
        with _redis_errors("invalidating", self.url):
            self.redis.delete(key)

    # -- reads -------------------------------------------------------------------------
    def _get(self, key: str) -> object:
        """The decoded data under ``key``: a dict, ``None`` (tombstone) or ``_MISSING``."""
        if self.local_ttl_s > 0:
            hit = self._local.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
        with _redis_errors("reading a profile", self.url):
            raw = self.redis.get(key)
        if raw is None:
            self.misses += 1
            return _MISSING
        self.hits += 1
        data = json.loads(str(raw).split("|", 1)[1])
        self._remember(key, data)
        return data

    def _remember(self, key: str, data: object) -> None:
        if self.local_ttl_s > 0:
            self._local[key] = (time.monotonic() + self.local_ttl_s, data)

    def _fill(self, key: str, profile: AccountProfile | SubscriberProfile) -> None:
        data = self._to_dict(profile)
        with _redis_errors("storing a profile read through", self.url):
            # version 0: only where nothing is (a fed version or tombstone always wins)
            self.redis.set(key, "0|" + json.dumps(data, separators=(",", ":")), ex=self.ttl_s,
                           nx=True)
        self._remember(key, data)

    def account(self, account_id: str) -> AccountProfile | None:
        """The account's profile, or ``None`` (unknown or deleted)."""
        key = self._key("account", account_id)
        data = self._get(key)
        if data is _MISSING:
            found = self.source.account(account_id) if self.source is not None else None
            if found is not None:
                self._fill(key, found)
            return found
        return None if data is None else account_from_dict(data)  # type: ignore[arg-type]

    def subscriber(self, subscriber_id: str) -> SubscriberProfile | None:
        """The subscriber's profile (with its account), or ``None`` (unknown or deleted)."""
        key = self._key("subscriber", subscriber_id)
        data = self._get(key)
        if data is _MISSING:
            found = self.source.subscriber(subscriber_id) if self.source is not None else None
            if found is not None:
                self._fill(key, found)
            return found
        if data is None:
            return None
        assert isinstance(data, dict)
        account = self.account(data["account"])
        if account is None:
            return None
        return subscriber_from_dict(data, account)

    def close(self) -> None:
        """Close the connection pool."""
        self.redis.close()
