"""The recommendation tuning file (``kind: offer-recommendation``): candidate offers, what
each is for, and the weight of every signal of the recommend pack.

Loaded with :func:`load_recommendation_config`; every problem is located
``file:line:col ($.path): message [code]`` like every other telcoflow YAML.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from telcoflow.catalog.common import ExactDecimal
from telcoflow.errors import DefinitionError, Problem
from telcoflow.loading.source import Document, load_document, parse_yaml
from telcoflow.loading.validate import load_each, validate_document

__all__ = [
    "OfferSpec",
    "RecommendationConfig",
    "load_recommendation_config",
    "parse_recommendation_config",
    "validate_recommendation_files",
]

#: Weights, prices and scores: exact decimals, never floats.
Number = ExactDecimal
_ID = r"^[a-z0-9][a-z0-9_.-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OfferSpec(_Frozen):
    """One candidate offer: a catalog offering and what it is meant for."""

    id: str = Field(pattern=_ID, description="the catalog offering id")
    base: Number = Field(Decimal(0), description="points the offer starts with")
    price: Number | None = Field(None, description="overrides the price read from the catalog")
    requires_5g: bool = False
    requires_event: bool = Field(False, description="only while a live event is on here")
    scenarios: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    journey: str | None = Field(None, description="journey started when the offer is taken")


class RecommendationConfig(_Frozen):
    """The whole tuning file."""

    kind: Literal["offer-recommendation"]
    pack: str = Field("recommend", description="the recommend pack, relative to this file")
    top: int = Field(3, ge=1, le=50, description="at most this many offers are recommended")
    min_score: Number | None = Field(None, description="offers scoring less are not shown")
    weights: dict[str, Number] = Field(min_length=1, description="signal -> weight")
    offers: tuple[OfferSpec, ...] = Field(min_length=1)


def _check(doc: Document, config: RecommendationConfig) -> RecommendationConfig:
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for i, offer in enumerate(config.offers):
        if offer.id in seen:
            problems.append(doc.problem(("offers", i, "id"), f"offer {offer.id!r} is listed "
                                        f"twice (also offers[{seen[offer.id]}])",
                                        "E-recommend-duplicate"))
        seen[offer.id] = i
    if problems:
        raise DefinitionError(problems)
    return config


def parse_recommendation_config(text: str, file: str = "<string>") -> RecommendationConfig:
    """Parse and validate a tuning file from YAML text."""
    doc = parse_yaml(text, file)
    return _check(doc, validate_document(doc, RecommendationConfig))


def load_recommendation_config(path: str | Path) -> RecommendationConfig:
    """Load and validate a tuning file (raises :class:`DefinitionError`, located)."""
    doc = load_document(path)
    return _check(doc, validate_document(doc, RecommendationConfig))


def validate_recommendation_files(files: Sequence[Path]) -> list[RecommendationConfig]:
    """Validate every ``kind: offer-recommendation`` file; all problems raised together
    (the validator for :data:`telcoflow.loading.kinds.KINDS`)."""
    return load_each(files, load_recommendation_config)
