"""Loading journey YAML: compilation to configurations, and every check with file and line."""

from __future__ import annotations

import json
import textwrap

import pytest

from telcoflow.errors import DefinitionError, JourneyError
from telcoflow.journeys.definition import TIMEOUT_PREFIX, load_journey, parse_journey
from telcoflow.journeys.models import JourneyFile, parse_duration


def journey(text: str, file: str = "j.yaml"):  # type: ignore[no-untyped-def]
    return parse_journey(textwrap.dedent(text), file)


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(JourneyError) as info:
        journey(text)
    return [(p.code, p.line, p.message) for p in info.value.problems]


SIMPLE = """
kind: journey
id: simple
triggers: {go: {}, stop: {}}
states:
  a:
    initial: true
    on: {go: b, stop: done}
  b:
    timeout: {after: 15m, target: done}
    on: {go: done}
  done: {outcome: completed}
"""


def test_flat_journey_compiles_to_one_configuration_per_state() -> None:
    j = journey(SIMPLE)
    assert j.initial == "a"
    assert j.configurations == ("a", "b", "done")
    assert j.outcomes == {"done": "completed"}
    labels = {t.label for t in j.transitions}
    assert labels == {"a --go--> b", "a --stop--> done", "b --go--> done",
                      f"b --{TIMEOUT_PREFIX}b--> done"}
    go = j.table["a"]["go"][0]
    # entering b starts its 15 minute deadline: 15 * 60 = 900 s
    assert go.deadlines_set == (("b", 900.0),)
    assert j.table["b"]["go"][0].deadlines_clear == frozenset({"b"})


PARALLEL = """
kind: journey
id: par
triggers: {kyc_ok: {}, paid: {}, pause: {}, back: {}, cancel: {}}
states:
  start:
    initial: true
    on: {paid: checkout}
  checkout:
    parallel: true
    history: true
    on_done: {target: done, emit: [checkout_done]}
    on: {pause: hold, cancel: gone}
    states:
      kyc:
        states:
          pending: {initial: true, on: {kyc_ok: ok}}
          ok: {final: true}
      pay:
        states:
          open: {initial: true, on: {paid: closed}}
          closed: {final: true}
  hold:
    on: {back: {target: checkout, resume: true}}
  done: {outcome: completed}
  gone: {outcome: abandoned}
"""


def test_parallel_regions_become_product_configurations_and_on_done_fires() -> None:
    j = journey(PARALLEL)
    both = "checkout.kyc.pending+checkout.pay.open"
    assert j.table["start"]["paid"][0].target == both
    # kyc region moves, pay region keeps its state
    assert j.table[both]["kyc_ok"][0].target == "checkout.kyc.ok+checkout.pay.open"
    # the last region to finish completes the parallel state: on_done goes straight to done
    finish = j.table["checkout.kyc.ok+checkout.pay.open"]["paid"][0]
    assert finish.target == "done"
    assert finish.emit == ("checkout_done",)
    assert finish.outcome == "completed"
    # 2 x 2 region states minus the completed one = 3 checkout configurations
    assert sum(c.startswith("checkout.") for c in j.configurations) == 3


def test_history_resume_returns_to_the_remembered_configuration() -> None:
    j = journey(PARALLEL)
    mid = "checkout.kyc.ok+checkout.pay.open"
    pause = j.table[mid]["pause"][0]
    assert pause.memory_updates == (("checkout", mid),)
    back = {t.memory_value: t.target for t in j.table["hold"]["back"]}
    assert back[mid] == mid
    assert back[None] == "checkout.kyc.pending+checkout.pay.open"  # never left: default entry


def test_relative_targets_resolve_to_siblings_then_up_the_tree() -> None:
    j = journey(PARALLEL)
    assert j.table["checkout.kyc.pending+checkout.pay.open"]["kyc_ok"][0].target.startswith(
        "checkout.kyc.ok")


def test_state_named_off_stays_a_string() -> None:
    j = journey("""
        kind: journey
        id: onoff
        triggers: {toggle: {}, end: {}}
        states:
          on: {initial: true, on: {toggle: off}}
          off: {on: {toggle: on, end: done}}
          done: {outcome: completed}
        """)
    assert j.table["on"]["toggle"][0].target == "off"


def test_every_reference_problem_is_listed_with_its_line() -> None:
    found = problems("""
        kind: journey
        id: bad
        context: {attempts: 0}
        triggers: {go: {}}
        guards: {ok: "attempts < 3", broken: "attempts <"}
        actions: [notify]
        states:
          a:
            initial: true
            on:
              go: {target: b, guard: nope, actions: [missing]}
              jump: done
          b:
            on: {go: nowhere}
          done: {outcome: completed}
        """)
    codes = {code: line for code, line, _ in found}
    # line 1 of the text is blank: `guards` is on line 6, `go:` on 12, `b:` on 14
    assert codes["E-expr-syntax"] == 6
    assert codes["E-journey-guard"] == 12
    assert codes["E-journey-action"] == 12
    assert codes["E-journey-trigger"] == 13
    assert codes["E-journey-target"] == 15
    # b cannot go anywhere (its only target is unknown): a trap, reported in the same error
    assert codes["E-journey-trap"] == 14


def test_graph_problems_are_all_listed() -> None:
    found = problems("""
        kind: journey
        id: graph
        triggers: {go: {}}
        states:
          a: {initial: true, on: {go: b}}
          b: {on: {go: c}}
          c: {}
          orphan: {on: {go: done}}
          loop1: {on: {go: loop2}}
          loop2: {on: {go: loop1}}
          done: {outcome: completed}
        """)
    by_code: dict[str, list[str]] = {}
    for code, _, message in found:
        by_code.setdefault(code, []).append(message)
    unreachable = " ".join(by_code["E-journey-unreachable"])
    for name in ("orphan", "loop1", "loop2", "done"):
        assert f"`{name}`" in unreachable
    assert any("`c`" in m for m in by_code["E-journey-trap"])
    assert any("`a`" in m for m in by_code["E-journey-no-final"])


def test_a_cycle_without_exit_is_reported_as_no_final() -> None:
    found = problems("""
        kind: journey
        id: cycle
        triggers: {go: {}, end: {}}
        states:
          a: {initial: true, on: {go: b, end: done}}
          b: {on: {go: c}}
          c: {on: {go: b}}
          done: {outcome: completed}
        """)
    assert [(c, line) for c, line, _ in found] == [("E-journey-no-final", 7),
                                                   ("E-journey-no-final", 8)]


def test_initial_state_rules() -> None:
    found = problems("""
        kind: journey
        id: init
        triggers: {go: {}}
        states:
          a: {initial: true, on: {go: done}}
          b: {initial: true, on: {go: done}}
          box:
            states:
              x: {on: {go: done}}
              y: {on: {go: done}}
          done: {outcome: completed}
        """)
    codes = [c for c, _, _ in found]
    assert codes.count("E-journey-initial") == 2
    assert any("found a, b" in m for _, _, m in found)
    assert any("`box`" in m and "found none" in m for _, _, m in found)


def test_final_and_structure_rules() -> None:
    found = problems("""
        kind: journey
        id: finals
        triggers: {go: {}}
        states:
          a: {initial: true, on: {go: done}}
          done: {outcome: completed, on: {go: a}}
          nested:
            states:
              inner: {initial: true, outcome: completed}
        """)
    codes = {c for c, _, _ in found}
    assert "E-journey-final" in codes


def test_schema_errors_are_located() -> None:
    with pytest.raises(DefinitionError) as info:
        journey("""
            kind: journey
            id: schema
            states:
              a: {initial: true, bogus: 1, timeout: {after: soon, target: a}}
            """)
    text = str(info.value)
    assert "j.yaml:5:22" in text  # the `bogus` key (line 1 of the text is blank)
    assert "bogus" in text
    assert "soon" in text


def test_timeout_cannot_have_a_guard_and_counter_must_be_integer() -> None:
    found = problems("""
        kind: journey
        id: t
        context: {n: "x"}
        triggers: {go: {}}
        guards: {g: "n == 'x'"}
        states:
          a:
            initial: true
            timeout: {after: 5m, target: done, guard: g}
            on: {go: {target: done, increment: [n]}}
          done: {outcome: completed}
        """)
    codes = {c for c, _, _ in found}
    assert {"E-journey-timeout", "E-journey-counter"} <= codes


def test_durations() -> None:
    assert parse_duration("15m") == 900.0  # 15 * 60
    assert parse_duration("2h") == 7200.0  # 2 * 3600
    assert parse_duration("1d") == 86400.0
    assert parse_duration(90) == 90.0
    assert parse_duration("500ms") == 0.5
    for bad in ("soon", 0, True, "-5m"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_json_schema_for_editors() -> None:
    schema = JourneyFile.model_json_schema()
    text = json.dumps(schema)
    assert schema["properties"]["kind"]["const"] == "journey"
    assert "StateSpec" in text
    assert "on_done" in text


def test_load_journey_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "simple.yaml"
    path.write_text(textwrap.dedent(SIMPLE), encoding="utf-8")
    j = load_journey(path)
    assert j.file == str(path)
    assert j.key == ("simple", 1)


def test_validate_hook_for_the_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from telcoflow.loading.kinds import validate_paths

    (tmp_path / "ok.yaml").write_text(textwrap.dedent(SIMPLE), encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(textwrap.dedent(SIMPLE).replace("go: done}", "go: zz}"),
                                       encoding="utf-8")
    found, checked = validate_paths([tmp_path])
    assert checked == 2
    assert [p.code for p in found] == ["E-journey-target"]
    assert found[0].file is not None
    assert found[0].file.endswith("bad.yaml")


def test_every_region_takes_the_event_and_ancestors_only_when_no_leaf_does() -> None:
    # Issue #16 changed this on purpose (it was "one transition per event"): SCXML's
    # selectTransitions gives each active atomic state its own first enabled transition.
    j = journey("""
        kind: journey
        id: order
        triggers: {x: {}, y: {}}
        states:
          both:
            initial: true
            parallel: true
            on: {x: out, y: out}
            states:
              r1:
                states:
                  a: {initial: true, on: {x: b}}
                  b: {on: {y: a}}
              r2:
                states:
                  c: {initial: true, on: {x: d}}
                  d: {on: {y: c}}
          out: {outcome: completed}
        """)
    start = "both.r1.a+both.r2.c"
    # a (r1) selects a -> b and c (r2) selects c -> d; their exit sets {a} and {c} do not
    # intersect, so both fire in one microstep: {b, d}. The parallel state's own x is never
    # selected (each atomic state found a transition on itself first).
    assert [t.target for t in j.table[start]["x"]] == ["both.r1.b+both.r2.d"]
    # y: no leaf accepts it in `start`, so the parallel state's own transition fires
    assert [t.target for t in j.table[start]["y"]] == ["out"]


def test_a_parallel_state_without_regions_is_one_located_problem() -> None:
    # found by the YAML fuzz: a file cut after `parallel: true` raised KeyError ''
    found = problems("""
        kind: journey
        id: cut
        triggers: {go: {}}
        states:
          a:
            initial: true
            on: {go: both}
          both:
            parallel: true
    """)
    assert [(code, line) for code, line, _ in found] == [("E-journey-parallel", 9)]
    assert "has no regions" in found[0][2]
