"""SCXML import/export and conformance cases from the W3C algorithm (issue #16).

Each case is a small SCXML chart with the configuration the recommendation's Appendix D
algorithm gives, worked by hand in its comment; it goes through the importer and both
engines.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from telcoflow.cli import main
from telcoflow.errors import JourneyError
from telcoflow.journeys.definition import parse_journey
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.journeys.scxml import export_scxml, import_scxml
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.testing.journeys import noop_actions


def scxml(body: str, initial: str) -> str:
    return (f'<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" name="case" '
            f'initial="{initial}">{body}</scxml>')


def final_state(text: str, events: list[str], engine: str) -> str:
    journey = parse_journey(import_scxml(text, "case.scxml"), "case.yaml")
    rt = JourneyRuntime(MemoryJourneyStore(),
                        [journey], actions=noop_actions(journey), engine=engine,
                        clock=lambda: 0.0)
    inst = rt.start(journey.id, channel="app")
    for ev in events:
        rt.send(inst, ev, channel="app")
    state: str = inst.state
    return state


CASES: list[tuple[str, str, list[str], str]] = [
    # 1. optimal transition set: a1 and b1 both select their `t`; exit sets {a1}, {b1}
    # are disjoint -> {a2, b2}.
    ("regions", scxml('<parallel id="p"><state id="a" initial="a1"><state id="a1">'
                      '<transition event="t" target="a2"/></state><state id="a2"/></state>'
                      '<state id="b" initial="b1"><state id="b1"><transition event="t" '
                      'target="b2"/></state><state id="b2"/></state></parallel>', "p"),
     ["t"], "p.a.a2+p.b.b2"),
    # 2. document order: a1 -> out has domain scxml (exits all); b1 -> b2 conflicts and b1
    # is not a descendant of a1: preempted -> {out}.
    ("conflict", scxml('<parallel id="p"><state id="a"><state id="a1"><transition '
                       'event="t" target="out"/></state></state><state id="b" initial="b1">'
                       '<state id="b1"><transition event="t" target="b2"/></state>'
                       '<state id="b2"/></state></parallel><final id="out"/>', "p"),
     ["t"], "out"),
    # 3. a1 -> a: findLCCA skips parallel p -> scxml; exit all, enter a, a1 and (via
    # addAncestorStatesToEnter over p) b, b1 -> {a1, b1} after u moved b to b2.
    ("reentry", scxml('<parallel id="p"><state id="a"><state id="a1"><transition '
                      'event="t" target="a"/></state></state><state id="b" initial="b1">'
                      '<state id="b1"><transition event="u" target="b2"/></state>'
                      '<state id="b2"/></state></parallel>', "p"),
     ["u", "t"], "p.a.a1+p.b.b1"),
    # 4. done.state: entering f1 and f2 (finals of both regions) raises done.state.p
    # (isInFinalState(p)) -> the transition on p takes the chart to `end`.
    ("done", scxml('<state id="s"><transition event="go" target="p"/></state>'
                   '<parallel id="p"><transition event="done.state.p" target="end"/>'
                   '<state id="r1"><final id="f1"/></state><state id="r2"><final id="f2"/>'
                   '</state></parallel><final id="end"/>', "s"),
     ["go"], "end"),
    # 5. eventless: entering x enables its eventless transition at once -> y.
    ("eventless", scxml('<state id="s"><transition event="go" target="x"/></state>'
                        '<state id="x"><transition target="y"/></state><state id="y"/>',
                        "s"), ["go"], "y"),
    # 6. shallow history: c has children c1 (compound: k1, k2) and c2. go: k1 -> k2; out;
    # back through the history: it stored c1 (the active child), re-entered by default: k1.
    ("history", scxml('<state id="c" initial="c1"><history id="h" type="shallow"/>'
                      '<transition event="out" target="o"/><state id="c1" initial="k1">'
                      '<state id="k1"><transition event="go" target="k2"/></state>'
                      '<state id="k2"/></state><state id="c2"/></state>'
                      '<state id="o"><transition event="back" target="h"/></state>', "c"),
     ["go", "out", "back"], "c.c1.k1"),
    # 7. event prefix: descriptor `error` matches `error.send`.
    ("prefix", scxml('<state id="s"><transition event="error" target="e"/></state>'
                     '<state id="e"/><state id="never"><transition event="error.send" '
                     'target="s"/></state>', "s"), ["error.send"], "e"),
]


@pytest.mark.parametrize("engine", ["table", "transitions"])
@pytest.mark.parametrize(("name", "text", "events", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_conformance(name: str, text: str, events: list[str], expected: str,
                     engine: str) -> None:
    assert final_state(text, events, engine) == expected


def test_outside_the_subset_is_refused_with_the_construct_and_line() -> None:
    text = scxml('<state id="s">\n<onentry><log expr="1"/></onentry>\n'
                 '<transition event="t" target="s"><assign location="x" expr="1"/>'
                 '</transition></state>', "s")
    with pytest.raises(JourneyError) as info:
        import_scxml(text, "c.scxml")
    messages = [str(p) for p in info.value.problems]
    assert any("`<onentry>`" in m and "c.scxml:2" in m for m in messages)
    assert any("`<assign>`" in m and "c.scxml:3" in m for m in messages)


def test_entities_and_doctypes_are_refused() -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              '<scxml xmlns="http://www.w3.org/2005/07/scxml">&lol2;</scxml>')
    with pytest.raises(JourneyError, match="document type declaration"):
        import_scxml(laughs)


def test_export_then_import_keeps_the_configurations() -> None:
    original = parse_journey(import_scxml(CASES[0][1], "case.scxml"), "case.yaml")
    again = parse_journey(import_scxml(export_scxml(original)), "again.yaml")
    # ids are unique short names, so the paths come back the same
    assert again.configurations == original.configurations
    assert {t.label for t in again.transitions} == {t.label for t in original.transitions}


def test_export_refuses_a_timeout() -> None:
    j = parse_journey("kind: journey\nid: t\nstates:\n  a:\n    initial: true\n"
                      "    timeout: {after: 5m, target: b}\n  b: {outcome: completed}\n")
    with pytest.raises(JourneyError, match="timeout"):
        export_scxml(j)


def test_cli_import_and_export(tmp_path: Any) -> None:
    chart = tmp_path / "c.scxml"
    chart.write_text(CASES[4][1], encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(main, ["journey", "import", str(chart)])
    assert out.exit_code == 0, out.output
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(out.output, encoding="utf-8")
    exported = runner.invoke(main, ["journey", "export", str(yaml_file)])
    assert exported.exit_code == 0
    assert 'event="go"' in exported.output
    linted = runner.invoke(main, ["journey", "lint", str(yaml_file)])
    assert linted.exit_code == 0
    # y is a leaf nothing leaves and the chart has no final state: the `finishes` warning
    # (level warning by default; `trap` is off in imported charts: lint "*": warning) is
    # printed at file:line:col
    assert "c.yaml:" in linted.output
    assert "W-journey-" in linted.output
    bad = tmp_path / "bad.scxml"
    bad.write_text("<scxml", encoding="utf-8")
    failed = runner.invoke(main, ["journey", "import", str(bad)])
    assert failed.exit_code == 1
    assert "Traceback" not in failed.output
    assert "not well-formed" in failed.output


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_hostile_xml_is_refused_cleanly(data: st.DataObject) -> None:
    text = CASES[data.draw(st.integers(0, len(CASES) - 1))][1]
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=20))
    mutated = text[:cut] + junk + text[cut + data.draw(st.integers(0, 10)):]
    try:
        yaml_text = import_scxml(mutated, "fuzz.scxml")
    except JourneyError:
        return
    try:
        journey = parse_journey(yaml_text, "fuzz.yaml")
    except JourneyError:
        return  # located problems, raised from our tree: fine
    assert journey.initial in journey.configurations
