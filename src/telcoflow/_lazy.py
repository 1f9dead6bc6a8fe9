"""Package attributes that import their module on first use (PEP 562).

A package lists ``name -> module`` and takes the two module-level hooks from
:func:`lazy_exports`; the first read of a name imports its module and keeps the value in the
package's namespace, so later reads are plain attribute reads.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, modules: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose names in ``modules`` load lazily."""
    namespace = sys.modules[package].__dict__

    def get_attribute(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted(namespace.get("__all__", modules))

    return get_attribute, names
