"""Loading journeys: YAML -> validated model -> state tree -> compiled :class:`Journey`.

Each step lives in its own module: :mod:`.models` (the file's shape), :mod:`.builder` (the
tree and the structural rules), :mod:`.compiler` (the SCXML algorithm of :mod:`.semantics`
over every reachable configuration), :mod:`.lint` (business checks with levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from telcoflow.errors import DefinitionError, JourneyError
from telcoflow.journeys.builder import Builder
from telcoflow.journeys.compiled import Journey
from telcoflow.journeys.compiler import compile_chart
from telcoflow.journeys.lint import run_checks
from telcoflow.journeys.models import JourneyFile
from telcoflow.journeys.nodes import FlatTransition
from telcoflow.loading.source import Document, iter_yaml_files, load_document, parse_yaml
from telcoflow.loading.validate import load_each, validate_document

__all__ = ["load_journey", "load_journeys", "parse_journey", "validate_journey_files"]


def _build(spec: JourneyFile, doc: Document) -> Journey:
    b = Builder(spec, doc)
    b.add_states(spec.states, None, ())
    b.check_tree()
    b.compile_guards()
    declared = b.check_references()
    if any(p.code in ("E-journey-initial", "E-journey-parallel") for p in b.problems):
        # no single start, or a parallel state without regions: nothing to compile, so the
        # graph checks cannot run
        raise JourneyError(b.problems)
    compiled = compile_chart(b)
    initial, flat, configs = compiled.initial, compiled.flat, compiled.configs
    outcomes, warnings = run_checks(b, initial, flat, configs, compiled.entered)
    migrations: dict[int, dict[str, str]] = {}
    for i, m in enumerate(spec.migrations):
        for old, new in m.states.items():
            if new not in b.states or b.states[new].kind != "leaf":
                b.problem(("migrations", i, "states", old), f"migration target `{new}` is not "
                          f"a leaf state of version {spec.version}", "E-journey-migration")
        migrations[m.from_version] = dict(m.states)
    if b.problems:
        raise JourneyError(b.problems)
    table: dict[str, dict[str, list[FlatTransition]]] = {c: {} for c in configs}
    for t in flat:
        table[t.source].setdefault(t.trigger, []).append(t)
    ordered = tuple(sorted(configs, key=lambda c: [b.states[s].order for s in c.split("+")]))
    init_active: set[str] = set()
    for leaf in initial.split("+"):
        node: str | None = leaf
        while node is not None:
            init_active.add(node)
            node = b.states[node].parent
    return Journey(
        id=spec.id, version=spec.version, title=spec.title, file=doc.file,
        channels=frozenset(spec.channels), context=dict(spec.context),
        triggers={k: v.payload for k, v in spec.triggers.items()},
        guards=b.guards, guard_sources=dict(spec.guards), actions=spec.actions,
        states=b.states, initial=initial, configurations=ordered, outcomes=outcomes,
        transitions=tuple(flat),
        initial_deadlines=tuple((s, b.states[s].timeout or 0.0) for s in b.states
                                if s in init_active and b.states[s].timeout is not None),
        migrations=migrations, spec=spec, document=doc,
        declared=tuple((src, trig, sp, tgt) for src, rows in declared.items()
                       for trig, sp, tgts in rows if tgts is not None
                       for tgt in (tgts or (src,))),
        table={c: {k: tuple(v) for k, v in row.items()} for c, row in table.items()},
        warnings=tuple(warnings), initial_raises=compiled.initial_raises,
        initial_memory=compiled.initial_memory,
    )


# --------------------------------------------------------------------------- entry points


def parse_journey(text: str, file: str = "<string>") -> Journey:
    """Parse, validate, check and compile a journey from YAML text.

    Raises :class:`~telcoflow.errors.JourneyError` listing every problem with file and line.
    """
    return _from_document(parse_yaml(text, file))


def load_journey(path: str | Path) -> Journey:
    """Load, check and compile one journey file (see :func:`parse_journey`)."""
    return _from_document(load_document(path))


def _from_document(doc: Document) -> Journey:
    try:
        spec = validate_document(doc, JourneyFile)
    except JourneyError:
        raise
    except DefinitionError as exc:
        raise JourneyError(exc.problems) from None
    return _build(spec, doc)


def load_journeys(paths: Sequence[str | Path]) -> list[Journey]:
    """Load every journey file under ``paths``; all problems of all files raised together."""
    return load_each(iter_yaml_files(list(paths)), load_journey, error=JourneyError)


def validate_journey_files(files: Sequence[Path]) -> list[Journey]:
    """Validator for ``telcoflow validate`` (``kind: journey``); see :func:`load_journeys`."""
    return load_journeys(list(files))
