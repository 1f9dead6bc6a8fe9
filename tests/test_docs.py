"""Every fenced ``python`` block in docs/*.md and README.md runs (per page, in order)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted([*REPO.glob("docs/**/*.md"), REPO / "README.md"])
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_doc_examples_run(page: Path, tmp_path: Path) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = FENCE.findall(text)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    old = Path.cwd()
    os.chdir(REPO)
    try:
        for i, block in enumerate(blocks):
            start = text[: text.index(block)].count("\n") + 1
            code = compile("\n" * (start - 1) + block, str(page), "exec")
            try:
                exec(code, namespace)  # the project's own docs, not user input
            except Exception as exc:  # pragma: no cover - reported with location
                raise AssertionError(
                    f"{page.name} block {i + 1} (line {start}) failed: {exc!r}"
                ) from exc
    finally:
        os.chdir(old)
