"""Property: the dispatch table and the ``transitions`` machine always agree.

Random event sequences (any trigger, random payloads and channels, deadlines fired) go through
two runtimes, one per engine; after every event both must be in the same state, have run the
same actions, emitted the same events, or have refused the event the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telcoflow.errors import TelcoflowError
from telcoflow.journeys.definition import TIMEOUT_PREFIX, Journey, load_journey
from telcoflow.journeys.instance import SYSTEM_CHANNEL, ManualClock
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.testing.journeys import noop_actions

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = {p.stem: load_journey(p) for p in sorted((ROOT / "journeys").glob("*.yaml"))}
# the constructs of issue #16 (multi-region steps, prefix and `*` descriptors, targetless
# and eventless transitions, done.state events, deep history) go through both engines too
JOURNEYS.update({p.stem: load_journey(p)
                 for p in sorted((Path(__file__).parent / "charts").glob("*.yaml"))})

event = st.tuples(
    st.integers(0, 10_000),  # which trigger (modulo the journey's triggers + timeouts)
    st.dictionaries(st.sampled_from(["a", "b", "c"]),
                    st.one_of(st.integers(0, 900), st.booleans()), max_size=3),
    st.sampled_from(["app", "web", "store", "call_centre", "fax"]),
)


def _outcome(runtime: JourneyRuntime, inst: Any, trigger: str, payload: dict[str, Any],
             channel: str, now: float) -> tuple[Any, ...]:
    try:
        r = runtime.send(inst, trigger, payload or None, channel=channel, now=now)
    except TelcoflowError as exc:
        return ("error", type(exc).__name__, getattr(exc, "reason", None), str(exc))
    return ("ok", r.moved, r.previous, r.state, r.actions, r.emitted, r.outcome)


def _run(journey: Journey, events: list[tuple[int, dict[str, Any], str]]) -> Any:
    clock = ManualClock(0.0)
    runtimes = [JourneyRuntime(MemoryJourneyStore(),
                               [journey], actions=noop_actions(journey), clock=clock,
                               engine=e) for e in ("table", "transitions")]
    instances = [rt.start(journey.id, channel="app", instance_id="x") for rt in runtimes]
    triggers = list(journey.user_triggers())
    for step, (pick, raw, channel) in enumerate(events):
        now = float(step * 60)
        inst = instances[0]
        timeouts = [TIMEOUT_PREFIX + s for _, s in inst.deadlines]
        choices = triggers + timeouts
        trigger = choices[pick % len(choices)]
        fields = journey.triggers.get(trigger, ())
        # rename the random keys onto the trigger's payload fields (plus an unknown one)
        payload = {(fields[i] if i < len(fields) else "zz"): v
                   for i, v in enumerate(raw.values())}
        if trigger.startswith(TIMEOUT_PREFIX):
            channel, payload = SYSTEM_CHANNEL, {}
        results = [_outcome(rt, i, trigger, payload, channel, now)
                   for rt, i in zip(runtimes, instances, strict=True)]
        assert results[0] == results[1], f"step {step}: {trigger} {payload} via {channel}"
        assert instances[0].to_dict() == instances[1].to_dict()
    return instances[0]


@pytest.mark.parametrize("name", sorted(JOURNEYS))
def test_table_and_transitions_agree(name: str) -> None:
    journey = JOURNEYS[name]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(event, max_size=30))
    def check(events: list[tuple[int, dict[str, Any], str]]) -> None:
        _run(journey, events)  # asserts agreement after every event

    check()


def test_a_known_walk_agrees_and_moves() -> None:
    """Sanity check of the harness itself: a real walk moves and both engines follow it."""
    journey = JOURNEYS["top_up"]
    triggers = list(journey.user_triggers())
    # choose_amount (amount 10: valid), payment_succeeded
    events = [(triggers.index("choose_amount"), {"a": 10}, "app"),
              (triggers.index("payment_succeeded"), {}, "web")]
    assert _run(journey, events).outcome == "completed"
