"""The runtime's compiled fast path against a plain reading of the compiled transitions.

``JourneyRuntime.send`` runs precompiled steps (bound actions, deadline op codes, one
``issuperset`` for payloads, a ``gated`` flag). Here a deliberately naive reference applies
each :class:`FlatTransition` field by field (guards always over a full scope, deadlines
recomputed from scratch and sorted) and random event sequences must leave both with the same
instance (state, context, history, deadlines, memory, version, outcome) and the same answers.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telcoflow.errors import EventRejectedError
from telcoflow.journeys.definition import (
    TIMEOUT_PREFIX,
    FlatTransition,
    Journey,
    load_journey,
    parse_journey,
)
from telcoflow.journeys.instance import SYSTEM_CHANNEL, JourneyInstance
from telcoflow.journeys.plan import DL_CLEAR, DL_NONE, DL_OTHER, DL_REPLACE1, Plan
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.stores.sqlite import SQLiteJourneyStore
from telcoflow.testing.journeys import noop_actions

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = {p.stem: load_journey(p) for p in sorted((ROOT / "journeys").glob("*.yaml"))}
# Two parallel regions with their own timeouts: entering sets two deadlines at once, and a
# region moving clears one deadline and sets another while the other region's stays.
JOURNEYS["twin_timeouts"] = parse_journey(textwrap.dedent("""\
    kind: journey
    id: twin
    triggers: {go: {}, a_done: {}, a_retry: {}, b_done: {}}
    states:
      start: {initial: true, on: {go: both}}
      both:
        parallel: true
        on_done: done
        states:
          a:
            states:
              wait:
                initial: true
                timeout: {after: 10m, target: gave_up}
                on: {a_done: ok, a_retry: again}
              again:
                timeout: {after: 5m, target: gave_up}
                on: {a_done: ok}
              ok: {final: true}
          b:
            states:
              wait:
                initial: true
                timeout: {after: 1h, target: gave_up}
                on: {b_done: ok}
              ok: {final: true}
      done: {outcome: completed}
      gave_up: {outcome: abandoned}
    """), "twin.yaml")


def _reference_send(journey: Journey, inst: JourneyInstance, trigger: str,
                    payload: Mapping[str, Any], channel: str, now: float) -> str | None:
    """Move ``inst`` the slow, obvious way; return the reason of a refusal, else None."""
    if inst.outcome is not None:
        return "finished"
    if channel not in journey.channels and channel != SYSTEM_CHANNEL:
        return "unknown-channel"
    if any(k not in journey.triggers.get(trigger, ()) for k in payload):
        return "unknown-payload-field"
    row = journey.table[inst.state]
    if trigger not in row:
        known = trigger in journey.triggers or trigger.startswith(TIMEOUT_PREFIX)
        return "invalid-trigger" if known else "unknown-trigger"
    scope = {**inst.context, **payload, "channel": channel, "trigger": trigger}
    chosen: FlatTransition | None = None
    for t in row[trigger]:
        if t.memory_key is not None and (inst.memory or {}).get(t.memory_key) != t.memory_value:
            continue
        if t.check is not None and not t.check(scope):
            continue
        chosen = t
        break
    if chosen is None:
        return None
    inst.context.update(payload)
    for counter in chosen.increment:
        inst.context[counter] = inst.context.get(counter, 0) + 1
    inst.state = chosen.target
    inst.history += (now, chosen.trigger, chosen.target, channel)
    if chosen.memory_updates:
        inst.memory = {**(inst.memory or {}), **dict(chosen.memory_updates)}
    if chosen.outcome is not None:
        inst.outcome = chosen.outcome
        inst.deadlines = ()
    else:
        kept = [] if chosen.deadlines_replace else [
            d for d in inst.deadlines if d[1] not in chosen.deadlines_clear]
        kept += [(now + after, s) for s, after in chosen.deadlines_set]
        inst.deadlines = tuple(sorted(kept))
    inst.version += 1
    return None


event = st.tuples(
    st.integers(0, 10_000),  # which trigger (modulo the journey's triggers + due timeouts)
    st.dictionaries(st.sampled_from(["a", "b", "c"]),
                    st.one_of(st.integers(0, 900), st.booleans()), max_size=3),
    st.sampled_from(["app", "web", "store", "call_centre", "fax"]),
)


def _walk(journey: Journey, events: list[tuple[int, dict[str, Any], str]]) -> JourneyInstance:
    runtime = JourneyRuntime(MemoryJourneyStore(), [journey], actions=noop_actions(journey))
    fast = runtime.start(journey.id, channel="app", instance_id="x", now=0.0)
    slow = fast.copy()
    triggers = list(journey.user_triggers())
    for step, (pick, raw, channel) in enumerate(events):
        now = float(step * 60)
        choices = triggers + [TIMEOUT_PREFIX + s for _, s in fast.deadlines]
        trigger = choices[pick % len(choices)]
        fields = journey.triggers.get(trigger, ())
        payload = {(fields[i] if i < len(fields) else "zz"): v
                   for i, v in enumerate(raw.values())}
        if trigger.startswith(TIMEOUT_PREFIX):
            channel, payload = SYSTEM_CHANNEL, {}
        try:
            runtime.send(fast, trigger, payload or None, channel=channel, now=now)
            got = None
        except EventRejectedError as exc:
            got = exc.reason
        expected = _reference_send(journey, slow, trigger, payload, channel, now)
        assert got == expected, f"step {step}: {trigger} {payload} via {channel}"
        assert fast.to_dict() == slow.to_dict(), f"step {step}: {trigger} {payload}"
    return fast


@pytest.mark.parametrize("name", sorted(JOURNEYS))
def test_fast_path_matches_the_reference(name: str) -> None:
    journey = JOURNEYS[name]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(event, max_size=30))
    def check(events: list[tuple[int, dict[str, Any], str]]) -> None:
        _walk(journey, events)  # asserts agreement after every event

    check()


def test_every_deadline_op_is_compiled_and_walked() -> None:
    """The journeys walked above use every deadline op code, so the property covers each."""
    ops = set()
    for journey in JOURNEYS.values():
        plan = Plan(journey, noop_actions(journey).get)
        ops |= {step.deadline_op for step in plan.steps.values()}
    assert ops == {DL_NONE, DL_CLEAR, DL_REPLACE1, DL_OTHER}


def test_rows_hold_their_first_step_and_its_candidates() -> None:
    """Each row entry is its first candidate; ``choose`` is set when a choice is needed."""
    for journey in JOURNEYS.values():
        actions = noop_actions(journey).get
        table, chooser = Plan(journey, actions), Plan(journey, actions, choose_all=True)
        for state, row in journey.table.items():
            for trigger, candidates in row.items():
                first = table.rows[state][trigger]
                assert [s.transition for s in first.candidates] == list(candidates)
                assert first.choose == (candidates[0].check is not None
                                        or candidates[0].memory_key is not None)
                assert first.fields == table.payloads.get(trigger, frozenset())
                assert chooser.rows[state][trigger].choose


def test_prepaid_walk_of_the_benchmark() -> None:
    """The benchmark's nine events, checked against the reference at every step."""
    journey = JOURNEYS["prepaid_online_purchase"]
    triggers = list(journey.user_triggers())
    steps: list[tuple[str, dict[str, Any]]] = [
        ("choose_offer", {"a": "prepaid-s"}), ("select_number", {"a": "+49151"}),
        ("payment_failed", {}), ("retry_payment", {}), ("kyc_passed", {}),
        ("payment_succeeded", {}), ("choose_delivery", {"a": False}),
        ("sim_shipped", {}), ("sim_delivered", {})]
    inst = _walk(journey, [(triggers.index(t), p, "web") for t, p in steps])
    assert inst.state == "activation"
    assert inst.context["payment_attempts"] == 1  # one payment_failed
    assert inst.version == 9  # nine transitions, one record each after the start
    assert len(list(inst.records())) == 10


def test_channel_in_history_is_the_journeys_own_string() -> None:
    """A channel built at run time is recorded as the journey's interned string."""
    journey = JOURNEYS["top_up"]
    runtime = JourneyRuntime(MemoryJourneyStore(), [journey], actions=noop_actions(journey))
    inst = runtime.start(journey.id, channel="app", now=0.0)
    channel = "".join(["w", "e", "b"])  # equal to "web", a different object
    runtime.send(inst, "choose_amount", {"amount": 10}, channel=channel, now=1.0)
    recorded = inst.history[-1]
    assert recorded == "web"
    assert recorded is not channel


def test_sqlite_store_settings_and_record_uniqueness(tmp_path: Path) -> None:
    store = SQLiteJourneyStore(tmp_path / "j.db", checkpoint_pages=2048)
    db = store._db  # a look inside, for the settings
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 2048
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    journey = JOURNEYS["top_up"]
    runtime = JourneyRuntime(store, [journey], actions=noop_actions(journey))
    inst = runtime.start(journey.id, channel="app", instance_id="u-1", now=0.0)
    store.create(inst)
    with pytest.raises(sqlite3.IntegrityError):  # one record per (instance, seq)
        db.execute("INSERT INTO journey_records VALUES ('u-1', 0, 1.0, 'x', 'y', 'app')")
    store.close()
