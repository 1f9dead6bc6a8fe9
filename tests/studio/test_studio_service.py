"""The studio's service and HTTP API (no browser): save, simulate, path tests, metrics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from telcoflow.errors import StudioError
from telcoflow.studio import Studio
from telcoflow.studio.app import create_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    folder = tmp_path / "journeys"
    folder.mkdir()
    for name in ("top_up.yaml", "prepaid_online_purchase.yaml"):
        shutil.copy(REPO / "journeys" / name, folder / name)
    return Studio([folder], tests_dir=tmp_path / "tests")


def _index(studio: Studio, name: str) -> int:
    return next(i for i, f in enumerate(studio.files) if f.name == name)


def test_save_keeps_comments_and_key_order(studio: Studio) -> None:
    n = _index(studio, "top_up.yaml")
    text = studio.text(n)
    edited = text.replace("  can_retry: \"payment_attempts < 3\"",
                          "  can_retry: \"payment_attempts < 4\"  # one more try")
    result = studio.save(n, edited)
    saved = studio.file(n).read_text(encoding="utf-8")
    assert result["ok"] is True
    assert saved == edited  # this file's style is the round-trip's: nothing else moved
    assert saved.startswith("# Prepaid top-up: choose an amount")
    assert "payment_attempts < 4\"  # one more try" in saved
    keys = [line.split(":")[0] for line in saved.splitlines() if line and line[0].isalpha()]
    assert keys == ["kind", "id", "version", "title", "context", "triggers", "guards",
                    "actions", "states"]


def test_save_refuses_yaml_that_does_not_parse_at_its_line(studio: Studio) -> None:
    n = _index(studio, "top_up.yaml")
    before = studio.text(n)
    broken = before.replace("version: 1\n", "version: 1\n  bad: [\n")
    with pytest.raises(StudioError, match=r"top_up\.yaml:5:6: not saved"):
        studio.save(n, broken)
    assert studio.text(n) == before


def test_check_reports_each_problem_at_line_and_column_with_its_level(studio: Studio) -> None:
    n = _index(studio, "top_up.yaml")
    text = studio.text(n).replace("target: paying, guard", "target: payng, guard")
    result = studio.check(n, text)
    assert result["ok"] is False
    first = result["problems"][0]
    assert (first["line"], first["col"], first["level"], first["code"]) == (
        24, 23, "error", "E-journey-target")
    good = studio.check(n, studio.text(n))
    assert good["ok"] is True
    assert good["problems"] == []
    assert '<g class="state leaf" data-state="paying">' in good["svg"]


def test_simulation_fires_timeouts_with_the_test_clock(studio: Studio) -> None:
    n = _index(studio, "top_up.yaml")
    view = studio.start(n)
    assert view["state"] == "choosing"
    assert [e["trigger"] for e in view["enabled"]] == ["cancel", "choose_amount"]
    sim = studio.simulation(view["id"])
    view = sim.send("choose_amount", {"amount": 2})  # valid_amount does not hold
    assert view["state"] == "choosing"
    assert view["steps"][-1]["moved"] is False
    view = sim.send("choose_amount", {"amount": 10})
    assert view["state"] == "paying"
    assert view["deadlines"] == [{"state": "paying", "in": 900.0}]
    view = sim.advance(899)
    assert view["state"] == "paying"
    view = sim.advance(1)  # the 15 minutes are up
    assert (view["state"], view["outcome"]) == ("abandoned", "abandoned")
    assert view["steps"][-1]["trigger"] == "@timeout:paying"
    assert view["steps"][-1]["channel"] == "system"
    assert view["active"] == ["abandoned"]
    with pytest.raises(StudioError, match="seconds"):
        sim.advance(-5)


def test_saved_path_test_with_a_timeout_runs(studio: Studio, tmp_path: Path) -> None:
    n = _index(studio, "top_up.yaml")
    sim = studio.simulation(studio.start(n)["id"])
    sim.send("choose_amount", {"amount": 10})
    sim.send("payment_failed")
    sim.advance(15 * 60)
    saved = studio.save_path_test(sim.id, "fail_then_wait")
    assert saved["file"] == str(tmp_path / "tests" / "test_top_up_fail_then_wait.py")
    assert saved["steps"] == 3
    assert "PAYLOADS = [{'amount': 10}, {}]" in saved["source"]
    result = studio.run_paths(n)
    mine = [r for r in result["results"] if r["kind"] == "saved"]
    assert mine == [{"kind": "saved", "passed": True, "message": "passed",
                     "id": "test_top_up_fail_then_wait.py::test_top_up_fail_then_wait"}]
    with pytest.raises(StudioError, match="name"):
        studio.save_path_test(sim.id, "../escape")


def test_generated_paths_pass_with_payloads_and_say_why_without(studio: Studio) -> None:
    n = _index(studio, "top_up.yaml")
    listed = studio.paths(n)
    assert {p["kind"] for p in listed["generated"]} == {"states", "transitions"}
    ok = studio.run_paths(n, payloads={"choose_amount": {"amount": 10}})
    assert ok["failed"] == 0
    assert ok["passed"] == len(listed["generated"])
    bare = studio.run_paths(n)
    failed = [r for r in bare["results"] if not r["passed"]]
    assert failed
    assert all("did not move (guard?)" in r["message"] for r in failed)


def test_metrics_from_a_sqlite_store(studio: Studio, tmp_path: Path) -> None:
    from telcoflow.config import open_journey_store
    from telcoflow.journeys import JourneyRuntime, ManualClock, load_journey
    from telcoflow.testing.journeys import noop_actions

    n = _index(studio, "top_up.yaml")
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    journey = load_journey(studio.file(n))
    clock = ManualClock()
    rt = JourneyRuntime(open_journey_store(url), [journey], actions=noop_actions(journey),
                        clock=clock)
    a = rt.create("top-up", channel="app", instance_id="a")
    clock.advance(40)
    rt.dispatch(a.id, "cancel", channel="app")
    rt.create("top-up", channel="web", instance_id="b")
    result = studio.metrics(n, url)
    assert result["started"] == 2
    assert result["metrics"]["outcomes"] == {"completed": 0, "abandoned": 1, "rejected": 0}
    assert result["metrics"]["drop_off"] == {"choosing": 1}
    assert "2 in · 1 dropped · app 1 / web 1</text>" in result["svg"]
    assert "Drop-off" in result["charts"]
    with pytest.raises(StudioError, match="journey store URL"):
        studio.metrics(n, None)


def test_http_api_answers_json_and_errors_with_400(studio: Studio) -> None:
    client = TestClient(create_app(studio))
    home = client.get("/")
    assert home.status_code == 200
    assert "Prepaid top-up" in home.text
    n = _index(studio, "top_up.yaml")
    page = client.get(f"/journey/{n}")
    assert page.status_code == 200
    assert '<script src="/static/editor.js">' in page.text
    assert client.get("/static/editor.js").status_code == 200
    assert client.get("/journey/99").status_code == 404
    bad = client.post("/api/simulation/nope/send", json={"trigger": "x"})
    assert bad.status_code == 400
    assert "no simulation 'nope'" in bad.json()["error"]
    started = client.post(f"/api/journey/{n}/simulate", json={}).json()
    moved = client.post(f"/api/simulation/{started['id']}/send",
                        json={"trigger": "cancel"}).json()
    assert moved["outcome"] == "abandoned"
    refused = client.post(f"/api/simulation/{started['id']}/send", json={"trigger": "cancel"})
    assert refused.status_code == 400
    assert "finished" in refused.json()["error"]
    not_json = client.post(f"/api/journey/{n}/check", content=b"{")
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["error"]
