"""The journey studio: a local web page to edit, see, simulate, test and measure journeys.

``telcoflow studio journeys/`` serves one page per journey file on 127.0.0.1: the YAML in an
editor beside its drawing (redrawn as you type, problems shown at their line), a simulator
with a test clock, the generated path tests, and metrics read from a journey store. Every
asset ships in the package (the editor is a prebuilt CodeMirror bundle); nothing is fetched
from the internet. Needs the ``studio`` extra (``pip install telcoflow[studio]``).
See ``docs/studio.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from telcoflow.studio.service import Simulation, Studio

__all__ = ["Simulation", "Studio", "serve"]


def serve(paths: Sequence[str | Path], *, host: str = "127.0.0.1", port: int = 8765,
          tests_dir: Path | None = None, store_url: str | None = None) -> None:
    """Serve the studio for the journey files under ``paths`` until interrupted."""
    import uvicorn

    from telcoflow.studio.app import create_app

    app = create_app(Studio(paths, tests_dir=tests_dir, store_url=store_url))
    uvicorn.run(app, host=host, port=port, log_level="warning")
