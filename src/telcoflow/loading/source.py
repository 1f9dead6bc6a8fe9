"""YAML -> plain Python data, remembering where every value came from.

* YAML 1.2 booleans only: ``true``/``false``; ``on``/``off``/``yes``/``no`` stay strings.
* Non-integer numbers become :class:`~decimal.Decimal` (never float), so ``0.05`` is exact.
* Duplicate keys are problems, collected with every other problem (not first-only).
* Every mapping entry and sequence item records its line and column, keyed by its
  path, so that a later validation error can be pointed at ``file:line:col``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from telcoflow.errors import DefinitionError, Problem

__all__ = [
    "SKIPPED_DIRS",
    "Document",
    "PathKey",
    "format_path",
    "iter_yaml_files",
    "load_document",
    "parse_yaml",
]

PathKey = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader with YAML 1.2 booleans (``on``/``off``/``yes``/``no`` stay strings)."""


# Copy the implicit resolvers, then drop YAML 1.1's wide boolean regex.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


def format_path(path: Sequence[str | int]) -> str:
    """Format a path as a JSON path: ``$.offerings[2].prices[0]``."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            out.append(f".{part}")
        else:
            out.append(f"[{part!r}]")
    return "".join(out)


@dataclass
class Document:
    """One parsed YAML file: its data and the position of every value."""

    data: Any
    file: str
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def locate(self, path: Sequence[str | int]) -> tuple[int | None, int | None]:
        """Line and column (1-based) of ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while True:
            pos = self.positions.get(p)
            if pos is not None:
                return pos
            if not p:
                return None, None
            p = p[:-1]

    def problem(self, path: Sequence[str | int], message: str, code: str = "E-invalid") -> Problem:
        """Build a :class:`Problem` located at ``path`` in this document."""
        line, col = self.locate(path)
        return Problem(message, code, self.file, line, col, format_path(path))

    def raise_if_problems(self) -> None:
        """Raise :class:`DefinitionError` with every collected problem, if any."""
        if self.problems:
            raise DefinitionError(self.problems)


class _Builder:
    __slots__ = ("constructor", "doc")

    def __init__(self, constructor: _Loader, doc: Document) -> None:
        self.constructor = constructor
        self.doc = doc

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            out: list[Any] = []
            for i, item in enumerate(node.value):
                p = (*path, i)
                self.doc.positions[p] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out.append(self.build(item, p))
            return out
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any]:
        explicit = sum(1 for k, _ in node.value if k.tag != _MERGE)
        self.constructor.flatten_mapping(node)  # YAML merge keys (<<) go first
        merged = len(node.value) - explicit
        out: dict[Any, Any] = {}
        from_merge: set[Any] = set()  # keys a merge brought in: a later entry may override
        for index, (key_node, value_node) in enumerate(node.value):
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key is None or isinstance(key, (list, dict)):
                self.doc.problems.append(
                    Problem(
                        "mapping keys must be scalars",
                        "E-yaml-key",
                        self.doc.file,
                        line,
                        col,
                        format_path(path),
                    )
                )
                continue
            if not isinstance(key, (str, int)):
                key = str(key)
            p = (*path, key)
            if key in out and key not in from_merge:
                first = self.doc.positions.get(p, (None, None))[0]
                self.doc.problems.append(
                    Problem(
                        f"duplicate key {key!r} (first defined on line {first})",
                        "E-yaml-duplicate-key",
                        self.doc.file,
                        line,
                        col,
                        format_path(p),
                    )
                )
                continue
            if index < merged:
                from_merge.add(key)
            else:
                from_merge.discard(key)
            self.doc.positions[p] = (line, col)
            out[key] = self.build(value_node, p)
        return out

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        tag = node.tag
        value = node.value
        if tag == _STR:
            return value
        if tag == _INT:
            return self.constructor.construct_yaml_int(node)
        if tag == _FLOAT:
            try:
                return Decimal(value.replace("_", ""))
            except InvalidOperation:
                # .inf / .nan: never valid for money; keep the text for a clear error later
                return value
        if tag == _BOOL:
            return value.lower() == "true"
        if tag == _NULL:
            return None
        return self.constructor.construct_object(node, deep=True)


def parse_yaml(text: str, file: str = "<string>") -> Document:
    """Parse YAML ``text``; syntax errors and duplicate keys are collected in ``problems``."""
    doc = Document(None, file)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            col = mark.column + 1 if mark else None
            doc.problems.append(
                Problem(
                    f"YAML syntax error: {exc.problem or exc}", "E-yaml-syntax", file, line, col
                )
            )
            return doc
        except yaml.YAMLError as exc:
            doc.problems.append(Problem(f"YAML error: {exc}", "E-yaml-syntax", file))
            return doc
        if node is None:
            doc.data = None
            return doc
        doc.positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        try:
            doc.data = _Builder(loader, doc).build(node, ())
        except yaml.YAMLError as exc:
            doc.problems.append(Problem(f"YAML error: {exc}", "E-yaml-value", file))
    finally:
        loader.dispose()
    return doc


def load_document(path: str | Path) -> Document:
    """Read and parse one YAML file (see :func:`parse_yaml`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(
            [Problem(f"cannot read file: {exc.strerror}", "E-io", str(p))]
        ) from exc
    return parse_yaml(text, str(p))


#: Folders a walk never enters: tool and build output, not definitions. Hidden folders
#: (``.git``, ``.venv``, ``.tox``, ...) and virtual environments (a ``pyvenv.cfg`` inside) are
#: left out too. A file or folder named explicitly is always read.
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist", "htmlcov"})


def _walked(name: str, folder: str) -> bool:
    if name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info"):
        return False
    return not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))


def iter_yaml_files(paths: Sequence[str | Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, ``*.yaml``/``*.yml``) in a stable order.

    A folder's walk skips hidden folders, virtual environments and the tool and build
    folders of :data:`SKIPPED_DIRS` (it never descends into them); symbolic links to folders
    are not followed.
    """
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            yield p
            continue
        found: list[Path] = []
        for folder, dirs, files in os.walk(p):
            dirs[:] = [d for d in dirs if _walked(d, folder)]
            found.extend(Path(folder, f) for f in files if f.endswith((".yaml", ".yml")))
        yield from sorted(found)
