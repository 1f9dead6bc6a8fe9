"""Next-best-offer recommendations: eligibility rules, then a tunable score, with reasons.

For one subscriber in one situation (scenario or location such as a stadium, region, live
event, time period, network quality, device), every candidate offer of the tuning file
(:mod:`telcoflow.offers.config`) goes through the recommend pack (``rules/5g/recommend/``):

1. decision ``exclusions`` lists every reason the offer is excluded (empty: eligible);
2. decision ``signals`` lists what speaks for or against it (``signal``, ``value``, ``why``);
3. the score is ``base + sum(weight[signal] x value)`` with the weights of the tuning file;
   offers under ``min_score`` are dropped, the best ``top`` are recommended (ties: offer id).

Every recommendation carries its contributions and every excluded offer its reasons, so
:meth:`RecommendationResult.explain` can say why each offer was chosen or left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from telcoflow.catalog import Catalog, OneTimePrice, RecurringPrice
from telcoflow.errors import DefinitionError, Problem
from telcoflow.money import to_decimal
from telcoflow.offers.config import (
    OfferSpec,
    RecommendationConfig,
    load_recommendation_config,
)
from telcoflow.rules.functions import to_datetime
from telcoflow.rules.pack import RulePack, load_pack
from telcoflow.rules.registry import Registry

__all__ = [
    "Contribution",
    "Exclusion",
    "Recommendation",
    "RecommendationResult",
    "Recommender",
    "period_of",
]

_ZERO = Decimal(0)
_SUBSCRIBER_DEFAULTS: Mapping[str, Any] = {
    "segments": (), "five_g_device": False, "offerings": (), "has_pass": False,
    "marketing_consent": True, "credit_status": "ok"}
_SITUATION_DEFAULTS: Mapping[str, Any] = {
    "scenario": None, "region": None, "venue_event": None, "period": None,
    "network_quality": "good"}


@dataclass(frozen=True, slots=True)
class Contribution:
    """One signal's part of a score: ``points = weight x value``."""

    signal: str
    value: Decimal
    weight: Decimal
    points: Decimal
    why: str


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A scored, eligible offer with the contributions that make its score."""

    offer: str
    score: Decimal
    base: Decimal
    contributions: tuple[Contribution, ...]
    journey: str | None = None

    def reasons(self) -> list[str]:
        """The ``why`` of every signal that added points, largest first."""
        ranked = sorted(self.contributions, key=lambda c: -c.points)
        return [c.why for c in ranked if c.points > 0]


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An offer left out, with every reason (ineligible, or scored under ``min_score``)."""

    offer: str
    reasons: tuple[str, ...]
    score: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RecommendationResult:
    """The recommendations for one subscriber in one situation, best first."""

    subscriber: str
    situation: Mapping[str, Any]
    chosen: tuple[Recommendation, ...]
    excluded: tuple[Exclusion, ...]

    @property
    def offers(self) -> list[str]:
        """The recommended offer ids, best first."""
        return [r.offer for r in self.chosen]

    def explain(self) -> str:
        """Why each offer was chosen (score and contributions) or excluded, as text."""
        where = ", ".join(f"{k}={v}" for k, v in self.situation.items() if v is not None)
        lines = [f"next best offers for {self.subscriber} ({where}):"]
        if not self.chosen:
            lines.append("  (none)")
        for n, rec in enumerate(self.chosen, 1):
            lines.append(f"  {n}. {rec.offer}: score {rec.score:.2f}")
            if rec.base:
                lines.append(f"       {_signed(rec.base)}  base")
            for c in rec.contributions:
                lines.append(f"       {_signed(c.points)}  {c.signal} = {_fmt(c.value)} x "
                             f"{_fmt(c.weight)}: {c.why}")
        for ex in self.excluded:
            score = "" if ex.score is None else f" (score {ex.score:.2f})"
            lines.append(f"  excluded {ex.offer}{score}: {'; '.join(ex.reasons)}")
        return "\n".join(lines)


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def _signed(value: Decimal) -> str:
    return f"{'+' if value >= 0 else '-'}{abs(value):.2f}"


def period_of(time: object) -> str:
    """The time period of a timestamp: ``morning`` (06-11), ``daytime`` (11-17),
    ``evening`` (17-22) or ``night``."""
    hour = to_datetime(time).hour
    if 6 <= hour < 11:
        return "morning"
    if 11 <= hour < 17:
        return "daytime"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def _catalog_price(catalog: Catalog, offering_id: str) -> Decimal:
    offering = catalog.offering(offering_id)
    total = _ZERO
    for price in offering.prices:
        if isinstance(price, OneTimePrice) or (isinstance(price, RecurringPrice)
                                               and price.amount is not None):
            assert price.amount is not None
            total += price.amount
    return total


class Recommender:
    """Recommends offers with a recommend pack and a tuning file (see the module docstring).

    Build once (the pack is compiled, the candidate offers resolved against the catalog,
    the weights checked against the pack's signals), then call :meth:`recommend` many
    times, from any number of threads.
    """

    def __init__(self, pack: RulePack, config: RecommendationConfig, *,
                 catalog: Catalog | None = None, config_file: str | None = None) -> None:
        self.pack = pack
        self.config = config
        self.weights: dict[str, Decimal] = dict(config.weights)
        problems = self._check_signals(config_file)
        offers: list[tuple[OfferSpec, dict[str, Any]]] = []
        for i, spec in enumerate(config.offers):
            kind, price = "add_on", spec.price
            regions: tuple[str, ...] = ()
            if catalog is not None:
                try:
                    offering = catalog.offering(spec.id)
                except KeyError as exc:
                    problems.append(Problem(f"offer {spec.id!r} is not in the catalog "
                                            f"({exc.args[0]})",
                                            "E-recommend-offer", config_file,
                                            path=f"$.offers[{i}].id"))
                    continue
                kind, regions = offering.kind, tuple(offering.regions)
                if price is None:
                    price = _catalog_price(catalog, spec.id)
            offers.append((spec, {
                "id": spec.id, "kind": kind, "price": price or _ZERO,
                "requires_5g": spec.requires_5g, "requires_event": spec.requires_event,
                "regions": list(regions), "scenarios": list(spec.scenarios),
                "segments": list(spec.segments), "periods": list(spec.periods)}))
        if problems:
            raise DefinitionError(problems)
        self._offers = tuple(offers)
        self._exclusions = pack.decision("exclusions").evaluate
        self._signals = pack.decision("signals").evaluate

    def _check_signals(self, config_file: str | None) -> list[Problem]:
        known: set[str] = set()
        problems: list[Problem] = []
        for name in ("exclusions", "signals"):
            try:
                self.pack.decision(name)
            except KeyError as exc:
                problems.append(Problem(str(exc.args[0]), "E-recommend-pack", self.pack.file))
        if problems:
            return problems
        for item in self.pack.decision("signals").items:
            signal = item.outputs.static.get("signal")
            if isinstance(signal, str):
                known.add(signal)
        for signal in sorted(known - set(self.weights)):
            problems.append(Problem(f"signal {signal!r} of pack {self.pack.name!r} has no "
                                    f"weight (weights: {', '.join(sorted(self.weights))})",
                                    "E-recommend-weight", config_file, path="$.weights"))
        for signal in sorted(set(self.weights) - known):
            problems.append(Problem(f"weight {signal!r} names no signal of pack "
                                    f"{self.pack.name!r} (signals: {', '.join(sorted(known))})",
                                    "E-recommend-weight", config_file,
                                    path=f"$.weights.{signal}"))
        return problems

    @classmethod
    def from_files(cls, weights: str | Path, catalog: Catalog | None = None, *,
                   registry: Registry | None = None) -> Recommender:
        """Load the tuning file and the pack it names (relative to the tuning file)."""
        path = Path(weights)
        config = load_recommendation_config(path)
        pack = load_pack(path.parent / config.pack, registry=registry)
        return cls(pack, config, catalog=catalog, config_file=str(path))

    @property
    def offer_ids(self) -> list[str]:
        """The candidate offers, in the tuning file's order."""
        return [spec.id for spec, _ in self._offers]

    def recommend(self, subscriber: Mapping[str, Any], situation: Mapping[str, Any], *,
                  top: int | None = None) -> RecommendationResult:
        """Recommend offers for ``subscriber`` (``id``, ``segments``, ``five_g_device``,
        ``offerings``, ``has_pass``...) in ``situation`` (``scenario``, ``region``,
        ``venue_event``, ``period`` or ``time``, ``network_quality``)."""
        sit = {**_SITUATION_DEFAULTS, **situation}
        if sit["period"] is None and sit.get("time") is not None:
            sit["period"] = period_of(sit["time"])
        sub = {**_SUBSCRIBER_DEFAULTS, **subscriber}
        limit = top if top is not None else self.config.top
        floor = self.config.min_score
        lets = bool(self.pack.lets)
        scored: list[Recommendation] = []
        excluded: list[Exclusion] = []
        weights = self.weights
        for spec, offer in self._offers:
            ctx: dict[str, Any] = {"subscriber": sub, "situation": sit, "offer": offer}
            if lets:
                ctx = self.pack.context_for(ctx)
            reasons = self._exclusions(ctx) or []
            if reasons:
                excluded.append(Exclusion(spec.id, tuple(str(r.get("reason", r.get("id", "?")))
                                                         for r in reasons)))
                continue
            contributions = []
            score = spec.base
            for out in self._signals(ctx) or []:
                signal = str(out["signal"])
                value = to_decimal(out.get("value", 1), field=f"signal {signal} value")
                weight = weights[signal]
                points = weight * value
                score += points
                contributions.append(Contribution(signal, value, weight, points,
                                                  str(out.get("why", signal))))
            rec = Recommendation(spec.id, score, spec.base, tuple(contributions), spec.journey)
            if floor is not None and score < floor:
                excluded.append(Exclusion(spec.id, (f"score {_fmt(score)} is under the "
                                                    f"minimum {_fmt(floor)}",), score))
                continue
            scored.append(rec)
        scored.sort(key=lambda r: (-r.score, r.offer))
        for rec in scored[limit:]:
            excluded.append(Exclusion(rec.offer, (f"ranked below the top {limit}",), rec.score))
        sub_id = str(sub.get("id", "?"))
        return RecommendationResult(sub_id, sit, tuple(scored[:limit]), tuple(excluded))

    def recommend_many(self, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
                       ) -> list[RecommendationResult]:
        """:meth:`recommend` for each ``(subscriber, situation)``."""
        return [self.recommend(s, c) for s, c in items]
