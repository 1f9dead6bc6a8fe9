"""Hot reload: a :class:`RuleHost` serves one pack version at a time and swaps in a new one
atomically.

* :meth:`RuleHost.reload` loads and compiles the new version *first*; if it has problems
  the old version stays (and the :class:`~telcoflow.errors.RuleError` is raised).
* The swap is a single reference assignment under a lock: an evaluation reads the current
  pack once at its start and finishes on that version even if a reload lands meanwhile.
* Every :class:`Decided` result carries the pack name, version and digest that decided it.
* Stateful rules keep their state across a reload when the new version's stateful rules
  are identical (same digest of their definitions); otherwise the windows start afresh.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telcoflow.errors import ArgumentError
from telcoflow.rules.pack import RulePack, load_pack
from telcoflow.rules.registry import Registry
from telcoflow.rules.stateful import StatefulBackend, StatefulEngine
from telcoflow.rules.trace import Fired, Trace

__all__ = ["Decided", "RuleHost"]


@dataclass(frozen=True, slots=True)
class Decided:
    """The outcome of one evaluation and the pack version that decided it."""

    values: Mapping[str, Any]
    pack: str
    version: str
    digest: str
    fired: tuple[Fired, ...] = ()


def _stateful_digest(pack: RulePack) -> str:
    h = hashlib.sha256()
    for r in pack.stateful:
        parts = [r.id, r.pattern, r.key.source, r.time.source,
                 *(s.source for s in r.steps), str(r.window),
                 r.total.source if r.total else "", r.reach.source if r.reach else ""]
        h.update("\0".join(parts).encode() + b"\1")
    return h.hexdigest()


class RuleHost:
    """Holds the current version of a pack; thread-safe; reloadable while running.

    ``stateful_backend`` runs the pack's stateful rules: ``"python"`` (the default),
    ``"durable"`` (durable-rules in its isolated child process), or a factory of a backend.
    """

    def __init__(self, pack: RulePack | str | Path, *, registry: Registry | None = None,
                 stateful_backend: str | Callable[[], StatefulBackend] = "python") -> None:
        self._registry = registry
        self._backend = stateful_backend
        self._lock = threading.Lock()
        first = pack if isinstance(pack, RulePack) else load_pack(pack, registry=registry)
        self._source: Path | None = None if isinstance(pack, RulePack) else Path(pack)
        self._state: tuple[RulePack, StatefulEngine | None, str] = self._prepare(first, None)
        self.history: list[tuple[str, str]] = [(first.version, first.digest)]
        """(version, digest) of every version served, oldest first."""

    def _prepare(self, pack: RulePack, previous: tuple[RulePack, StatefulEngine | None, str]
                 | None) -> tuple[RulePack, StatefulEngine | None, str]:
        digest = _stateful_digest(pack)
        if not pack.stateful:
            return pack, None, digest
        if previous is not None and previous[1] is not None and previous[2] == digest:
            # same definitions: a new engine on the same backend keeps the state
            return pack, StatefulEngine(pack.stateful, previous[1].backend), digest
        backend = self._backend() if callable(self._backend) else self._backend
        return pack, StatefulEngine(pack, backend), digest

    @property
    def pack(self) -> RulePack:
        """The version currently served."""
        return self._state[0]

    def reload(self, new: RulePack | str | Path | None = None) -> RulePack:
        """Load ``new`` (default: the path given at creation) and swap it in atomically.

        Raises :class:`~telcoflow.errors.RuleError` and keeps the old version when the
        new one does not load.
        """
        if new is None:
            if self._source is None:
                raise ArgumentError("reload() needs a pack or path: this host was given a pack")
            new = self._source
        pack = new if isinstance(new, RulePack) else load_pack(new, registry=self._registry)
        with self._lock:
            old = self._state
            self._state = self._prepare(pack, old)
            self.history.append((pack.version, pack.digest))
            if old[1] is not None and self._state[1] is not None \
                    and old[1].backend is not self._state[1].backend:
                old[1].close()
        return pack

    def evaluate(self, context: Mapping[str, Any]) -> Decided:
        """Evaluate on the current version (read once); stateful rules see the event too."""
        pack, engine, _ = self._state  # one atomic read: this evaluation's version
        values = pack.evaluate(context)
        fired = tuple(engine.process(context)) if engine is not None else ()
        return Decided(values, pack.name, pack.version, pack.digest, fired)

    def explain(self, context: Mapping[str, Any]) -> Trace:
        """Evaluate with a trace (stateful rules are not fed: explain has no side effects)."""
        pack = self._state[0]
        return pack.explain(context)
