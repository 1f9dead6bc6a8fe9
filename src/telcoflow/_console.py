"""The installed ``telcoflow`` script.

It imports the command line only when it runs, so that an install without the ``cli`` extra
prints the one-line "install telcoflow[cli]" message instead of a traceback.
"""

from __future__ import annotations

import sys

from telcoflow.errors import MissingDependencyError

__all__ = ["main"]


def main() -> None:
    """Run :func:`telcoflow.cli.run` and exit with its code; a missing extra is one line on
    standard error and exit code 1."""
    try:
        from telcoflow.cli import run
    except MissingDependencyError as exc:
        print(f"telcoflow: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(run())
