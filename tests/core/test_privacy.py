"""Privacy by default: identifiers masked in dead letters and worker output, URLs redacted."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as Dec

import pytest

from telcoflow.accounts import AccountProfile, DictProfiles, SubscriberProfile
from telcoflow.billing.realtime import RealtimeBilling, default_graph
from telcoflow.bus import MemoryBus, Message
from telcoflow.bus.base import BusError
from telcoflow.errors import TelcoflowError
from telcoflow.events import UsageEvent
from telcoflow.privacy import CLEAR, DEFAULT_MASKING, MaskingPolicy, redact_url
from telcoflow.rating.rater import TableRater, UnitTariff
from telcoflow.stores.memory import MemoryLedgerStore
from telcoflow.worker import Worker, WorkerApp, WorkerOptions

MSISDN = "447700900123"
IMSI = "234150999999999"
AT = datetime(2026, 11, 3, 9)


def billing(masking: MaskingPolicy = DEFAULT_MASKING) -> RealtimeBilling:
    acct = AccountProfile("acc")
    profiles = DictProfiles([acct], [SubscriberProfile(MSISDN, acct)])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Dec("0.01"))})
    return RealtimeBilling(MemoryLedgerStore(), default_graph(profiles, rater), masking=masking)


def test_dead_letters_mask_msisdn_and_imsi_by_default() -> None:
    b = billing()
    b.process([UsageEvent("e1", IMSI, "acc", "data", AT, Dec(1)),
               UsageEvent("e2", MSISDN, "other", "data", AT, Dec(1))])
    text = " ".join(f"{d.message} {d.payload}" for d in b.store.dead_letters())
    assert MSISDN not in text
    assert IMSI not in text
    assert "*************99" in text  # the IMSI's last two digits stay, to tell lines apart
    assert "**********23" in text


def test_clear_values_only_where_the_operator_opts_in() -> None:
    b = billing(CLEAR)
    b.process([UsageEvent("e1", IMSI, "acc", "data", AT, Dec(1))])
    assert IMSI in b.store.dead_letters()[0].message


def test_the_worker_masks_bus_dead_letters_and_errors() -> None:
    acct = AccountProfile("acc")
    profiles = DictProfiles([acct], [SubscriberProfile(MSISDN, acct)])
    rater = TableRater({("data", "*", ""): UnitTariff("data", Dec("0.01"))})
    bus = MemoryBus(1)
    body = f'["usage","e9","{MSISDN}","acc","data","not a time","1"]'
    bus.publish([Message("billing", "acc", body)])
    store = MemoryLedgerStore()
    Worker(store, WorkerApp(default_graph(profiles, rater)), bus, name="w").run(idle_exit=0.1)
    (dead,) = bus.dead_letters()
    assert MSISDN not in dead.message.body
    assert MSISDN not in dead.detail
    assert MSISDN not in store.dead_letters()[0].message


def test_urls_lose_their_password_in_every_error() -> None:
    assert redact_url("postgresql://bss:hunter2@db:5432/ledger") == (
        "postgresql://bss:***@db:5432/ledger")
    assert redact_url("not a url") == "not a url"
    pytest.importorskip("redis")
    from telcoflow.bus.redis_streams import RedisStreamBus

    bus = RedisStreamBus("redis://:hunter2@127.0.0.1:1/0", prefix="privacy-test")
    with pytest.raises(BusError) as caught:
        bus.backlog()
    assert "hunter2" not in str(caught.value)
    assert "redis://:***@127.0.0.1:1/0" in str(caught.value)
    assert isinstance(caught.value, TelcoflowError)


def test_the_health_endpoint_binds_the_loopback_by_default() -> None:
    from telcoflow.cli import worker

    assert WorkerOptions().metrics_host == "127.0.0.1"
    [option] = [p for p in worker.params if p.name == "metrics_host"]
    assert option.default == "127.0.0.1"


def test_explain_traces_mask_identifiers_they_saw() -> None:
    from telcoflow.rules.trace import DecisionTrace, Match, Trace

    match = Match("d", "r1", {"event.msisdn": MSISDN}, {"out": "ok"})
    trace = Trace("p", "1", "d" * 16, lets={"who": MSISDN}, decisions=(
        DecisionTrace("d", "table", "U", True, 1, 1, (match,), "ok"),))
    assert MSISDN not in trace.render()
    assert MSISDN not in str(trace.to_dict())
    assert MSISDN in trace.render(masking=CLEAR)
