"""Optional dependencies: which ``telcoflow[extra]`` brings which package, and one helper that
turns a missing one into a :class:`~telcoflow.errors.MissingDependencyError` naming the
extra to install.

The core install (``pip install telcoflow``) brings only pydantic and PyYAML: money, the
catalog, loading, rules and rating run on them. Everything else is imported through
:func:`requires`, at the import line that needs it::

    with requires("redis", "the Redis stream bus"):
        import redis

so that ``--bus-url redis://`` without redis says ``install telcoflow[redis]`` instead of
ending in a raw ``ModuleNotFoundError``. A type checker still sees the plain import.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from telcoflow.errors import MissingDependencyError

__all__ = ["DISTRIBUTIONS", "EXTRAS", "missing", "require", "requires"]

#: extra -> the top-level modules it makes importable (keep in step with pyproject.toml's
#: ``[project.optional-dependencies]``; tests/packaging checks both agree)
EXTRAS: dict[str, frozenset[str]] = {
    "cli": frozenset({"click", "rich"}),
    "documents": frozenset({"jinja2", "markupsafe", "lxml", "simplejson"}),
    "journeys": frozenset({"transitions", "networkx", "grandalf", "jinja2", "markupsafe",
                           "lxml"}),
    "billing": frozenset({"networkx", "prometheus_client", "rich"}),
    "postgres": frozenset({"psycopg"}),
    "redis": frozenset({"redis"}),
    "durable": frozenset({"durable"}),
    "analytics": frozenset({"pandas", "pyarrow"}),
    "studio": frozenset({"click", "rich", "transitions", "networkx", "grandalf", "jinja2",
                         "markupsafe", "lxml", "starlette", "uvicorn", "ruamel"}),
    "otel": frozenset({"opentelemetry"}),
}

#: top-level module -> the distribution pip installs it from, where the names differ
DISTRIBUTIONS: dict[str, str] = {
    "prometheus_client": "prometheus-client",
    "durable": "durable-rules",
    "markupsafe": "MarkupSafe",
    "ruamel": "ruamel.yaml",
    "opentelemetry": "opentelemetry-api",
}


def missing(module: str, extra: str, feature: str | None = None) -> MissingDependencyError:
    """The error for ``module`` (a top-level module name) not being installed."""
    top = module.partition(".")[0]
    package = DISTRIBUTIONS.get(top, top)
    needs = f"{feature} needs" if feature else "this feature needs"
    return MissingDependencyError(
        f"{needs} the optional package {package}, which is not installed: "
        f"install telcoflow[{extra}] (pip install 'telcoflow[{extra}]')",
        extra=extra, module=top)


@contextmanager
def requires(extra: str, feature: str | None = None) -> Iterator[None]:
    """Run the imports of the ``with`` block; a package of ``extra`` that is missing raises
    :class:`~telcoflow.errors.MissingDependencyError` saying ``install telcoflow[extra]``.

    Any other import error (a module of telcoflow, a package of another extra) goes
    through unchanged: it is a bug or another extra's message, not this one's.
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r} (known: {', '.join(sorted(EXTRAS))})")
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in EXTRAS[extra]:
            raise
        raise missing(top, extra, feature) from exc


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"pandas"``) or raise the error naming ``extra``."""
    with requires(extra, feature):
        return importlib.import_module(module)
