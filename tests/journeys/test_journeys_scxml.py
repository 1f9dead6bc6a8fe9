"""SCXML semantics (issue #16): each construct with configurations worked out by hand.

Every expected configuration below is derived from the W3C SCXML algorithm (Appendix D):
selectTransitions (one transition per active atomic state, document order, then
removeConflictingTransitions), getTransitionDomain / findLCCA (compound ancestors only),
exit order, entry order with addDescendantStatesToEnter / addAncestorStatesToEnter, history
recorded on exit, done.state events. The working is in the comments.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from telcoflow.errors import JourneyError
from telcoflow.journeys.definition import Journey, load_journey, parse_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.testing.journeys import noop_actions

CHARTS = Path(__file__).parent / "charts"


def chart(body: str, triggers: str = "{t: {}}", extra: str = "") -> Journey:
    text = f"kind: journey\nid: c\ntriggers: {triggers}\n{extra}states:\n" + textwrap.indent(
        textwrap.dedent(body), "  ")
    return parse_journey(text, "c.yaml")


def run(journey: Journey, *events: str | tuple[str, dict[str, Any]],
        engine: str = "table") -> Any:
    rt = JourneyRuntime(MemoryJourneyStore(),
                        [journey], actions=noop_actions(journey), engine=engine,
                        clock=lambda: 0.0)
    inst = rt.start(journey.id, channel="app")
    for ev in events:
        trigger, payload = (ev, None) if isinstance(ev, str) else ev
        rt.send(inst, trigger, payload, channel="app")
    return inst


PARALLEL_T = """
p:
  initial: true
  parallel: true
  states:
    a:
      states:
        a1: {initial: true, on: {t: a2}}
        a2: {}
    b:
      states:
        b1: {initial: true, on: {t: b2}}
        b2: {}
"""


@pytest.mark.parametrize("engine", ["table", "transitions"])
def test_why_1_every_region_takes_the_event(engine: str) -> None:
    # selectTransitions: a1 selects a1->a2, b1 selects b1->b2; exit sets {a1} and {b1} are
    # disjoint, so both fire in one microstep: {a2, b2} (the old runtime gave {a2, b1}).
    j = chart(PARALLEL_T, extra="lint: {'*': off}\n")
    assert run(j, "t", engine=engine).state == "p.a.a2+p.b.b2"


@pytest.mark.parametrize("engine", ["table", "transitions"])
def test_why_2_conflicts_resolve_in_document_order(engine: str) -> None:
    # a1 (earlier in document order) selects a1->out: domain = LCCA(a1, out) = root, exit set
    # = every active state. b1 selects the deeper b1->b2, exit set {b1}: the sets meet and
    # b1 is not a descendant of a1, so b1->b2 is preempted. Result: {out}.
    j = chart("""
        p:
          initial: true
          parallel: true
          states:
            a:
              states:
                a1: {initial: true, on: {t: out}}
            b:
              states:
                b1: {initial: true, on: {t: b2}}
                b2: {}
        out: {outcome: completed}
        """, extra="lint: {unreachable: off}\n")
    inst = run(j, "t", engine=engine)
    assert (inst.state, inst.outcome) == ("out", "completed")


@pytest.mark.parametrize("engine", ["table", "transitions"])
def test_why_3_a_region_never_disappears(engine: str) -> None:
    # u: b1 -> b2 gives {a1... a2? no: a stays a1} = {a1, b2}. Then t from a1 to region a:
    # LCCA(a1, a) skips a (a is not a proper ancestor of itself... a is a1's parent but `a`
    # is not a descendant of a) and p (parallel) -> root. Exit everything; enter a (a1) and,
    # through addAncestorStatesToEnter over p, region b by default (b1): {a1, b1}.
    j = chart("""
        p:
          initial: true
          parallel: true
          states:
            a:
              states:
                a1: {initial: true, on: {t: a}}
            b:
              states:
                b1: {initial: true, on: {u: b2}}
                b2: {}
        """, triggers="{t: {}, u: {}}", extra="lint: {'*': off}\n")
    assert run(j, "u", engine=engine).state == "p.a.a1+p.b.b2"
    assert run(j, "u", "t", engine=engine).state == "p.a.a1+p.b.b1"
    # every reachable configuration has both regions
    assert all("+" in c for c in j.configurations)


def test_shallow_and_deep_history() -> None:
    # s has child x (compound: x1, x2) and y. Walk: go (x1->x2), out (leave s), back (resume).
    # deep remembers the atomic leaf x2 -> back to s.x.x2;
    # shallow remembers the active child x -> re-entered by default -> s.x.x1.
    body = """
        s:
          initial: true
          history: {kind}
          on: {out: away}
          states:
            x:
              initial: true
              states:
                x1: {initial: true, on: {go: x2}}
                x2: {}
            y: {}
        away:
          on: {back: {target: s, resume: true}}
        """
    trig = "{go: {}, out: {}, back: {}}"
    deep = chart(body.replace("{kind}", "deep"), trig, "lint: {'*': off}\n")
    shallow = chart(body.replace("{kind}", "shallow"), trig, "lint: {'*': off}\n")
    assert run(deep, "go", "out", "back").state == "s.x.x2"
    assert run(shallow, "go", "out", "back").state == "s.x.x1"
    # `history: true` still means deep
    legacy = chart(body.replace("{kind}", "true"), trig, "lint: {'*': off}\n")
    assert run(legacy, "go", "out", "back").state == "s.x.x2"


def test_history_default_transition() -> None:
    # never left s: the history has nothing stored, so its default transition's target y is
    # entered (not the initial child x).
    j = chart("""
        start:
          initial: true
          on: {back: {target: s, resume: true}}
        s:
          history: shallow
          history_default: y
          states:
            x: {initial: true}
            y: {}
        """, "{back: {}}", "lint: {'*': off}\n")
    assert run(j, "back").state == "s.y"


def test_multi_target_enters_several_regions_at_once() -> None:
    # targets [p.a.a2, p.b.b2]: LCCA(start, a2, b2) = root; entry set: a2, b2 and their
    # ancestors a, b, p (p's regions both already have a descendant being entered).
    j = chart("""
        start:
          initial: true
          on: {t: {targets: [p.a.a2, p.b.b2]}}
        p:
          parallel: true
          states:
            a:
              states:
                a1: {initial: true}
                a2: {}
            b:
              states:
                b1: {initial: true}
                b2: {}
        """, extra="lint: {'*': off}\n")
    assert run(j, "t").state == "p.a.a2+p.b.b2"


def test_targets_on_one_branch_are_refused() -> None:
    with pytest.raises(JourneyError, match="lie on one branch"):
        chart("""
            s:
              initial: true
              on: {t: {targets: [x, x.x1]}}
            x:
              states:
                x1: {initial: true}
            """, extra="lint: {'*': off}\n")


def test_event_descriptors_match_by_token_prefix_and_star() -> None:
    # `payment` matches payment.failed (token prefix) but `pay` does not match payment.ok
    # (not a whole token); `*` matches anything.
    j = chart("""
        a:
          initial: true
          on: {payment: b}
        b:
          on: {"*": c}
        c: {}
        """, "{payment.failed: {}, other: {}}", "lint: {'*': off}\n")
    assert run(j, "payment.failed").state == "b"
    assert run(j, "payment.failed", "other").state == "c"
    with pytest.raises(JourneyError, match="unknown trigger `pay`"):
        chart("""
            a:
              initial: true
              on: {pay: b}
            b: {}
            """, "{payment.ok: {}}", "lint: {'*': off}\n")


def test_internal_and_external_transitions_differ_in_what_they_exit() -> None:
    # P has a 5m timeout. An external P -> P.q exits and re-enters P (its deadline is
    # cleared and set again); an internal one (type: internal, targets inside P) keeps P.
    body = """
        P:
          initial: true
          timeout: {after: 5m, target: end}
          on: {t: {target: q, type: TYPE}}
          states:
            p: {initial: true}
            q: {}
        end: {outcome: completed}
        """
    ext = chart(body.replace("TYPE", "external"))
    internal = chart(body.replace("TYPE", "internal"))
    e, i = ext.table["P.p"]["t"][0], internal.table["P.p"]["t"][0]
    assert (e.target, i.target) == ("P.q", "P.q")
    assert "P" in e.deadlines_clear
    assert ("P", 300.0) in e.deadlines_set
    assert "P" not in i.deadlines_clear
    assert i.deadlines_set == ()


def test_targetless_transition_runs_actions_and_stays() -> None:
    j = chart("""
        a:
          initial: true
          on: {t: {actions: [note]}}
        """, extra="actions: [note]\nlint: {'*': off}\n")
    step = j.table["a"]["t"][0]
    assert (step.source, step.target, step.actions) == ("a", "a", ("note",))


def test_eventless_transitions_and_done_events_in_one_macrostep() -> None:
    # payment.ok in {a2, b2}: a2 (`payment` prefix) -> a3, b2 -> b3, both final: raises
    # done.state.p.a, done.state.p.b, then done.state.p (p complete) -> on_done: checking.
    # checking's `always` needs is_ok (false): the macrostep stops in checking.
    j = load_journey(CHARTS / "scxml_constructs.yaml")
    inst = run(j, "t", "payment.ok")
    assert inst.state == "checking"
    # fix with ok=true: checking -> checking (n 0 -> 1), then the eventless is_ok -> done,
    # taken by the runtime after the payload set ok: two records, one per microstep.
    rt = JourneyRuntime(MemoryJourneyStore(), [j], actions=noop_actions(j), clock=lambda: 0.0)
    inst = rt.start(j.id, channel="app")
    for trig in ("t", "payment.ok"):
        rt.send(inst, trig, channel="app")
    result = rt.send(inst, "fix", {"ok": True}, channel="app")
    assert (result.state, inst.outcome, inst.context["n"]) == ("done", "completed", 1)
    assert [r.trigger for r in inst.records()][-2:] == ["fix", "@always"]


def test_plain_statechart_without_final_loads_with_warnings() -> None:
    j = chart("""
        on:
          initial: true
          on: {t: off}
        off:
          on: {t: on}
        """)
    assert j.configurations == ("on", "off")
    assert [p.code for p in j.warnings] == ["W-journey-finishes"]
    assert j.warnings[0].line is not None


def test_lint_levels_per_check() -> None:
    body = """
        a:
          initial: true
          on: {t: b}
        b: {}
        orphan: {}
        done: {outcome: completed}
        """
    with pytest.raises(JourneyError) as info:
        chart(body)
    assert {p.code for p in info.value.problems} >= {"E-journey-trap", "E-journey-unreachable"}
    j = chart(body, extra="lint: {trap: warning, unreachable: warning, no-final: off}\n")
    assert {p.code for p in j.warnings} == {"W-journey-trap", "W-journey-unreachable"}
    assert chart(body, extra="lint: {'*': off}\n").warnings == ()


def test_the_initial_macrostep_settles_at_start() -> None:
    # unguarded: entering `a` enables a -> b at once, so the compiled initial configuration
    # is already b (no instance ever rests in a).
    plain = chart("""
        a:
          initial: true
          always: [b]
        b: {on: {t: a}}
        """)
    assert plain.initial == "b"
    # guarded by `ready` (context ready = true at start): the runtime takes it in start()
    # and records it: @start a, then @always b.
    guarded = chart("""
        a:
          initial: true
          always: [{target: b, guard: ready}]
          on: {t: b}
        b: {on: {t: a}}
        """, extra="context: {ready: true}\nguards: {ready: ready}\n")
    assert guarded.initial == "a"
    inst = run(guarded)
    assert inst.state == "b"
    assert [(r.trigger, r.state) for r in inst.records()] == [("@start", "a"), ("@always", "b")]
    assert inst.version == 1  # one record per change of version: 2 records = version 1 + 1


@pytest.mark.parametrize("engine", ["table", "transitions"])
def test_a_guarded_completion_is_taken_by_the_runtime(engine: str) -> None:
    # entering the final f raises done.state.s; its on_done is guarded by `ok` (false), so
    # the macrostep stops in s.f; after `fix` (ok := true) the event's step is targetless
    # (it only copies the payload) and no done event is queued any more, so s.f stays.
    j = chart("""
        s:
          initial: true
          on_done: {target: end, guard: ok}
          on: {fix: {actions: [note]}}
          states:
            x: {initial: true, on: {t: f}}
            f: {final: true}
        end: {outcome: completed}
        """, "{t: {}, fix: {payload: [ok]}}",
        "context: {ok: false}\nguards: {ok: ok}\nactions: [note]\n")
    inst = run(j, "t", engine=engine)
    assert inst.state == "s.f"
    assert inst.outcome is None
    # with ok true from the start, the same event completes s: t then done.state.s -> end
    inst = run(j, ("fix", {"ok": True}), "t", engine=engine)
    assert (inst.state, inst.outcome) == ("end", "completed")
    assert [r.trigger for r in inst.records()][-2:] == ["t", "done.state.s"]
