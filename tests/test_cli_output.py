"""Issue #18 item 5 (CLI): machine-readable output (--json, validate --format github|json),
and the audit help without reST markup. Each failed on the base commit (no such options)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from telcoflow.cli import main

REPO = Path(__file__).resolve().parent.parent

# a catalog whose one problem is its unknown currency, on line 2
BAD = "kind: catalog\ncurrency: EUX\n"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _bad_file(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    return bad


def test_validate_json_lists_problems_on_stdout(tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    code, out, _ = _run("validate", "--format", "json", str(bad))
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["files"] == 1
    (problem,) = data["problems"]
    # the problem is located at the `currency` key, line 2 of BAD
    assert (problem["file"], problem["line"], problem["path"]) == (str(bad), 2, "$.currency")
    assert "unknown currency 'EUX'" in problem["message"]
    code_json, out_json, _ = _run("validate", "--json", str(bad))
    assert (code_json, json.loads(out_json)) == (1, data)


def test_validate_json_ok() -> None:
    code, out, _ = _run("validate", "--json", str(REPO / "examples/catalog"))
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert data["problems"] == []
    assert data["files"] >= 1


def test_validate_github_annotations(tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    code, out, _ = _run("validate", "--format", "github", str(bad))
    assert code == 1
    line = out.splitlines()[0]
    # a ':' inside a property value is escaped as %3A (the Actions toolkit's rule)
    file_prop = str(bad).replace(":", "%3A").replace(",", "%2C")
    assert line.startswith(f"::error file={file_prop},line=2,col=")
    assert ",title=E-value_error::" in line
    assert line.endswith("($.currency)")
    assert "unknown currency 'EUX'" in line


def test_test_json_counts_cases() -> None:
    code, out, _ = _run("test", "--json", str(REPO / "rules/rating"))
    assert code == 0
    data = json.loads(out)
    assert data["failed"] == 0
    assert data["passed"] == sum(1 for c in data["cases"] if c["status"] == "passed")
    assert data["passed"] + data["skipped"] == len(data["cases"]) > 0


def test_explain_json(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"event": {"service": "voice", "zone": "home", "time": "2026-11-28T10:00:00"}}),
        encoding="utf-8",
    )
    code, out, _ = _run("explain", "--json", str(REPO / "rules/rating"), str(event))
    assert code == 0, out
    data = json.loads(out)
    assert isinstance(data, dict)
    assert "weekend" in json.dumps(data)  # 2026-11-28 is a Saturday


def test_audit_help_has_no_rest_markup() -> None:
    code, out, _ = _run("audit", "--help")
    assert code == 0
    assert "``" not in out
    assert "balance: checks ledger = bills" in out


def test_completion_documented_in_docs_works() -> None:
    # docs/cli.md tells bash users to eval `_TELCOFLOW_COMPLETE=bash_source telcoflow`
    from telcoflow.cli import run

    docs = (REPO / "docs/cli.md").read_text(encoding="utf-8")
    assert "_TELCOFLOW_COMPLETE=bash_source telcoflow" in docs
    runner = CliRunner()
    with runner.isolation(env={"_TELCOFLOW_COMPLETE": "bash_complete",
                               "COMP_WORDS": "telcoflow val", "COMP_CWORD": "1"}) as streams:
        assert run([]) == 0
        assert streams[0].getvalue().decode().split() == ["plain,validate"]


def test_colours_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    red = "\x1b[31m"  # click.style(fg="red")
    # CliRunner's streams are not terminals: no escape codes
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert red not in result.stderr
    # color=True plays a terminal: the problem is red
    result = CliRunner().invoke(main, ["validate", str(bad)], color=True)
    assert f"{red}{bad}:2:" in result.stderr
    # NO_COLOR wins even on a terminal
    result = CliRunner().invoke(main, ["validate", str(bad)], color=True, env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.stderr
    assert f"{bad}:2:" in result.stderr


NEAR_PACK = """\
kind: rule-pack
name: near
version: "1"
context: [event]
decisions:
  - name: price
    kind: generic
    hit: first
    rules:
      - id: roaming-video
        if: event.service == "video" and event.zone == "roam-eu" and event.mb > 100
        then: {rate: 2}
      - id: home-voice
        if: event.service == "voice" and event.zone == "home"
        then: {rate: 1}
"""


def test_explain_says_which_condition_failed_for_the_nearest_rules(tmp_path: Path) -> None:
    pack = tmp_path / "near.rules.yaml"
    pack.write_text(NEAR_PACK, encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"event": {"service": "video", "zone": "home", "mb": 500}}),
                     encoding="utf-8")
    # roaming-video: service == video holds, zone == roam-eu fails, mb > 100 holds: 2 of 3;
    # home-voice: service == voice fails, zone == home holds: 1 of 2, so it comes second
    code, out, _ = _run("explain", str(pack), str(event))
    assert code == 0, out
    assert "no rule matched; the nearest:" in out
    assert "- roaming-video: 2 of 3 conditions held; failed: event.zone == \"roam-eu\"" in out
    assert "saw event.zone = 'home'" in out
    assert out.index("roaming-video") < out.index("home-voice: 1 of 2 conditions held")
    code, out, _ = _run("explain", "--json", str(pack), str(event))
    (decision,) = json.loads(out)["decisions"]
    assert decision["matches"] == []
    assert [(n["rule"], n["held"], n["total"]) for n in decision["near_misses"]] == [
        ("roaming-video", 2, 3), ("home-voice", 1, 2)]


# a plain statechart with no final state: loads, with the `finishes` lint warning on `states`
PLAIN_CHART = """kind: journey
id: plain
triggers: {t: {}}
states:
  on:
    initial: true
    on: {t: off}
  off:
    on: {t: on}
"""


def test_validate_prints_journey_lint_warnings_located(tmp_path: Path) -> None:
    chart = tmp_path / "plain.yaml"
    chart.write_text(PLAIN_CHART, encoding="utf-8")
    code, out, err = _run("validate", str(chart))
    assert code == 0  # warnings do not fail validation
    assert "warning:" in err
    assert "W-journey-finishes" in err
    assert f"{chart}:" in err  # located at file:line:col
    assert "1 warning(s)" in out
    code, out, _ = _run("validate", "--format", "github", str(chart))
    assert code == 0
    assert out.startswith(f"::warning file={chart},line=")
    assert "title=W-journey-finishes" in out
    code, out, _ = _run("validate", "--json", str(chart))
    data = json.loads(out)
    assert data["ok"] is True
    assert [w["code"] for w in data["warnings"]] == ["W-journey-finishes"]
    assert data["warnings"][0]["line"] >= 1
