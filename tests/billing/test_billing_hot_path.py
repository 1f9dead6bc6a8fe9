"""The hot path's shortcuts keep the exact behaviour: lazy and local fingerprints, the
memory store's claim segments, memoised tariffs, batch reads of closed periods."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as Dec

from billing_world import data, make_billing
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.billing.batch import Item
from telcoflow.events import UsageEvent, fingerprint, local_fingerprint, same_payload
from telcoflow.ledger import ChangeSet, Claim, CounterMoves
from telcoflow.periods import PeriodResolver
from telcoflow.stores.memory import MemoryLedgerStore

AT = datetime(2026, 11, 10, 12, 0)


def test_local_fingerprint_tells_payloads_apart_like_the_digest() -> None:
    a = UsageEvent("x", "s", "a", "data", AT, Dec(1))
    same = replace(a)
    other_text = replace(a, quantity=Dec("1.0"))  # equal value, other text: another payload
    utc = replace(a, start=AT.replace(tzinfo=timezone.utc))
    plus_one = replace(a, start=(AT + timedelta(hours=1)).replace(
        tzinfo=timezone(timedelta(hours=1))))  # the same instant as `utc`, another offset
    assert local_fingerprint(a) == local_fingerprint(same)
    for b in (other_text, utc, plus_one):
        assert (local_fingerprint(a) == local_fingerprint(b)) == (fingerprint(a) == fingerprint(b))
    assert local_fingerprint(utc) != local_fingerprint(plus_one)
    assert fingerprint(utc) != fingerprint(plus_one)
    assert same_payload(local_fingerprint(a), same)
    assert same_payload(fingerprint(a), same)
    assert not same_payload(local_fingerprint(a), other_text)


def test_item_fingerprint_is_computed_when_first_read() -> None:
    e = UsageEvent("x", "s", "a", "data", AT, Dec(3))
    item = Item(e)
    assert item._fingerprint == ""  # nothing computed on creation
    assert item.fingerprint == fingerprint(e)
    item.fingerprint = "given"
    assert item.fingerprint == "given"


def test_memory_store_claims_span_segments() -> None:
    store = MemoryLedgerStore()
    # 3 change sets of 700 claims: the 1,024-claim segment closes inside the second one
    for batch in range(3):
        store.apply(ChangeSet(claims={
            f"e{batch}-{i}": Claim(f"e{batch}-{i}", f"fp{batch}-{i}",
                                   [CounterMoves((f"k{i}", Dec(batch)))])
            for i in range(700)
        }))
    assert store.claim_count() == 2100
    got = store.get_claims(["e0-0", "e1-400", "e2-699", "nope"])
    assert {k: (c.fingerprint, c.effects) for k, c in got.items()} == {
        "e0-0": ("fp0-0", [CounterMoves(("k0", Dec(0)))]),
        "e1-400": ("fp1-400", [CounterMoves(("k400", Dec(1)))]),
        "e2-699": ("fp2-699", [CounterMoves(("k699", Dec(2)))]),
    }


def test_replays_and_conflicts_with_local_fingerprints() -> None:
    billing = make_billing()  # memory store: local fingerprints
    e = data("r1", "s-post", "post", 10)
    billing.process([e])
    assert billing.process([replace(e)]).duplicates == 1
    conflict = billing.process([replace(e, quantity=Dec("10.0"))])
    assert conflict.rejected == {"conflict": 1}
    # 10 MB x 0.05 = 0.50, once
    assert billing.account_totals() == {"post": Dec("0.50")}


def test_memoised_tariffs_give_the_same_amounts_across_batches() -> None:
    billing = make_billing()
    # voice 0.01/s after a 60 s minimum, then per 30 s: 61 s -> 90 s charged = 0.90, twice
    for n in range(2):
        billing.process([UsageEvent(f"v{n}", "s-post", "post", "voice", AT, Dec(61))])
    assert billing.account_totals() == {"post": Dec("1.80")}


def test_closed_periods_are_read_once_per_batch_and_followed() -> None:
    billing = make_billing()
    billing.close_period("post", "2026-11-01")
    billing.close_period("post", "2026-12-01")
    result = billing.process([data("l1", "s-post", "post", 10), data("l2", "s-post", "post", 20)])
    assert result.accepted == 2
    # both skip the two closed periods: 30 MB x 0.05 = 1.50 in January
    assert [(ln.period, ln.amount) for ln in billing.store.lines()] == [("2027-01-01",
                                                                         Dec("1.50"))]


def test_period_resolver_tables() -> None:
    periods = PeriodResolver()
    day = datetime(2026, 11, 3)
    assert periods(day, 15) == "2026-10-15"
    assert periods.table(15)[day.toordinal()] == "2026-10-15"
    assert periods.resolve(day.toordinal(), 1) == "2026-11-01"


_QTY = st.sampled_from([Dec(1), Dec("1.0"), Dec("1.00"), Dec(2), Dec("0.5"), Dec("5E-1")])
_ZONES = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=1)),
                          timezone(timedelta(hours=-1))])
_HOURS = st.integers(min_value=10, max_value=13)


@given(q1=_QTY, q2=_QTY, z1=_ZONES, z2=_ZONES, h1=_HOURS, h2=_HOURS,
       zone1=st.sampled_from(["home", "eu"]), zone2=st.sampled_from(["home", "eu"]))
@settings(max_examples=200, deadline=None)
def test_local_and_digest_fingerprints_agree(q1: Dec, q2: Dec, z1: timezone | None,
                                             z2: timezone | None, h1: int, h2: int,
                                             zone1: str, zone2: str) -> None:
    a = UsageEvent("x", "s", "a", "data", AT.replace(hour=h1, tzinfo=z1), q1, zone=zone1)
    b = UsageEvent("x", "s", "a", "data", AT.replace(hour=h2, tzinfo=z2), q2, zone=zone2)
    assert (local_fingerprint(a) == local_fingerprint(b)) == (fingerprint(a) == fingerprint(b))


class _RemoteLike:
    """A store that keeps no counters in this process (like PostgreSQL): no counter_view."""

    def __init__(self) -> None:
        self.inner = MemoryLedgerStore()
        self.counter_reads = 0

    def get_claims(self, event_ids: list[str]) -> dict[str, Claim]:
        return self.inner.get_claims(event_ids)

    def get_counters(self, keys: list[str]) -> dict[str, Dec]:
        self.counter_reads += 1
        return self.inner.get_counters(keys)

    def get_flags(self, keys: list[str]) -> set[str]:
        return self.inner.get_flags(keys)

    def apply(self, changes: ChangeSet) -> None:
        self.inner.apply(changes)


def test_stores_with_and_without_a_counter_view_give_the_same_ledger() -> None:
    from telcoflow.billing.realtime import RealtimeBilling, default_graph
    from telcoflow.demo.generator import generate_events, generate_population

    pop = generate_population(60, seed=3)
    events = list(generate_events(pop, events=3_000, seed=4))
    with_view = MemoryLedgerStore()
    remote = _RemoteLike()
    for store in (with_view, remote):
        billing = RealtimeBilling(store, default_graph(pop.profiles, pop.rater, fees=pop.fees))  # type: ignore[arg-type]
        totals = billing.stream(events, batch_size=500)
        assert totals.rejected == 0
    assert with_view.lines() == remote.inner.lines()
    assert with_view.lines()  # something was posted
    keys = [k for k in remote.inner.counter_view if k.startswith(("alw|", "bal|", "spend|"))]
    assert keys
    assert with_view.get_counters(keys) == remote.inner.get_counters(keys)
    # without a view, counters are read in batches: a few store calls per batch, not per event
    assert 0 < remote.counter_reads <= 6 * (len(events) // 500)
