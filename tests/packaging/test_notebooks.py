"""Every shipped notebook runs top to bottom in a Jupyter kernel (nbclient), from a folder
outside the source checkout: it reads the shipped files through telcoflow.shipped, not
through repository paths."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_runs_in_a_kernel_outside_the_checkout(path: Path,
                                                           tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    assert "customer revenue by partner:" in printed
    assert "1. stadium-pass-3h: score 10.00" in printed


def test_there_is_a_notebook() -> None:
    assert [p.name for p in NOTEBOOKS] == ["5g_stadium.ipynb"]
