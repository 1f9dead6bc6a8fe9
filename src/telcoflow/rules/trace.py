"""Traces: which rules and table rows matched an evaluation, the values they saw, and the
pack version that decided; plus a plain-text rendering (``telcoflow explain``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from telcoflow.privacy import DEFAULT_MASKING, MaskingPolicy
from telcoflow.rules.values import Violation

__all__ = ["DecisionTrace", "Fired", "Match", "NearMiss", "Trace", "render_trace",
           "to_jsonable"]


@dataclass(frozen=True, slots=True)
class Match:
    """One rule or table row that matched: its id, the values it read, its outputs."""

    decision: str
    rule: str
    seen: Mapping[str, Any]
    outputs: Mapping[str, Any]
    priority: int = 0

    @property
    def ref(self) -> str:
        """``decision/rule``."""
        return f"{self.decision}/{self.rule}"


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A rule that did not match, among those nearest to matching: how many of its
    conditions (``and`` terms) held, the first that failed and the values that term read."""

    rule: str
    held: int
    total: int
    failed: str
    seen: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DecisionTrace:
    """How one decision was taken."""

    name: str
    kind: str
    hit: str
    applied: bool
    tested: int
    total: int
    matches: tuple[Match, ...]
    value: Any
    defaulted: bool = False
    label: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels of the decision's inputs (by input expression) and outputs (by name)."""
    #: when no rule matched: the nearest rules and the condition each failed on
    near_misses: tuple[NearMiss, ...] = ()


@dataclass(frozen=True, slots=True)
class Fired:
    """A stateful rule that fired: its id, correlation key and outputs."""

    rule: str
    key: Any
    outputs: Mapping[str, Any]
    at: Any = None


@dataclass(frozen=True)
class Trace:
    """The full story of one evaluation of a pack, including the version that decided."""

    pack: str
    version: str
    digest: str
    lets: Mapping[str, Any] = field(default_factory=dict)
    decisions: tuple[DecisionTrace, ...] = ()
    fired: tuple[Fired, ...] = ()
    error: str | None = None

    def matched(self) -> list[str]:
        """``decision/rule`` of every match, in evaluation order."""
        return [m.ref for d in self.decisions for m in d.matches]

    @property
    def values(self) -> dict[str, Any]:
        """Decision name -> value."""
        return {d.name: d.value for d in self.decisions}

    def to_dict(self, *, masking: MaskingPolicy = DEFAULT_MASKING) -> dict[str, Any]:
        """JSON-ready form (Decimals and dates as text; identifiers in text values masked
        unless ``masking`` is :data:`~telcoflow.privacy.CLEAR`)."""
        data: dict[str, Any] = to_jsonable({
            "pack": self.pack, "version": self.version, "digest": self.digest,
            "lets": dict(self.lets),
            "decisions": [{
                "name": d.name, "label": d.label, "kind": d.kind, "hit": d.hit,
                "applied": d.applied,
                "tested": d.tested, "total": d.total, "defaulted": d.defaulted,
                "value": d.value,
                "matches": [{"rule": m.rule, "seen": dict(m.seen), "outputs": dict(m.outputs)}
                            for m in d.matches],
                "near_misses": [{"rule": n.rule, "held": n.held, "total": n.total,
                                 "failed": n.failed, "seen": dict(n.seen)}
                                for n in d.near_misses],
            } for d in self.decisions],
            "fired": [{"rule": f.rule, "key": f.key, "outputs": dict(f.outputs)}
                      for f in self.fired],
            "error": self.error,
        }, masking.mask)
        return data

    def render(self, *, masking: MaskingPolicy = DEFAULT_MASKING) -> str:
        """Human-readable text (see :func:`render_trace`)."""
        return masking.mask(render_trace(self))


def to_jsonable(value: Any, text: Callable[[str], str] = str) -> Any:
    """Convert Decimals, dates and mappings to JSON-friendly values (Decimal -> text);
    ``text`` transforms every string value (e.g. a masking policy's ``mask``)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Violation):
        return to_jsonable(value.to_dict(), text)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, text) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, text) for v in value]
    return value


def _fmt(value: Any, labels: Mapping[str, str] | None = None) -> str:
    if isinstance(value, Violation):
        return f"error: {value.message}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_named(k, labels)}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _named(key: Any, labels: Mapping[str, str] | None) -> str:
    label = labels.get(key) if labels else None
    return f"{key} ({label!r})" if label else str(key)


def render_trace(trace: Trace) -> str:
    """Render ``trace`` as indented text: pack version, computed values, each decision with
    the rules that matched and the values they saw, stateful rules fired."""
    lines = [f"pack {trace.pack} version {trace.version} ({trace.digest[:12]})"]
    for name, value in trace.lets.items():
        lines.append(f"  let {name} = {_fmt(value)}")
    for d in trace.decisions:
        title = f"{d.name} ({d.label!r})" if d.label else d.name
        if not d.applied:
            lines.append(f"  decision {title} [{d.kind}, {d.hit}]: not applicable (guard false)")
            continue
        how = "default" if d.defaulted else f"{len(d.matches)} matched"
        lines.append(f"  decision {title} [{d.kind}, {d.hit}]: {how}, "
                     f"{d.tested} of {d.total} tested -> {_fmt(d.value, d.labels)}")
        for m in d.matches:
            lines.append(f"    - {m.rule}: {_fmt(m.outputs, d.labels)}")
            for path, value in m.seen.items():
                lines.append(f"        saw {_named(path, d.labels)} = {_fmt(value)}")
        if d.near_misses:
            lines.append("    no rule matched; the nearest:")
        for n in d.near_misses:
            lines.append(f"    - {n.rule}: {n.held} of {n.total} conditions held; failed: "
                         f"{n.failed}")
            for path, value in n.seen.items():
                lines.append(f"        saw {_named(path, d.labels)} = {_fmt(value)}")
    for f in trace.fired:
        lines.append(f"  fired {f.rule} for {_fmt(f.key)}: {_fmt(f.outputs)}")
    if trace.error:
        lines.append(f"  error: {trace.error}")
    return "\n".join(lines)
