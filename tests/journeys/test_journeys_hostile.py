"""Hostile input to a running journey: anything a caller sends is refused with a telcoflow
error that names it, and the stored instance is untouched (issue #14, item 2)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_journeys_runtime import Recorder, load

from telcoflow.errors import TelcoflowError
from telcoflow.journeys.instance import ManualClock
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.sqlite import SQLiteJourneyStore

JUNK = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=True), st.just("\ud800"), st.text(max_size=8),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()),
    st.just("x" * 100_000), st.recursive(st.integers(), lambda c: st.lists(c, max_size=2),
                                         max_leaves=30),
)


@given(field=st.sampled_from(["instance", "trigger", "payload", "channel", "now"]),
       junk=JUNK)
@example(field="now", junk=2 ** 63)  # found by the fuzz: overflowed SQLite's INTEGER
@settings(max_examples=150, deadline=None)
def test_anything_sent_to_a_journey_is_a_telcoflow_error_or_a_move(field: str,
                                                                   junk: Any) -> None:
    clock = ManualClock(1000.0)
    tmp = tempfile.TemporaryDirectory()
    store = SQLiteJourneyStore(Path(tmp.name) / "j.db")
    try:
        runtime = JourneyRuntime(store, [load()], actions=Recorder().registry,
                                 clock=clock)
        runtime.create("pay", channel="app", instance_id="i1")
        before = store.load("i1")
        args: dict[str, Any] = {"instance": "i1", "trigger": "start_payment",
                                "payload": {"amount": 1}, "channel": "app", "now": None}
        args[field] = junk
        error: TelcoflowError | None = None
        try:
            runtime.dispatch(args["instance"], args["trigger"], args["payload"],
                             channel=args["channel"], now=args["now"])
        except TelcoflowError as exc:
            error = exc
        if error is not None:  # refused: says what was wrong, and nothing moved
            assert str(error)
            after = store.load("i1")
            assert (after.state, after.version) == (before.state, before.version)
    finally:
        store.close()
        tmp.cleanup()
