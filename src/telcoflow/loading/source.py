"""YAML -> plain Python data, remembering where every value came from.

* YAML 1.2 booleans only: ``true``/``false``; ``on``/``off``/``yes``/``no`` stay strings.
* Non-integer numbers become :class:`~decimal.Decimal` (never float), so ``0.05`` is exact.
* Duplicate keys are problems, collected with every other problem (not first-only).
* Every mapping entry and sequence item records its line and column, keyed by its
  path, so that a later validation error can be pointed at ``file:line:col``.
* Hostile input is refused with a located problem, never a traceback: files over
  :data:`~telcoflow.loading.compose.MAX_BYTES`, text that is not UTF-8, aliases that expand
  past :data:`~telcoflow.loading.compose.MAX_ALIAS_NODES` nodes, recursive aliases, nesting
  deeper than :data:`~telcoflow.loading.compose.MAX_DEPTH`, unknown tags, impossible dates.

Every YAML file telcoflow reads goes through :func:`load_document` / :func:`parse_yaml`
(or :func:`read_yaml_text` for callers that keep the text).
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

from telcoflow.errors import DefinitionError, PathKey, Problem
from telcoflow.loading.compose import MAX_BYTES, LimitError, compose_single
from telcoflow.money import NonDecimalInt

__all__ = [
    "SKIPPED_DIRS",
    "Document",
    "PathKey",
    "format_path",
    "iter_yaml_files",
    "load_document",
    "parse_yaml",
    "read_yaml_text",
]


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader with the YAML 1.2 core schema's implicit types (plus dates and ``<<``)."""


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1023-core-schema) instead of PyYAML's
# YAML 1.1 resolvers: no sexagesimal numbers (``18:00`` stays text), no ``0``-prefixed octal
# (``010`` is 10; octal is ``0o10``), no ``_`` in numbers, only ``true``/``false`` booleans
# (``on``/``off``/``yes``/``no`` stay text), no ``=`` value key. Kept beyond the core schema:
# ISO dates (``2026-01-31``) and merge keys (``<<``), which catalogs use.
_CORE_RESOLVERS: tuple[tuple[str, str, str], ...] = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
)
_KEPT_11 = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge")
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag in _KEPT_11]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _regex, _first in _CORE_RESOLVERS:
    _Loader.add_implicit_resolver(_tag, re.compile(_regex), list(_first))
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])
_CORE_INT = re.compile(r"[-+]?[0-9]+")

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_BINARY = "tag:yaml.org,2002:binary"
#: Errors a PyYAML constructor may raise on a bad scalar (``!!int x``, ``2026-13-45``).
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, TypeError, OverflowError, IndexError,
                     AttributeError)  # ``!!int`` of "" (IndexError), ``!!timestamp`` of ""
_OTHER_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


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
    #: paths whose value could not be read (their problem is in ``problems``): a later
    #: check must not report a second, follow-on problem there (see :meth:`covers`)
    bad_paths: set[PathKey] = field(default_factory=set)

    def covers(self, path: Sequence[str | int]) -> bool:
        """Whether a parse problem already stands for ``path`` (at it or an ancestor)."""
        if not self.bad_paths:
            return False
        p = tuple(path)
        return any(p[:n] in self.bad_paths for n in range(len(p) + 1))

    def bad(self, path: PathKey, message: str, code: str, mark: Any = None) -> None:
        """Record that the value at ``path`` could not be read (at ``mark``, if given)."""
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else self.locate(path)
        where = format_path(path) if path else None
        self.problems.append(Problem(message, code, self.file, line, col, where))
        self.bad_paths.add(path)

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
            if node.tag != _MAP:
                return self._odd_tag(node, path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                return self._odd_tag(node, path)
            out: list[Any] = []
            for i, item in enumerate(node.value):
                p = (*path, i)
                self.doc.positions[p] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out.append(self.build(item, p))
            return out
        return self._scalar(node, path)

    def _odd_tag(self, node: yaml.Node, path: PathKey, *, key: bool = False) -> None:
        self._bad(path, f"YAML tag {_short_tag(node.tag)} is not supported (plain mappings, "
                  "sequences, text, numbers, booleans, null and dates only)", "E-yaml-tag",
                  node, key=key)

    def _bad(self, path: PathKey, message: str, code: str, node: yaml.Node, *,
             key: bool) -> None:
        if not key:
            self.doc.bad(path, message, code, node.start_mark)
            return
        # a bad key: the entry is skipped; the rest of the mapping is still checked
        mark = node.start_mark
        if code != "E-yaml-key":
            message = f"mapping key: {message}"
        self.doc.problems.append(Problem(message, code, self.doc.file,
                                         mark.line + 1, mark.column + 1, format_path(path)))

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any] | None:
        explicit = sum(1 for k, _ in node.value if k.tag != _MERGE)
        try:
            self.constructor.flatten_mapping(node)  # YAML merge keys (<<) go first
        except yaml.MarkedYAMLError as exc:
            self.doc.bad(path, f"YAML merge key: {exc.problem}", "E-yaml-merge",
                         exc.problem_mark or node.start_mark)
            return None
        merged = len(node.value) - explicit
        out: dict[Any, Any] = {}
        from_merge: set[Any] = set()  # keys a merge brought in: a later entry may override
        for index, (key_node, value_node) in enumerate(node.value):
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self._bad(path, "mapping keys must be scalars", "E-yaml-key", key_node,
                          key=True)
                continue
            problems = len(self.doc.problems)
            key = self._scalar(key_node, path, key=True)
            if key is None:
                if len(self.doc.problems) == problems:  # a null key, not a bad one
                    self._bad(path, "mapping keys must be scalars (found null)", "E-yaml-key",
                              key_node, key=True)
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

    def _scalar(self, node: yaml.Node, path: PathKey, *, key: bool = False) -> Any:
        tag = node.tag
        value = node.value
        if tag == _STR:
            return value
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
        if tag == _INT:
            if _CORE_INT.fullmatch(value):
                return int(value)  # "010" is 10 (YAML 1.2), not 8
            if value[:2] in ("0o", "0x") and len(value) > 2:
                try:
                    return NonDecimalInt(int(value[2:], 8 if value[1] == "o" else 16), value)
                except ValueError:
                    pass  # an explicit !!int of something else: PyYAML's message below
        if tag not in (_INT, _TIMESTAMP, _BINARY):
            return self._odd_tag(node, path, key=key)
        try:
            return self.constructor.construct_object(node, deep=True)
        except _CONSTRUCT_ERRORS as exc:
            what = {_INT: "integer", _TIMESTAMP: "date"}.get(tag, "binary value")
            reason: object = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else exc
            if isinstance(exc, (IndexError, AttributeError)):  # PyYAML on an empty scalar
                reason = "not a value of this type"
            self._bad(path, f"invalid {what} {value!r}: {reason}", "E-yaml-value", node,
                      key=key)
            return None


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_yaml(text: str, file: str = "<string>") -> Document:
    """Parse YAML ``text``; every problem (syntax, duplicate keys, limits) is collected in
    ``problems``, located; on a syntax or limit problem ``data`` is ``None``."""
    doc = Document(None, file)
    size = len(text) if len(text) * 4 <= MAX_BYTES else len(
        text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        doc.problems.append(Problem(f"the document is {size:,} bytes long (at most "
                                    f"{MAX_BYTES:,})", "E-yaml-size", file, 1, 1))
        doc.bad_paths.add(())
        return doc
    bad_char = _SURROGATE.search(text)
    if bad_char is not None:
        line, col = _line_col(text, bad_char.start())
        doc.problems.append(Problem(
            f"character U+{ord(bad_char.group()):04X} is not allowed (a lone surrogate: "
            "the text was not decoded properly)", "E-yaml-encoding", file, line, col))
        doc.bad_paths.add(())
        return doc
    loader = _Loader(text)
    try:
        try:
            node = compose_single(loader)
        except LimitError as exc:
            doc.bad((), exc.message, exc.code, exc.mark)
            return doc
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            doc.problems.append(
                Problem(
                    f"YAML syntax error: {exc.problem or exc}", "E-yaml-syntax", file,
                    mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                )
            )
            doc.bad_paths.add(())
            return doc
        except yaml.reader.ReaderError as exc:
            line, col = _reader_position(text, exc, loader)
            char = exc.character if isinstance(exc.character, int) else ord(exc.character)
            doc.problems.append(Problem(
                f"character U+{char:04X} is not allowed in YAML ({exc.reason})",
                "E-yaml-encoding", file, line, col))
            doc.bad_paths.add(())
            return doc
        except yaml.YAMLError as exc:
            doc.problems.append(Problem(f"YAML error: {exc}", "E-yaml-syntax", file, 1, 1))
            doc.bad_paths.add(())
            return doc
        if node is None:
            doc.data = None
            return doc
        doc.positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        doc.data = _Builder(loader, doc).build(node, ())
    finally:
        loader.dispose()
    return doc


_SURROGATE = re.compile("[\ud800-\udfff]")


def _reader_position(text: str, exc: yaml.reader.ReaderError, loader: Any) -> tuple[int, int]:
    """Line and column of a reader error: libyaml counts bytes, PyYAML characters."""
    index = exc.position
    if not isinstance(loader, yaml.reader.Reader):  # libyaml: a byte offset into UTF-8
        index = len(text.encode("utf-8")[:index].decode("utf-8", errors="ignore"))
    return _line_col(text, index)


def _read(path: Path) -> tuple[str | None, list[Problem]]:
    """The UTF-8 text of ``path``, or the located problems that stop it being read."""
    file = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return None, [Problem(f"cannot read file: {exc.strerror}", "E-io", file)]
    if len(raw) > MAX_BYTES:
        return None, [Problem(f"the file is larger than {MAX_BYTES:,} bytes (8 MiB), the "
                              "largest YAML document telcoflow reads", "E-yaml-size", file, 1, 1)]
    for bom, name in _OTHER_BOMS:
        if raw.startswith(bom):
            return None, [Problem(f"the file is {name} encoded (byte-order mark at byte 0); "
                                  "YAML files must be UTF-8", "E-yaml-encoding", file, 1, 1)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        return None, [Problem(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
            "(save the file as UTF-8)", "E-yaml-encoding", file, line, col)]
    return text.removeprefix("\ufeff"), []


def read_yaml_text(path: str | Path) -> str:
    """The text of a YAML file: UTF-8 (a UTF-8 byte-order mark is dropped), at most
    :data:`~telcoflow.loading.compose.MAX_BYTES` bytes; raises :class:`DefinitionError`
    with the located problem otherwise."""
    text, problems = _read(Path(path))
    if text is None:
        raise DefinitionError(problems)
    return text


def load_document(path: str | Path) -> Document:
    """Read and parse one YAML file (see :func:`parse_yaml` and :func:`read_yaml_text`).

    A file that cannot be opened raises :class:`DefinitionError`; one that is too large or
    not UTF-8 gives a :class:`Document` without data whose ``problems`` say why.
    """
    p = Path(path)
    text, problems = _read(p)
    if text is None:
        if any(q.code == "E-io" for q in problems):
            raise DefinitionError(problems)
        return Document(None, str(p), problems=problems, bad_paths={()})
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
