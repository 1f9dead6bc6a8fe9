"""The stadium example runs, its figures hang together, and its notebook is the same code."""

from __future__ import annotations

import json
import runpy
from decimal import Decimal
from pathlib import Path

import pytest
from offers_world import REPO

from telcoflow.demo.notebook import cells_of
from telcoflow.money import Money

SCRIPT = REPO / "examples" / "5g_stadium.py"
NOTEBOOK = REPO / "examples" / "5g_stadium.ipynb"


def test_the_script_runs_and_its_figures_agree() -> None:
    namespace = runpy.run_path(str(SCRIPT), run_name="example")
    printed: list[str] = []
    summary = namespace["main"](printed.append)
    offers, day, report = summary["offers"], summary["day"], summary["report"]
    bought = len(offers["bought"])
    assert 0 < bought <= len(offers["offered"])
    # every pass bought went through the slice-pass purchase journey to `completed`
    assert offers["journeys"].get("completed") == bought
    # every fan is seen twice during the match: each offer made once, the repeat suppressed
    assert offers["suppressed"] == len(offers["offered"])
    assert day["fees"] == Money(Decimal("5.00") * bought, "EUR")
    assert report.total.customer == Money.sum((p.customer for p in report.partners), "EUR")
    assert {p.partner for p in report.partners} == {"arenacast", "streamflix", "tunewave"}
    # ArenaCast: 3.00 per scenic-live day bought
    arena = next(p for p in report.partners if p.partner == "arenacast")
    assert arena.customer == Money(Decimal("3.00") * len(summary["coast"]["bought"]), "EUR")
    text = "\n".join(printed)
    assert "1. stadium-pass-3h: score 10.00" in text
    assert "customer revenue by partner:" in text
    assert summary["svg"].startswith("<svg")


def test_the_notebook_is_the_script() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    cells = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    assert cells == cells_of(SCRIPT.read_text(encoding="utf-8")), (
        "regenerate: python -m telcoflow.demo.notebook examples/5g_stadium.py")
    last = nb["cells"][-1]
    assert any(o.get("name") == "stdout" for o in last["outputs"])


def test_the_notebook_cells_run_in_order(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(Path(REPO / "examples"))
    namespace: dict[str, object] = {"__name__": "__main__"}
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), namespace)
    assert "summary" in namespace
    assert "next best offers for fan-" in capsys.readouterr().out
