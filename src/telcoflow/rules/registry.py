"""The registry of expression functions and rule kinds; plugins register through entry points.

A plugin is an entry point in the group ``telcoflow.rules`` whose object is a callable
``register(registry, **future_kwargs)``; it calls :meth:`Registry.add_function` and
:meth:`Registry.add_rule_kind`, which validate what is registered at once. The built-in
functions and rule kinds go through the very same calls (:func:`register_builtins`).

There is no global mutable configuration: :func:`default_registry` builds a registry from the
built-ins and the installed entry points once and then *freezes* it; build your own
:class:`Registry` (and pass it to :func:`~telcoflow.rules.pack.load_pack`) to add functions
for one pack only.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from telcoflow.errors import Problem, RuleError
from telcoflow.rules.functions import BUILTIN_FUNCTIONS

__all__ = [
    "ENTRY_POINT_GROUP",
    "Registry",
    "RuleKind",
    "default_registry",
    "register_builtins",
]

ENTRY_POINT_GROUP = "telcoflow.rules"
_RESERVED = frozenset({"has", "get", "true", "false", "null", "ctx"})
_HITS = ("unique", "first", "priority", "any", "collect", "rule-order")


@dataclass(frozen=True)
class RuleKind:
    """A kind of rule (rating, discount, ...): which outputs its rules must give.

    ``required`` outputs must appear in every rule's ``then``; ``allowed`` (when not
    empty) limits the outputs; ``default_hit`` is the hit policy used when a decision
    does not name one; ``check`` may add problems for one rule's outputs (a list of
    messages, empty when fine).
    """

    name: str
    required: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    default_hit: str = "first"
    description: str = ""
    check: Callable[[Mapping[str, Any]], list[str]] | None = field(default=None, compare=False)


class Registry:
    """Functions callable from expressions and rule kinds usable in packs."""

    def __init__(self) -> None:
        self._functions: dict[str, Callable[..., Any]] = {}
        self._kinds: dict[str, RuleKind] = {}
        self._frozen = False
        self.functions: Mapping[str, Callable[..., Any]] = MappingProxyType(self._functions)
        """Read-only view of the functions by name."""
        self.kinds: Mapping[str, RuleKind] = MappingProxyType(self._kinds)
        """Read-only view of the rule kinds by name."""

    def _check_open(self, what: str) -> None:
        if self._frozen:
            raise RuleError([Problem(
                f"cannot add {what}: this registry is frozen (use registry.copy())",
                "E-registry-frozen")])

    def add_function(self, name: str, fn: Callable[..., Any], *, replace: bool = False) -> None:
        """Register ``fn`` as expression function ``name``; validated now.

        The name must be a lower-case identifier, not a keyword, not reserved (``has``,
        ``get``, ``true``...), not starting with ``_``, and not taken (unless ``replace``).
        """
        self._check_open(f"function {name!r}")
        problems = []
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) \
                or name.startswith("_") or name != name.lower():
            problems.append(f"function name must be a lower-case identifier (got {name!r})")
        elif name in _RESERVED:
            problems.append(f"function name {name!r} is reserved")
        elif name in self._functions and not replace:
            problems.append(f"function {name!r} is already registered "
                            f"({_qualname(self._functions[name])})")
        if not callable(fn):
            problems.append(f"function {name!r} must be callable (got {fn!r})")
        if problems:
            raise RuleError([Problem(p, "E-registry-function") for p in problems])
        self._functions[name] = fn

    def add_rule_kind(self, kind: RuleKind, *, replace: bool = False) -> None:
        """Register a rule kind; validated now (name, hit policy, outputs)."""
        self._check_open(f"rule kind {getattr(kind, 'name', kind)!r}")
        problems = []
        if not isinstance(kind, RuleKind):
            raise RuleError([Problem(f"expected a RuleKind, got {kind!r}", "E-registry-kind")])
        if not kind.name or not all(part.isidentifier() for part in kind.name.split("-")):
            problems.append(f"rule kind name must be words joined by '-' (got {kind.name!r})")
        if kind.name in self._kinds and not replace:
            problems.append(f"rule kind {kind.name!r} is already registered")
        if kind.default_hit not in _HITS:
            problems.append(f"rule kind {kind.name!r}: default_hit must be one of {_HITS} "
                            f"(got {kind.default_hit!r})")
        if kind.allowed and not set(kind.required) <= set(kind.allowed):
            problems.append(f"rule kind {kind.name!r}: required outputs "
                            f"{sorted(set(kind.required) - set(kind.allowed))} are not allowed")
        if problems:
            raise RuleError([Problem(p, "E-registry-kind") for p in problems])
        self._kinds[kind.name] = kind

    def load_plugin(self, register: Callable[..., Any], *, origin: str = "") -> None:
        """Run one plugin's ``register(registry)`` hook; errors name the plugin."""
        if not callable(register):
            raise RuleError([Problem(
                f"plugin {origin or register!r} must be a callable register(registry)",
                "E-registry-plugin")])
        try:
            register(self)
        except RuleError:
            raise
        except Exception as exc:
            raise RuleError([Problem(
                f"plugin {origin or _qualname(register)} failed while registering: "
                f"{type(exc).__name__}: {exc}", "E-registry-plugin")]) from exc

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Load every installed plugin of ``group``; return their names."""
        loaded = []
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            if ep.value == f"{__name__}:register_builtins":
                continue  # the built-ins are always registered first
            try:
                hook = ep.load()
            except Exception as exc:
                raise RuleError([Problem(
                    f"plugin {ep.name} ({ep.value}) cannot be imported: "
                    f"{type(exc).__name__}: {exc}", "E-registry-plugin")]) from exc
            self.load_plugin(hook, origin=f"{ep.name} ({ep.value})")
            loaded.append(ep.name)
        return loaded

    def freeze(self) -> Registry:
        """Refuse further registrations; returns ``self``."""
        self._frozen = True
        return self

    def copy(self) -> Registry:
        """An unfrozen copy (to add pack-local functions)."""
        other = Registry()
        other._functions.update(self._functions)
        other._kinds.update(self._kinds)
        return other


def _qualname(obj: Any) -> str:
    mod = getattr(obj, "__module__", "?")
    return f"{mod}.{getattr(obj, '__qualname__', repr(obj))}"


def _check_rating(outputs: Mapping[str, Any]) -> list[str]:
    if "tariff" not in outputs and "price" not in outputs:
        return ["a rating rule must give `tariff` or `price`"]
    return []


def _check_discount(outputs: Mapping[str, Any]) -> list[str]:
    if ("percent" in outputs) == ("amount" in outputs):
        return ["a discount rule must give exactly one of `percent` or `amount`"]
    return []


BUILTIN_KINDS = (
    RuleKind("rating", description="choose the tariff / price model for an event",
             check=_check_rating),
    RuleKind("discount", default_hit="collect",
             description="percentage or fixed discounts, optionally capped",
             check=_check_discount),
    RuleKind("tax", required=("category", "rate"), description="tax category and rate"),
    RuleKind("eligibility", required=("eligible",), description="may this customer have it?"),
    RuleKind("recommendation", required=("offer",), default_hit="collect",
             description="offers to recommend, with a score"),
    RuleKind("credit-control", required=("action",), default_hit="collect",
             description="thresholds: notify, bill shock, block"),
    RuleKind("audit", required=("finding",), default_hit="collect",
             description="findings raised when a check fails"),
    RuleKind("generic", description="any outputs"),
)


def register_builtins(registry: Registry, **future_kwargs: Any) -> None:
    """Register the built-in functions and rule kinds (the same path plugins take)."""
    for name, fn in BUILTIN_FUNCTIONS.items():
        registry.add_function(name, fn)
    for kind in BUILTIN_KINDS:
        registry.add_rule_kind(kind)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Built-ins plus every installed ``telcoflow.rules`` plugin, frozen (built once)."""
    reg = Registry()
    reg.load_plugin(register_builtins, origin="telcoflow built-ins")
    reg.load_entry_points()
    return reg.freeze()
