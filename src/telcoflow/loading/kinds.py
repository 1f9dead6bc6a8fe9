"""Which loader validates which YAML file: dispatch on the file's top-level ``kind``.

Validators are registered by dotted name so that this low-level module imports nothing from
the higher layers (catalog, rules, journeys) until a file of that kind is validated.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from telcoflow.errors import DefinitionError, Problem
from telcoflow.loading.source import iter_yaml_files, load_document

__all__ = ["KINDS", "Validator", "lint_warnings", "validate_paths"]

#: A validator takes every file of its kind (validated together: a catalog may span files)
#: and raises :class:`DefinitionError` listing every problem.
Validator = Callable[[Sequence[Path]], object]

#: ``kind`` value -> "module:function" of its validator.
KINDS: dict[str, str] = {
    "catalog": "telcoflow.loading.catalog:load_catalog_files",
    "rule-pack": "telcoflow.rules.packs:validate_pack_files",
    "rule-pack-part": "telcoflow.rules.packs:validate_pack_files",
    "offer-recommendation": "telcoflow.offers.config:validate_recommendation_files",
    "journey": "telcoflow.journeys.definition:validate_journey_files",
    "close-policy": "telcoflow.billing.cycle.policy:validate_policy_files",
}


def _resolve(ref: str) -> Validator:
    module, _, attr = ref.partition(":")
    fn: Validator = getattr(importlib.import_module(module), attr)
    return fn


def lint_warnings(loaded: object) -> list[Problem]:
    """The lint warnings of what a validator loaded: every ``warnings`` tuple of the loaded
    objects (a journey's business checks set to ``warning``)."""
    items = loaded if isinstance(loaded, (list, tuple)) else [loaded]
    return [w for item in items for w in getattr(item, "warnings", ())
            if isinstance(w, Problem)]


def validate_paths(paths: Sequence[str | Path], *,
                   warnings: list[Problem] | None = None) -> tuple[list[Problem], int]:
    """Validate files and folders; return every problem found and the number of files checked.

    Pass a list as ``warnings`` to receive the lint warnings of the files that loaded.
    """
    problems: list[Problem] = []
    by_kind: dict[str, list[Path]] = defaultdict(list)
    checked = 0
    for path in iter_yaml_files(list(paths)):
        checked += 1
        try:
            doc = load_document(path)
        except DefinitionError as exc:  # cannot be opened: report it with the others
            problems.extend(exc.problems)
            continue
        kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
        if kind not in KINDS:
            problems.extend(doc.problems)
            if doc.data is None and not doc.problems:
                problems.append(Problem("the file is empty (expected a mapping with a `kind`)",
                                        "E-empty", str(path), 1, 1))
            elif not doc.covers(("kind",)):  # not after a syntax error: one error per problem
                problems.append(
                    doc.problem(
                        ("kind",),
                        f"`kind` must be one of {sorted(KINDS)} (found {kind!r})",
                        "E-kind",
                    )
                )
            continue
        # the kind's validator re-reads the file and reports its parse problems with the rest
        by_kind[kind].append(path)
    for kind, files in by_kind.items():
        try:
            loaded = _resolve(KINDS[kind])(files)
        except DefinitionError as exc:
            problems.extend(exc.problems)
        else:
            if warnings is not None:
                warnings.extend(lint_warnings(loaded))
    unique = list(dict.fromkeys(problems))  # a problem seen by two passes is listed once
    return unique, checked
