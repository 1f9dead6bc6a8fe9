"""Customer portraits: usage aggregates of a subscriber (usually 30 days) and the segments
the portraits pack (``rules/5g/portraits.rules.yaml``) computes from them: heavy video,
traveller, gamer, family.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from telcoflow.money import to_decimal
from telcoflow.rules.functions import to_datetime
from telcoflow.rules.pack import RulePack

__all__ = ["Portrait", "PortraitBuilder", "usage_aggregates"]

_MB_PER_GB = Decimal(1000)


def usage_aggregates(records: Iterable[Mapping[str, Any]], *, lines: int = 1,
                     five_g_devices: int = 0) -> dict[str, Any]:
    """Aggregate usage records of one subscriber into the portraits pack's ``usage``.

    Each record has ``time`` and optionally ``volume_mb`` (data), ``category`` (``video``,
    ``gaming``, ...), ``zone`` (not ``home``: a roaming day), ``region``, ``seconds`` (of a
    gaming session) and ``slice_class`` (``urllc``: a low-latency session).
    """
    data = video = gaming_s = Decimal(0)
    roaming_days: set[str] = set()
    regions: set[str] = set()
    urllc = 0
    for r in records:
        mb = to_decimal(r.get("volume_mb", 0), field="volume_mb")
        data += mb
        category = r.get("category")
        if category == "video":
            video += mb
        if category == "gaming":
            gaming_s += to_decimal(r.get("seconds", 0), field="seconds")
        if r.get("zone", "home") != "home":
            roaming_days.add(to_datetime(r["time"]).date().isoformat())
        if r.get("region"):
            regions.add(str(r["region"]))
        if r.get("slice_class") == "urllc":
            urllc += 1
    return {"data_gb": data / _MB_PER_GB, "video_gb": video / _MB_PER_GB,
            "roaming_days": len(roaming_days), "regions_visited": len(regions),
            "gaming_hours": gaming_s / 3600, "urllc_sessions": urllc, "lines": lines,
            "five_g_devices": five_g_devices}


@dataclass(frozen=True, slots=True)
class Portrait:
    """The segments of one subscriber (rule order: the first is the primary one)."""

    subscriber: str
    segments: tuple[str, ...]
    reasons: Mapping[str, str]
    aggregates: Mapping[str, Any]

    @property
    def primary(self) -> str:
        """The first segment, or ``standard`` when there is none."""
        return self.segments[0] if self.segments else "standard"


class PortraitBuilder:
    """Segments subscribers with the portraits pack."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._segments = pack.decision("segments")

    def portrait(self, subscriber: str, aggregates: Mapping[str, Any]) -> Portrait:
        """The portrait of ``subscriber`` from its usage ``aggregates``."""
        out = self._segments.evaluate(self.pack.context_for({"usage": aggregates})) or []
        segments = tuple(str(o["segment"]) for o in out)
        reasons = {str(o["segment"]): str(o.get("reason", "")) for o in out}
        return Portrait(subscriber, segments, reasons, dict(aggregates))
