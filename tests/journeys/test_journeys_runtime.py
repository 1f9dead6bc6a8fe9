"""The journey runtime: send, guards, actions, history, deadlines, concurrency, migrations."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from telcoflow.errors import ConcurrencyError, EventRejectedError, JourneyError, StoreError
from telcoflow.journeys.actions import ActionRegistry
from telcoflow.journeys.definition import Journey, parse_journey
from telcoflow.journeys.instance import ManualClock
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.stores.sqlite import SQLiteJourneyStore

PAYMENT = textwrap.dedent("""
    kind: journey
    id: pay
    version: 1
    context: {attempts: 0}
    triggers:
      start_payment: {payload: [amount]}
      failed: {}
      retry: {}
      succeeded: {}
      interrupt: {}
      resume: {}
    guards:
      can_retry: "attempts < 2"
      big: "amount >= 100 and channel == 'store'"
    actions: [charge, note]
    states:
      cart:
        initial: true
        on:
          start_payment:
            - {target: review, guard: big}
            - {target: paying, actions: [note]}
      review:
        on: {succeeded: done}
      paying:
        history: true
        timeout: {after: 15m, target: abandoned}
        on:
          interrupt: hold
        states:
          pending:
            initial: true
            on:
              succeeded: {target: done, actions: [charge], emit: [paid]}
              failed: {target: failed, increment: [attempts]}
          failed:
            on:
              retry: {target: pending, guard: can_retry}
      hold:
        on: {resume: {target: paying, resume: true}}
      done: {outcome: completed}
      abandoned: {outcome: abandoned}
    """)


def load(text: str = PAYMENT) -> Journey:
    return parse_journey(text, "pay.yaml")


class Recorder:
    """Host actions that record their calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.registry = ActionRegistry()

        @self.registry.action("charge")
        def charge(**kw: Any) -> dict[str, Any]:
            self.calls.append(("charge", kw))
            return {"receipt": f"r-{kw['instance_id']}"}

        @self.registry.action()
        def note(**kw: Any) -> None:
            self.calls.append(("note", kw))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def runtime(clock: ManualClock, rec: Recorder) -> JourneyRuntime:
    return JourneyRuntime(MemoryJourneyStore(), [load()], actions=rec.registry, clock=clock)


def test_start_records_the_initial_state(runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="web", instance_id="i1")
    assert inst.state == "cart"
    assert inst.version == 0
    assert [tuple(r) for r in inst.records()] == [(1000.0, "@start", "cart", "web")]
    assert inst.context == {"attempts": 0}


def test_send_moves_runs_actions_and_records(runtime: JourneyRuntime, rec: Recorder,
                                            clock: ManualClock) -> None:
    inst = runtime.start("pay", channel="app", instance_id="i1")
    r = runtime.send(inst, "start_payment", {"amount": 20}, channel="web")
    # 20 < 100: `big` is false, the second alternative fires
    assert (r.moved, r.previous, r.state, r.actions) == (True, "cart", "paying.pending",
                                                        ("note",))
    assert rec.calls[0][0] == "note"
    kwargs = rec.calls[0][1]
    assert kwargs["payload"] == {"amount": 20}
    assert kwargs["channel"] == "web"
    assert kwargs["trigger"] == "start_payment"
    assert inst.context == {"attempts": 0, "amount": 20}  # payload copied into the context
    clock.advance(60)
    r = runtime.send(inst, "succeeded", channel="store")
    assert (r.state, r.actions, r.emitted, r.outcome) == ("done", ("charge",), ("paid",),
                                                          "completed")
    assert inst.context["receipt"] == "r-i1"  # the action's returned update
    assert inst.outcome == "completed"
    assert inst.deadlines == ()
    assert inst.version == 2
    assert [(r.at, r.trigger, r.state, r.channel) for r in inst.records()] == [
        (1000.0, "@start", "cart", "app"),
        (1000.0, "start_payment", "paying.pending", "web"),
        (1060.0, "succeeded", "done", "store"),
    ]


def test_guard_reads_payload_and_channel(runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="store")
    assert runtime.send(inst, "start_payment", {"amount": 150}, channel="store").state == (
        "review")
    other = runtime.start("pay", channel="web")
    # same amount from the web: `channel == 'store'` is false
    assert runtime.send(other, "start_payment", {"amount": 150}, channel="web").state == (
        "paying.pending")


def test_counter_and_guard_stop_retries(runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="app")
    runtime.send(inst, "start_payment", {"amount": 1}, channel="app")
    runtime.send(inst, "failed", channel="app")  # attempts 0 -> 1
    assert runtime.send(inst, "retry", channel="app").state == "paying.pending"  # 1 < 2
    runtime.send(inst, "failed", channel="app")  # attempts 1 -> 2
    version = inst.version
    r = runtime.send(inst, "retry", channel="app")  # 2 < 2 is false: nothing moves
    assert not r.moved
    assert r.state == "paying.failed"
    assert inst.version == version
    assert inst.context["attempts"] == 2


def test_history_resume(runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="app")
    runtime.send(inst, "start_payment", {"amount": 1}, channel="app")
    runtime.send(inst, "failed", channel="app")
    runtime.send(inst, "interrupt", channel="call_centre")
    assert inst.state == "hold"
    assert inst.memory == {"paying": "paying.failed"}
    assert runtime.send(inst, "resume", channel="app").state == "paying.failed"


def test_timeout_fires_on_tick_only(runtime: JourneyRuntime, clock: ManualClock) -> None:
    inst = runtime.create("pay", channel="app", instance_id="t1")
    runtime.dispatch("t1", "start_payment", {"amount": 1}, channel="app")
    # entered paying at t=1000: due at 1000 + 15 * 60 = 1900
    assert runtime.store.load("t1").deadlines == ((1900.0, "paying"),)
    clock.advance(899)  # t = 1899
    assert runtime.tick() == []
    # moving inside `paying` keeps its deadline (the state is not left)
    runtime.dispatch("t1", "failed", channel="app")
    assert runtime.store.load("t1").deadlines == ((1900.0, "paying"),)
    clock.advance(1)  # t = 1900
    fired = runtime.tick()
    assert [(r.instance_id, r.trigger, r.state, r.outcome) for r in fired] == [
        ("t1", "@timeout:paying", "abandoned", "abandoned")]
    stored = runtime.store.load("t1")
    assert stored.outcome == "abandoned"
    assert list(stored.records())[-1].at == 1900.0
    assert list(stored.records())[-1].channel == "system"
    assert runtime.tick() == []
    del inst


def test_leaving_and_reentering_restarts_the_deadline(runtime: JourneyRuntime,
                                                     clock: ManualClock) -> None:
    inst = runtime.start("pay", channel="app")
    runtime.send(inst, "start_payment", {"amount": 1}, channel="app")  # due 1900
    clock.advance(600)  # t = 1600
    runtime.send(inst, "interrupt", channel="app")
    assert inst.deadlines == ()
    clock.advance(600)  # t = 2200
    runtime.send(inst, "resume", channel="app")
    assert inst.deadlines == ((3100.0, "paying"),)  # 2200 + 900


def test_rejections_leave_the_instance_untouched(runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="app", instance_id="r1")
    cases = [
        (("nope", None, "app"), "unknown-trigger"),
        (("succeeded", None, "app"), "invalid-trigger"),
        (("start_payment", None, "fax"), "unknown-channel"),
        (("start_payment", {"amount": 1, "coupon": "x"}, "app"), "unknown-payload-field"),
    ]
    for (trigger, payload, channel), reason in cases:
        with pytest.raises(EventRejectedError) as info:
            runtime.send(inst, trigger, payload, channel=channel)
        assert info.value.reason == reason
        assert info.value.event_id == "r1"
    assert inst.version == 0
    assert inst.state == "cart"
    runtime.send(inst, "start_payment", {"amount": 1}, channel="app")
    runtime.send(inst, "succeeded", channel="app")
    with pytest.raises(EventRejectedError, match="already finished") as info:
        runtime.send(inst, "failed", channel="app")
    assert info.value.reason == "finished"


def test_failing_action_changes_nothing(clock: ManualClock) -> None:
    registry = ActionRegistry()

    def charge(**_: Any) -> None:
        raise RuntimeError("card declined by host")

    registry.add("charge", charge)
    registry.add("note", lambda **_: None)
    runtime = JourneyRuntime(MemoryJourneyStore(), [load()], actions=registry, clock=clock)
    inst = runtime.start("pay", channel="app")
    runtime.send(inst, "start_payment", {"amount": 1}, channel="app")
    before = inst.copy()
    with pytest.raises(RuntimeError, match="declined"):
        runtime.send(inst, "succeeded", channel="app")
    assert inst == before


def test_unregistered_action_is_refused_when_registering() -> None:
    with pytest.raises(JourneyError) as info:
        JourneyRuntime(MemoryJourneyStore(),
                       [load()], actions=ActionRegistry({"note": lambda **_: None}))
    assert [p.code for p in info.value.problems] == ["E-journey-action-missing"]
    assert "`charge`" in info.value.problems[0].message
    assert info.value.problems[0].file == "pay.yaml"


def test_actions_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    import telcoflow.journeys.actions as actions_module

    class EP:
        name = "charge"

        def load(self) -> Any:
            return lambda **_: None

    monkeypatch.setattr(actions_module, "entry_points",
                        lambda group: [EP()] if group == "telcoflow.journeys.actions" else [])
    registry = ActionRegistry.from_entry_points()
    assert list(registry) == ["charge"]
    with pytest.raises(JourneyError, match="already registered"):
        registry.add("charge", lambda **_: None)


@pytest.mark.parametrize("make_store", [MemoryJourneyStore, SQLiteJourneyStore])
def test_two_workers_cannot_both_move_one_instance(make_store: Any, rec: Recorder,
                                                   clock: ManualClock) -> None:
    store = make_store()
    runtime = JourneyRuntime(store, [load()], actions=rec.registry, clock=clock)
    runtime.create("pay", channel="app", instance_id="c1")
    first = store.load("c1")
    second = store.load("c1")
    runtime.send(first, "start_payment", {"amount": 1}, channel="app")
    runtime.send(second, "start_payment", {"amount": 1}, channel="web")
    store.save(first, 0)
    with pytest.raises(ConcurrencyError, match="expected version 0, it is at version 1"):
        store.save(second, 0)
    loaded = store.load("c1")
    assert loaded.version == 1
    assert [r.channel for r in loaded.records()] == ["app", "app"]


def test_migration_maps_states_to_the_new_version(runtime: JourneyRuntime,
                                                  clock: ManualClock) -> None:
    v2 = load(PAYMENT.replace("version: 1", "version: 2").replace(
        "      failed:\n", "      declined:\n").replace(
        "failed: {target: failed,", "failed: {target: declined,") + textwrap.dedent("""
        migrations:
          - from_version: 1
            states: {paying.failed: paying.declined}
        """))
    runtime.register(v2)
    inst = runtime.start("pay", channel="app", version=1)
    runtime.send(inst, "start_payment", {"amount": 1}, channel="app")
    runtime.send(inst, "failed", channel="app")
    fresh = runtime.start("pay", channel="app")
    assert fresh.journey_version == 2  # new instances start on the latest version
    clock.advance(100)  # t = 1100
    runtime.migrate(inst, 2)
    assert (inst.journey_version, inst.state) == (2, "paying.declined")
    assert inst.deadlines == ((2000.0, "paying"),)  # restarted: 1100 + 900
    assert list(inst.records())[-1].trigger == "@migrate"
    assert runtime.send(inst, "retry", channel="app").state == "paying.pending"
    with pytest.raises(EventRejectedError) as info:
        runtime.migrate(inst, 1)
    assert info.value.reason == "no-migration"


def test_running_instances_stay_on_their_version(runtime: JourneyRuntime) -> None:
    inst = runtime.start("pay", channel="app")
    runtime.register(load(PAYMENT.replace("version: 1", "version: 2").replace(
        "big: \"amount >= 100 and channel == 'store'\"", "big: \"amount >= 1\"")))
    r = runtime.send(inst, "start_payment", {"amount": 1}, channel="app")
    assert r.state == "paying.pending"  # v1 behaviour
    fresh = runtime.start("pay", channel="app")
    assert runtime.send(fresh, "start_payment", {"amount": 1}, channel="app").state == "review"


def test_sqlite_store_round_trip(tmp_path: Any, rec: Recorder, clock: ManualClock) -> None:
    from decimal import Decimal

    store = SQLiteJourneyStore(tmp_path / "j.db")
    runtime = JourneyRuntime(store, [load()], actions=rec.registry, clock=clock)
    runtime.create("pay", channel="app", instance_id="s1", context={"price": Decimal("9.99")})
    runtime.dispatch("s1", "start_payment", {"amount": 1}, channel="web")
    runtime.dispatch("s1", "failed", channel="web")
    runtime.dispatch("s1", "interrupt", channel="call_centre")
    store.close()
    reopened = SQLiteJourneyStore(tmp_path / "j.db")
    inst = reopened.load("s1")
    assert inst.state == "hold"
    assert inst.context == {"attempts": 1, "amount": 1, "price": Decimal("9.99")}
    assert inst.memory == {"paying": "paying.failed"}
    assert inst.version == 3
    assert [r.trigger for r in inst.records()] == ["@start", "start_payment", "failed",
                                                   "interrupt"]
    assert [i.id for i in reopened.instances("pay")] == ["s1"]
    assert len(reopened) == 1
    with pytest.raises(ConcurrencyError):
        reopened.create(inst)


def test_sqlite_save_keeps_missing_values_null(rec: Recorder, clock: ManualClock) -> None:
    """save_many passes missing values as "" or 0 (cheaper to bind): they are stored NULL."""
    store = SQLiteJourneyStore()
    runtime = JourneyRuntime(store, [load()], actions=rec.registry, clock=clock)
    runtime.create("pay", channel="app", instance_id="n1")

    def columns() -> tuple[Any, ...]:
        return tuple(store._db.execute(  # a look inside, for the stored NULLs
            "SELECT next_due, memory, outcome FROM journey_instances WHERE id = 'n1'"
        ).fetchone())

    runtime.dispatch("n1", "start_payment", {"amount": 1}, channel="web")
    assert columns() == (1900.0, None, None)
    runtime.dispatch("n1", "interrupt", channel="web")  # hold: memory set, no deadline
    assert columns() == (None, '{"paying":"paying.pending"}', None)
    runtime.dispatch("n1", "resume", channel="web")
    runtime.dispatch("n1", "succeeded", channel="web")  # done: an outcome
    assert columns() == (None, '{"paying":"paying.pending"}', "completed")
    inst = store.load("n1")
    assert (inst.outcome, inst.deadlines, inst.next_deadline) == ("completed", (), None)
    assert store.due(10_000.0) == []


def test_sqlite_due_and_batch_is_all_or_nothing(rec: Recorder, clock: ManualClock) -> None:
    store = SQLiteJourneyStore()
    runtime = JourneyRuntime(store, [load()], actions=rec.registry, clock=clock)
    a = runtime.create("pay", channel="app", instance_id="a")
    b = runtime.create("pay", channel="app", instance_id="b")
    runtime.send(a, "start_payment", {"amount": 1}, channel="app")
    runtime.send(b, "start_payment", {"amount": 1}, channel="app")
    with pytest.raises(ConcurrencyError):
        store.save_many([(a, 0), (b, 7)])  # b's expected version is wrong: nothing saved
    assert store.load("a").version == 0
    store.save_many([(a, 0), (b, 0)])
    assert store.due(1899.0) == []
    assert sorted(store.due(1900.0)) == ["a", "b"]
    clock.advance(900)
    assert {r.state for r in runtime.tick()} == {"abandoned"}
    assert store.due(10_000.0) == []


def test_transitions_engine_gives_the_same_walk(rec: Recorder, clock: ManualClock) -> None:
    table = JourneyRuntime(MemoryJourneyStore(), [load()], actions=rec.registry, clock=clock)
    machine = JourneyRuntime(MemoryJourneyStore(),
                             [load()], actions=rec.registry, clock=clock, engine="transitions")
    walks = []
    for runtime in (table, machine):
        inst = runtime.start("pay", channel="app", instance_id="e")
        states = [runtime.send(inst, t, p, channel="app").state for t, p in [
            ("start_payment", {"amount": 5}), ("failed", None), ("interrupt", None),
            ("resume", None), ("retry", None), ("succeeded", None)]]
        walks.append((states, inst.to_dict()))
    assert walks[0] == walks[1]
    assert walks[0][0][-1] == "done"
    with pytest.raises(EventRejectedError) as info:
        machine.send(machine.start("pay", channel="app"), "retry", channel="app")
    assert info.value.reason == "invalid-trigger"


def test_scheduler_loop_fires_deadlines_without_threads(runtime: JourneyRuntime,
                                                       clock: ManualClock) -> None:
    runtime.create("pay", channel="app", instance_id="s1")
    runtime.dispatch("s1", "start_payment", {"amount": 1}, channel="app")  # due at 1900
    ticks: list[float] = []
    seen: list[str] = []

    def sleep(seconds: float) -> None:
        ticks.append(clock.now)
        clock.advance(seconds)

    fired = runtime.run_scheduler(interval=300, sleep=sleep, stop=lambda: len(ticks) >= 5,
                                  on_fired=lambda rs: seen.extend(r.state for r in rs))
    # ticks at 1000, 1300, 1600, 1900 (fires), 2200
    assert ticks == [1000.0, 1300.0, 1600.0, 1900.0, 2200.0]
    assert fired == 1
    assert seen == ["abandoned"]


@pytest.mark.parametrize("make_store", [MemoryJourneyStore, SQLiteJourneyStore])
def test_create_many_is_all_or_nothing(make_store: Any, runtime: JourneyRuntime) -> None:
    from telcoflow.journeys.store import JourneyStore

    store = make_store()
    assert isinstance(store, JourneyStore)
    a, b = (runtime.start("pay", channel="app", instance_id=i) for i in ("a", "b"))
    store.create_many([a])
    with pytest.raises(ConcurrencyError):
        store.create_many([b, a])  # `a` exists: `b` is not added either
    with pytest.raises(StoreError, match="no journey instance 'b'"):
        store.load("b")
    store.create_many([b])
    assert sorted(i.id for i in store.instances()) == ["a", "b"]


@pytest.mark.parametrize("make_store", [MemoryJourneyStore, SQLiteJourneyStore])
def test_a_failed_timeout_stays_due(make_store: Any, clock: ManualClock) -> None:
    journey = parse_journey(textwrap.dedent("""
        kind: journey
        id: flaky
        triggers: {go: {}}
        actions: [expire]
        states:
          waiting:
            initial: true
            timeout: {after: 60, target: expired, actions: [expire]}
            on: {go: done}
          done: {outcome: completed}
          expired: {outcome: abandoned}
        """), "flaky.yaml")
    failures = [RuntimeError("mail server down")]

    def expire(**_: Any) -> None:
        if failures:
            raise failures.pop()

    runtime = JourneyRuntime(make_store(), [journey], actions={"expire": expire},
                             clock=clock)
    runtime.create("flaky", channel="app", instance_id="f1")
    clock.advance(60)
    with pytest.raises(RuntimeError, match="mail server down"):
        runtime.tick()
    assert runtime.store.load("f1").state == "waiting"  # nothing half-done
    [fired] = runtime.tick()  # still due: fires now that the action works
    assert (fired.state, fired.actions) == ("expired", ("expire",))
    assert runtime.tick() == []
