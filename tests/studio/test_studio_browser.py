"""The studio in a real headless Chromium (Debian's), driven by Playwright: the acceptance path.

Open a shipped journey, introduce a typo and see the error at its line, fix it, simulate a
path to a final state and see the highlighted configuration, save it as a path test and run
it (on the page and with pytest), open the metrics view on a store this test fills.
Screenshots of each view go to build/studio-screenshots/ (1280x800).

Chromium missing: skipped, or failed under TELCOFLOW_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "studio-screenshots"


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    msg = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium chromium-driver)"
    if os.environ.get("TELCOFLOW_REQUIRE_SERVICES") == "1":
        pytest.fail(msg + " (TELCOFLOW_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


def _fill_store(url: str, journey_file: Path) -> None:
    """5 top-ups: 3 completed in the app, 1 cancelled on the web, 1 on the web still paying."""
    from telcoflow.config import open_journey_store
    from telcoflow.journeys import JourneyRuntime, ManualClock, load_journey
    from telcoflow.testing.journeys import noop_actions

    journey = load_journey(journey_file)
    clock = ManualClock()
    store = open_journey_store(url)
    runtime = JourneyRuntime(store, [journey], actions=noop_actions(journey), clock=clock)
    for n in range(3):
        inst = runtime.create("top-up", channel="app", instance_id=f"app-{n}")
        clock.advance(60)
        runtime.dispatch(inst.id, "choose_amount", {"amount": 10}, channel="app")
        clock.advance(30)
        runtime.dispatch(inst.id, "payment_succeeded", channel="app")
    cancelled = runtime.create("top-up", channel="web", instance_id="web-0")
    runtime.dispatch(cancelled.id, "cancel", channel="web")
    paying = runtime.create("top-up", channel="web", instance_id="web-1")
    runtime.dispatch(paying.id, "choose_amount", {"amount": 50}, channel="web")
    close = getattr(store, "close", None)
    if callable(close):
        close()


@pytest.fixture
def studio_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    import uvicorn

    from telcoflow.studio import Studio
    from telcoflow.studio.app import create_app

    folder = tmp_path / "journeys"
    folder.mkdir()
    shutil.copy(REPO / "journeys" / "top_up.yaml", folder / "top_up.yaml")
    store_url = f"sqlite:///{tmp_path / 'journeys.sqlite'}"
    _fill_store(store_url, folder / "top_up.yaml")
    studio = Studio([folder], tests_dir=tmp_path / "tests", store_url=store_url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(studio), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the studio did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        server.should_exit = True
        thread.join(10)


def _caret_after(text: str, needle: str, offset: int) -> tuple[int, int]:
    """1-based line and column of the character ``offset`` characters into ``needle``."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n, line.index(needle) + offset + 1
    raise AssertionError(f"{needle!r} not in the journey")


def test_studio_in_chromium(studio_server: tuple[str, Path]) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, tmp = studio_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    text = (tmp / "journeys" / "top_up.yaml").read_text(encoding="utf-8")
    line, col = _caret_after(text, "target: paying, guard: valid_amount", len("target: payi"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu",
                                           "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/journey/0")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            expect(page.locator("#check-state")).to_have_text("valid")
            assert page.locator("#diagram svg g.state[data-state='paying']").count() == 1
            page.screenshot(path=str(SHOTS / "1-edit.png"))

            # a typo: `paying` -> `payng`, typed in the editor
            page.evaluate(f"studioEditor.goTo({line}, {col})")
            page.keyboard.press("Backspace")
            problem = page.locator(".problem.error").first
            expect(problem).to_contain_text(f"{line}:", timeout=10_000)
            expect(problem).to_contain_text("unknown target state `payng`")
            expect(problem.locator(".level")).to_have_text("error")
            expect(page.locator(".cm-lintRange-error").first).to_be_visible()
            expect(page.locator("#check-state")).to_contain_text("error")
            page.screenshot(path=str(SHOTS / "2-error.png"))

            # fix it
            page.keyboard.type("i")
            expect(page.locator("#check-state")).to_have_text("valid", timeout=10_000)
            expect(page.locator(".ok-line")).to_have_text("no problems")

            # simulate: choose 10, the payment fails, retry, pay: completed
            page.click("#tab-simulate")
            page.click("#sim-start")
            expect(page.locator("#sim-state")).to_have_text("in choosing")
            page.fill("#sim-payload", '{"amount": 10}')
            page.click("#sim-events .event[data-trigger='choose_amount']")
            expect(page.locator("#sim-state")).to_have_text("in paying")
            page.fill("#sim-payload", "")
            page.click("#sim-events .event[data-trigger='payment_failed']")
            expect(page.locator("#sim-state")).to_have_text("in payment_failed")
            page.click("#sim-events .event[data-trigger='retry_payment']")
            page.click("#sim-events .event[data-trigger='payment_succeeded']")
            expect(page.locator("#sim-state")).to_have_text("final: completed (completed)")
            active = page.locator("#diagram g.state.active")
            expect(active).to_have_count(1)
            assert active.get_attribute("data-state") == "completed"
            expect(page.locator("#diagram g.edge.taken")).to_have_attribute(
                "data-trigger", "payment_succeeded")
            expect(page.locator("#sim-steps tr")).to_have_count(4)
            page.fill("#sim-test-name", "retry_then_pay")
            page.click("#sim-save-test")
            expect(page.locator("#sim-saved")).to_contain_text("test_top_up_retry_then_pay.py")
            page.screenshot(path=str(SHOTS / "3-simulate.png"))

            # paths: generated paths with a payload for the guard, and the saved test
            page.click("#tab-paths")
            page.fill("#paths-payloads", '{"choose_amount": {"amount": 10}}')
            page.click("#paths-run")
            expect(page.locator("#paths-summary")).to_contain_text("0 failed")
            saved_row = page.locator("#paths-list tr", has_text="retry_then_pay")
            expect(saved_row).to_contain_text("pass")
            page.screenshot(path=str(SHOTS / "4-paths.png"))

            # metrics on the store the fixture filled
            page.click("#tab-metrics")
            page.click("#metrics-load")
            expect(page.locator(".tf-summary")).to_contain_text("5 started, 1 in flight")
            expect(page.locator("#diagram g.state[data-state='completed'] text.note")
                   ).to_have_text("3 in")
            expect(page.locator("#diagram g.state[data-state='choosing'] text.note")
                   ).to_have_text("5 in · 1 dropped · app 3 / web 2")
            page.screenshot(path=str(SHOTS / "5-metrics.png"))
            assert errors == []
        finally:
            browser.close()

    # the saved path test is a pytest module that passes
    saved = tmp / "tests" / "test_top_up_retry_then_pay.py"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(saved)], capture_output=True, text=True, timeout=120,
                         cwd=tmp, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
