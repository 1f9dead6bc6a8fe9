"""Validation entry point for ``telcoflow validate`` (see :mod:`telcoflow.loading.kinds`).

Files of kind ``rule-pack`` (and ``rule-pack-part``) are validated as whole packs: a
``pack.yaml`` or a part validates its folder's pack once, any other file the pack it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from telcoflow.errors import RuleError
from telcoflow.loading.validate import load_each
from telcoflow.rules.pack import RulePack, load_pack

__all__ = ["validate_pack_files"]


def _pack_root(path: Path) -> Path:
    if path.name == "pack.yaml":
        return path.parent
    if (path.parent / "pack.yaml").is_file():  # a part of a folder pack
        return path.parent
    return path


def validate_pack_files(files: Sequence[Path]) -> list[RulePack]:
    """Load (compile and check) every pack the files belong to, each once.

    Raises :class:`~telcoflow.errors.RuleError` with every problem of every pack.
    """
    roots: dict[Path, Path] = {}  # resolved -> as given (problems keep the given paths)
    for f in files:
        root = _pack_root(Path(f))
        roots.setdefault(root.resolve(), root)
    return load_each(roots.values(), load_pack, error=RuleError)
