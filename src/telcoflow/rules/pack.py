"""Rule packs: the one import for loading and running them.

A pack is loaded by :mod:`telcoflow.rules.loader` (YAML -> compiled, every problem located),
runs as a :class:`~telcoflow.rules.runtime.RulePack`, and its table cells are compiled by
:mod:`telcoflow.rules.cells`. This module gathers their public names.
"""

from __future__ import annotations

from telcoflow.rules.loader import explain, is_pack_path, load_pack, pack_from_text
from telcoflow.rules.runtime import PackTest, RulePack, StatefulRule

__all__ = [
    "PackTest",
    "RulePack",
    "StatefulRule",
    "explain",
    "is_pack_path",
    "load_pack",
    "pack_from_text",
]
