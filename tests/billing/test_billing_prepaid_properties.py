"""Invariants of prepaid balances (hypothesis): the floor holds, every cent is accounted for."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec

from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.events import Event, PaymentEvent, UsageEvent
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.memory import MemoryLedgerStore

AT = datetime(2026, 11, 10, 12)

#: ("top_up", cents) or ("data", MB at 0.01 per MB)
steps = st.lists(st.tuples(st.sampled_from(["top_up", "data"]),
                           st.integers(min_value=1, max_value=3000)), min_size=1, max_size=30)


def events_of(spec: list[tuple[str, int]]) -> list[Event]:
    out: list[Event] = []
    for i, (kind, n) in enumerate(spec):
        if kind == "top_up":
            out.append(PaymentEvent(f"t{i}", "a", "top_up", AT, Dec(n) / 100))
        else:
            out.append(UsageEvent(f"u{i}", "s", "a", "data", AT, Dec(n)))
    return out


@settings(max_examples=60, deadline=None)
@given(spec=steps, overdraft=st.sampled_from(["0", "5.00"]),
       batch=st.integers(min_value=1, max_value=7))
def test_floor_holds_and_balance_minus_debt_is_money_in_minus_out(
        spec: list[tuple[str, int]], overdraft: str, batch: int) -> None:
    account = AccountProfile("a", prepaid=True, overdraft_limit=Dec(overdraft))
    profiles = DictProfiles([account], [SubscriberProfile("s", account)])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Dec("0.01"))})
    billing = RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, rater))
    events = events_of(spec)
    notified: list[str] = []
    in_debt = False
    for start in range(0, len(events), batch):
        told = [n.event_id for n in billing.process(events[start:start + batch]).notifications
                if n.kind == "prepaid-debt"]
        counters = billing.store.get_counters(["bal|a", "debt|a"])
        assert counters.get("bal|a", Dec(0)) >= -Dec(overdraft)   # never below the floor
        debt_now = counters.get("debt|a", Dec(0)) > 0
        if debt_now and not in_debt:
            assert told                              # falling into debt is never silent
        notified += told
        in_debt = debt_now
    assert len(notified) == len(set(notified))       # at most one notification per event
    counters = billing.store.get_counters(["bal|a", "debt|a"])
    balance, debt = counters.get("bal|a", Dec(0)), counters.get("debt|a", Dec(0))
    money_in = sum((e.amount for e in events if isinstance(e, PaymentEvent)), Dec(0))
    money_out = sum(billing.account_totals().values(), Dec(0))
    assert balance - debt == money_in - money_out     # every cent is in one or the other
    assert debt >= 0
    assert debt == 0 or balance == -Dec(overdraft)    # debt only once the floor is reached
    # a replay of everything moves nothing and notifies nothing
    assert billing.process(events).notifications == []
    assert billing.store.get_counters(["bal|a", "debt|a"]) == counters
