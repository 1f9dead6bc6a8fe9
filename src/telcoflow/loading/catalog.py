"""Load a catalog from YAML files: parse, validate, merge, check references.

* :func:`load_catalog` reads files and folders (``*.yaml`` / ``*.yml``, recursively).
* :func:`parse_catalog` reads one YAML text (tests, docs, editors).
* :func:`catalog_from_documents` merges already parsed documents.
* :func:`load_catalog_files` is the validator registered for ``kind: catalog`` files.

Every problem is collected and located (``file:line:col ($.json.path): message [code]``):
syntax errors, duplicate keys, validation errors of every file, conflicting top-level values,
duplicate ids across files (pointing at the first definition), unknown references. Cross-
reference checks run once every file has validated (they need the whole catalog).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telcoflow.catalog.model import (
    SECTIONS,
    Catalog,
    CatalogFile,
    CatalogIssue,
    reference_problems,
)
from telcoflow.errors import DefinitionError, Problem
from telcoflow.loading.source import Document, iter_yaml_files, load_document, parse_yaml
from telcoflow.loading.validate import validate_document

__all__ = ["catalog_from_documents", "load_catalog", "load_catalog_files", "parse_catalog"]

_SCALARS = ("currency", "id", "name", "version", "tax_defaults")


def load_catalog(*paths: str | Path) -> Catalog:
    """Load, validate and merge the catalog spread over ``paths`` (files or folders).

    Raises :class:`~telcoflow.errors.DefinitionError` listing every problem found.
    """
    if not paths:
        raise DefinitionError([Problem("no catalog path given", "E-catalog-no-files")])
    files = list(iter_yaml_files(list(paths)))
    if not files:
        shown = ", ".join(str(p) for p in paths)
        raise DefinitionError(
            [Problem(f"no *.yaml or *.yml file found in {shown}", "E-catalog-no-files")]
        )
    docs: list[Document] = []
    problems: list[Problem] = []
    for f in files:
        try:
            docs.append(load_document(f))
        except DefinitionError as exc:
            problems.extend(exc.problems)
    if problems:
        # unreadable files: report them with whatever the readable files say
        for doc in docs:
            problems.extend(_validate(doc)[1])
        raise DefinitionError(problems)
    return catalog_from_documents(docs)


def load_catalog_files(paths: Sequence[str | Path]) -> Catalog:
    """The ``kind: catalog`` validator of :mod:`telcoflow.loading.kinds`: the files of one
    catalog, validated together (same as :func:`load_catalog`)."""
    return load_catalog(*paths)


def parse_catalog(text: str, file: str = "<string>") -> Catalog:
    """Parse and validate one catalog YAML text (see :func:`load_catalog`)."""
    return catalog_from_documents([parse_yaml(text, file)])


def _validate(doc: Document) -> tuple[CatalogFile | None, list[Problem]]:
    try:
        return validate_document(doc, CatalogFile), []
    except DefinitionError as exc:
        return None, list(exc.problems)


def catalog_from_documents(docs: Sequence[Document]) -> Catalog:
    """Validate each document as a catalog file, merge them and check references."""
    problems: list[Problem] = []
    parts: list[tuple[Document, CatalogFile]] = []
    for doc in docs:
        part, found = _validate(doc)
        problems.extend(found)
        if part is not None:
            parts.append((doc, part))
    if problems:
        raise DefinitionError(problems)

    # top-level values: set once, or set alike everywhere
    scalars: dict[str, Any] = {}
    scalar_origin: dict[str, Document] = {}
    for doc, part in parts:
        for name in _SCALARS:
            value = getattr(part, name)
            if value is None or value == "":
                continue
            if name in scalars and scalars[name] != value:
                first = scalar_origin[name]
                line, col = first.locate((name,))
                problems.append(doc.problem(
                    (name,),
                    f"`{name}` is {_short(value)} here but {_short(scalars[name])} in "
                    f"{first.file}:{line}:{col} (files of one catalog must agree)",
                    "E-catalog-conflict"))
                continue
            scalars.setdefault(name, value)
            scalar_origin.setdefault(name, doc)
    if "currency" not in scalars:
        doc0 = parts[0][0] if parts else None
        problems.append(Problem(
            "no file sets the catalog `currency` (e.g. `currency: EUR`)", "E-catalog-currency",
            doc0.file if doc0 else None, 1 if doc0 else None, 1 if doc0 else None, "$"))
    if problems:
        raise DefinitionError(problems)

    merged: dict[str, Any] = {"kind": "catalog", **scalars}
    origins: dict[str, list[tuple[Document, int]]] = {}
    for section in SECTIONS:
        items: list[Any] = []
        where: list[tuple[Document, int]] = []
        for doc, part in parts:
            chunk = getattr(part, section)
            items.extend(chunk)
            where.extend((doc, i) for i in range(len(chunk)))
        merged[section] = tuple(items)
        origins[section] = where
    # Parts are validated: build without revalidating (fast for large catalogs).
    catalog = Catalog.model_construct(**merged)

    issues = reference_problems(catalog)
    if issues:
        raise DefinitionError(
            [_locate(i, origins, scalar_origin) for i in issues]
        )
    return catalog


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(
    path: tuple[str | int, ...],
    origins: dict[str, list[tuple[Document, int]]],
    scalar_origin: dict[str, Document],
) -> tuple[Document | None, tuple[str | int, ...]]:
    section = path[0]
    if isinstance(section, str) and section in origins and len(path) > 1:
        index = path[1]
        if isinstance(index, int):
            doc, original = origins[section][index]
            return doc, (section, original, *path[2:])
    if isinstance(section, str) and section in scalar_origin:
        return scalar_origin[section], path
    return None, path


def _locate(
    issue: CatalogIssue,
    origins: dict[str, list[tuple[Document, int]]],
    scalar_origin: dict[str, Document],
) -> Problem:
    doc, path = _where(issue.path, origins, scalar_origin)
    message = issue.message
    if issue.related is not None:
        other, other_path = _where(issue.related, origins, scalar_origin)
        if other is not None:
            line, col = other.locate(other_path)
            message += f" (see {other.file}:{line}:{col})"
    if doc is None:
        return Problem(message, issue.code, path=str(path))
    return doc.problem(path, message, issue.code)
