"""Where the files that ship with telcoflow are: example catalog, demo close policy, audits.

They live in the source repository (``examples/``, ``rules/``) and are installed with a wheel
as data files under ``<prefix>/share/telcoflow/`` (``<prefix>`` is the environment's data
path, e.g. the virtual environment). :func:`shipped_path` finds one in a source checkout or
an editable install first, then in the installed data files, then under the working
directory, and says where it looked when it is nowhere.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from telcoflow.errors import DefinitionError, Problem

__all__ = ["shipped_path"]

#: the repository root of a source checkout / editable install (``src/telcoflow/..``)
_REPO = Path(__file__).resolve().parents[2]


def _candidates(relative: str) -> list[Path]:
    return [
        _REPO / relative,
        Path(sysconfig.get_path("data")) / "share" / "telcoflow" / relative,
        Path.cwd() / relative,
    ]


def shipped_path(relative: str, *, directory: bool = False) -> Path:
    """The shipped file (or, with ``directory``, folder) at ``relative``, e.g.
    ``"examples/close/close-policy.yaml"``; :class:`~telcoflow.errors.DefinitionError` if
    it is in none of the places it can be."""
    candidates = _candidates(relative)
    for candidate in candidates:
        if candidate.is_dir() if directory else candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise DefinitionError([Problem(
        f"the shipped {'folder' if directory else 'file'} {relative} was not found (looked in "
        f"{looked}); it comes with the source repository and with telcoflow's wheel "
        "(share/telcoflow): reinstall telcoflow or pass a path", "E-shipped-missing")])
