"""The command line: validate, schema, test, explain, journey diagram (run in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from telcoflow.cli import main

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_validate_shipped_files_ok() -> None:
    code, out = _run(
        "validate", str(REPO / "examples/catalog"), str(REPO / "rules"), str(REPO / "journeys")
    )
    assert code == 0, out
    assert out.startswith("ok: ")


def test_validate_lists_every_problem_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: catalog\ncurrency: EUR\ncurrency: USD\nofferings:\n  - id: x\n    nme: y\n",
        encoding="utf-8",
    )
    other = tmp_path / "other.yaml"
    other.write_text("kind: invoice\n", encoding="utf-8")
    code, out = _run("validate", str(tmp_path))
    assert code == 1
    assert f"{bad}:3:1 ($.currency): duplicate key 'currency'" in out
    assert f"{bad}:6:5 ($.offerings[0].nme): unknown field `nme`" in out
    assert f"{other}:1:1 ($.kind): `kind` must be one of" in out
    assert "found 'invoice'" in out


def test_validate_a_project_folder_skips_tool_and_build_folders(tmp_path: Path) -> None:
    """`telcoflow validate .` checks the project's definitions, not .venv, .git, caches."""
    (tmp_path / "rules").mkdir()
    good = (REPO / "journeys").glob("*.yaml")
    one = next(iter(sorted(good)))
    (tmp_path / "rules" / one.name).write_text(one.read_text(encoding="utf-8"), encoding="utf-8")
    broken = "kind: invoice\n"  # a problem in every one of these if they were read
    for folder in (".venv/lib/site-packages/pkg", ".git/refs", "node_modules/x", "sub/__pycache__",
                   "build/lib", "dist", "pkg.egg-info", "env"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "data.yaml").write_text(broken, encoding="utf-8")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8")
    code, out = _run("validate", str(tmp_path))
    assert (code, out) == (0, "ok: 1 file(s) valid\n")
    # a skipped folder named on the command line is read
    code, out = _run("validate", str(tmp_path / "build"))
    assert code == 1
    assert "`kind` must be one of" in out


def test_schema_exports_every_kind(tmp_path: Path) -> None:
    code, out = _run("schema", "--out", str(tmp_path))
    assert code == 0, out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "catalog.schema.json",
        "close-policy.schema.json",
        "journey.schema.json",
        "offer-recommendation.schema.json",
        "rule-pack-part.schema.json",
        "rule-pack.schema.json",
    ]
    catalog = json.loads((tmp_path / "catalog.schema.json").read_text(encoding="utf-8"))
    assert catalog["additionalProperties"] is False
    code, out = _run("schema", "nope")
    assert code == 2
    assert "unknown schema 'nope'" in out


def test_pack_tests_pass_and_fail(tmp_path: Path) -> None:
    code, out = _run("test", "-q", str(REPO / "rules/rating"))
    assert code == 0, out
    assert out.strip().endswith(" passed, 0 failed")
    broken = (REPO / "rules/credit-control.rules.yaml").read_text(encoding="utf-8")
    target = tmp_path / "cc.rules.yaml"
    # flip one expected outcome so that a case must fail
    assert "expect:" in broken
    target.write_text(broken.replace("expect:", "expect_never_here:", 1), encoding="utf-8")
    code, out = _run("test", str(target))
    assert code == 1


def test_explain_prints_the_matching_row(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"event": {"service": "voice", "zone": "home", "time": "2026-11-28T10:00:00"}}),
        encoding="utf-8",
    )
    code, out = _run("explain", str(REPO / "rules/rating"), str(event))
    assert code == 0, out
    assert "weekend" in out  # 2026-11-28 is a Saturday


def test_journey_diagram_formats() -> None:
    code, out = _run("journey", "diagram", str(REPO / "journeys/top_up.yaml"))
    assert code == 0
    assert "stateDiagram-v2" in out
    code, out = _run("journey", "diagram", "--format", "dot", str(REPO / "journeys/top_up.yaml"))
    assert code == 0
    assert out.lstrip().startswith("digraph")


def test_worker_command_forwards_its_arguments() -> None:
    code, out = _run("worker", "--help")
    assert code == 0
    assert "--ledger-url" in out
