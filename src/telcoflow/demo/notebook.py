"""Keep ``examples/5g_stadium.ipynb`` in step with ``examples/5g_stadium.py``: the script is
split into cells at ``# %%`` lines (``# %% [markdown]`` cells are comments turned into
Markdown) and written as an nbformat 4 notebook, optionally with the outputs of a run.

Regenerate with ``python -m telcoflow.demo.notebook examples/5g_stadium.py`` (it runs the
script's ``main`` to store its printed output and chart in the last cell).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["cells_of", "script_to_notebook"]

_MARK = re.compile(r"^# %%(?P<md> \[markdown\])?[^\n]*$", re.M)


def cells_of(script: str) -> list[tuple[str, str]]:
    """``(kind, source)`` of each cell of a ``# %%`` script (kind ``code`` or ``markdown``)."""
    marks = list(_MARK.finditer(script))
    cells: list[tuple[str, str]] = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(script)
        body = script[m.end():end].strip("\n")
        if m.group("md"):
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in
                     body.splitlines()]
            cells.append(("markdown", "\n".join(lines).strip("\n")))
        elif body.strip():
            cells.append(("code", body))
    return cells


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def script_to_notebook(script: str, *, stdout: str | None = None,
                       svg: str | None = None) -> dict[str, Any]:
    """The notebook (a JSON-ready dict) of ``script``; ``stdout`` and ``svg`` become the
    outputs of the last code cell."""
    cells: list[dict[str, Any]] = []
    code_cells = [n for n, (kind, _) in enumerate(cells_of(script)) if kind == "code"]
    for n, (kind, source) in enumerate(cells_of(script)):
        cell: dict[str, Any] = {"cell_type": kind, "id": f"cell-{n:02d}", "metadata": {},
                                "source": _lines(source)}
        if kind == "code":
            outputs: list[dict[str, Any]] = []
            if code_cells and n == code_cells[-1]:
                if stdout:
                    outputs.append({"name": "stdout", "output_type": "stream",
                                    "text": _lines(stdout)})
                if svg:
                    outputs.append({"data": {"image/svg+xml": _lines(svg),
                                             "text/plain": ["<IPython.core.display.SVG object>"]},
                                    "metadata": {}, "output_type": "display_data"})
            cell.update(execution_count=None, outputs=outputs)
        cells.append(cell)
    return {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def main(argv: Sequence[str] | None = None) -> None:
    """Write ``<script>.ipynb`` next to the script, with the outputs of its ``main``."""
    import runpy

    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0])
    text = path.read_text(encoding="utf-8")
    namespace = runpy.run_path(str(path), run_name="notebook_build")
    printed: list[str] = []
    summary = namespace["main"](printed.append)
    nb = script_to_notebook(text, stdout="\n".join(printed) + "\n", svg=summary.get("svg"))
    out = path.with_suffix(".ipynb")
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
