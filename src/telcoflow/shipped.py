"""Where the files that ship with telcoflow are: example catalogs, the demo close policy,
journeys and rule packs (audits, 5G offers, rating, top-ups).

They are package data under ``telcoflow/_shipped/`` (in the source repository, links to
``examples/``, ``journeys/`` and ``rules/``), so they are found the same way from a source
checkout, an editable install or an installed wheel, whatever the working directory::

    from telcoflow.loading.catalog import load_catalog
    from telcoflow.shipped import shipped_path

    catalog = load_catalog(shipped_path("examples/catalog", directory=True))
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from telcoflow.errors import DefinitionError, Problem

__all__ = ["shipped_path"]


def _root() -> Path:
    """The folder of the shipped files (``telcoflow/_shipped``) in this installation."""
    return Path(str(files("telcoflow") / "_shipped"))


def shipped_path(relative: str, *, directory: bool = False) -> Path:
    """The shipped file (or, with ``directory``, folder) at ``relative``, e.g.
    ``"examples/close/close-policy.yaml"``; :class:`~telcoflow.errors.DefinitionError` if
    telcoflow does not ship it."""
    candidate = (_root() / relative).resolve()  # a checkout: the repository file itself
    if candidate.is_dir() if directory else candidate.is_file():
        return candidate
    raise DefinitionError([Problem(
        f"telcoflow ships no {'folder' if directory else 'file'} {relative} (looked in "
        f"{candidate}); the shipped files are examples/..., journeys/... and rules/...: "
        "check the name, reinstall telcoflow, or pass a path of your own",
        "E-shipped-missing")])
