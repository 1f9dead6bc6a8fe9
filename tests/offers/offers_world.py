"""Shared loaders for the offers tests (the shipped catalog, the 5G packs)."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

from telcoflow.catalog import Catalog
from telcoflow.loading.catalog import load_catalog
from telcoflow.rules.pack import RulePack, load_pack

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules" / "5g"
WEIGHTS = RULES / "recommend-weights.yaml"


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The base catalog plus the 5G entries."""
    return load_catalog(REPO / "examples" / "catalog", REPO / "examples" / "catalog-5g")


@cache
def pack(name: str) -> RulePack:
    """A pack of rules/5g by file or folder name."""
    return load_pack(RULES / name)
