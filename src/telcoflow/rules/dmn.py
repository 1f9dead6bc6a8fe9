"""DMN 1.3 XML import and export of decision tables whose cells are in the S-FEEL subset the
cell language covers (see docs/rules.md, "DMN import and export").

:func:`import_dmn` reads DMN XML (1.1 to 1.5 namespaces) into rule-pack data (a mapping
ready for YAML; :func:`dump_pack_yaml` writes it); :func:`export_dmn` writes the decision
tables of a loaded pack as DMN 1.3 XML. Whatever cannot be carried over faithfully is listed,
each with its element and line, in a :class:`~telcoflow.errors.DmnError`; nothing is dropped
silently. Presentation-only parts (diagram, descriptions, annotations, extension elements)
are not carried over either: :attr:`DmnImport.skipped` lists them.

The XML is untrusted input: it is parsed by lxml with entity resolution, DTD loading and
network access off, and a document with a DOCTYPE is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from telcoflow._optional import requires
from telcoflow.errors import DmnError, Problem
from telcoflow.loading.source import iter_yaml_files, parse_yaml, read_yaml_text
from telcoflow.rules.cells import CMP_RE, NOT_RE, PATH_RE, RANGE_RE, is_test
from telcoflow.rules.engine import AGGREGATES, DMN_HITS, CompiledDecision
from telcoflow.rules.expressions import CompiledExpression
from telcoflow.rules.loader import load_pack
from telcoflow.rules.runtime import RulePack

with requires("documents", "DMN import and export"):
    from lxml import etree

__all__ = ["DMN13_NS", "DmnImport", "dump_pack_yaml", "export_dmn", "export_pack_file",
           "import_dmn"]

DMN13_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
"""The DMN 1.3 model namespace (what :func:`export_dmn` writes)."""
_NAMESPACES = frozenset({
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # 1.1
    "http://www.omg.org/spec/DMN/20180521/MODEL/",  # 1.2
    DMN13_NS,  # 1.3
    "https://www.omg.org/spec/DMN/20211108/MODEL/",  # 1.4
    "https://www.omg.org/spec/DMN/20230324/MODEL/",  # 1.5
})
MAX_BYTES = 5_000_000
"""Larger DMN documents are refused."""

_HIT_IN = {"UNIQUE": "U", "ANY": "A", "PRIORITY": "P", "FIRST": "F", "RULE ORDER": "R",
           "OUTPUT ORDER": "O", "COLLECT": "C"}
_AGG_IN = {"SUM": "C+", "MIN": "C<", "MAX": "C>", "COUNT": "C#"}
_HIT_OUT = {v: k for k, v in _HIT_IN.items()}
_AGG_OUT = {v: k for k, v in _AGG_IN.items()}
# presentation only: not carried over, listed in DmnImport.skipped
_SKIPPED = frozenset({"description", "annotationEntry", "annotation", "extensionElements",
                      "DMNDI", "textAnnotation", "association"})
_ID_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_TYPES = {"string": "string", "number": "number", "integer": "number", "long": "number",
          "double": "number", "boolean": "boolean"}


@dataclass
class DmnImport:
    """What :func:`import_dmn` read: the rule-pack data and the presentation-only elements
    that were not carried over (each ``element at file:line``)."""

    pack: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


# -- S-FEEL literals ------------------------------------------------------------------------------


class _UnsupportedError(Exception):
    """A cell outside the covered S-FEEL subset (the message says what)."""


def _split(text: str) -> list[str]:
    """Split on commas outside quotes, brackets and parentheses."""
    parts: list[str] = []
    depth = 0
    quote = False
    cur = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur += ch
            if ch == "\\" and i + 1 < len(text):
                cur += text[i + 1]
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
            cur += ch
        elif ch in "([":
            depth += 1
            cur += ch
        elif ch in ")]" and depth > 0:
            depth -= 1
            cur += ch
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    if quote:
        raise _UnsupportedError(f"unterminated string in {text!r}")
    parts.append(cur.strip())
    return parts


def _feel_literal(text: str) -> Any:
    """An S-FEEL literal: a string, a number, true, false or null."""
    t = text.strip()
    if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
        body = t[1:-1]
        out = ""
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
                out += body[i + 1]
                i += 2
                continue
            if ch == '"':
                raise _UnsupportedError(f"unescaped quote in {t!r}")
            out += ch
            i += 1
        return out
    if _NUMBER_RE.match(t):
        return int(t) if "." not in t else Decimal(t)
    if t in ("true", "false"):
        return t == "true"
    if t == "null":
        return None
    raise _UnsupportedError(f"{t!r} is not a literal (text in double quotes, a number, true, "
                       "false or null)")


def _feel_endpoint(text: str) -> str:
    """A comparison or range endpoint as an expression of ours: a literal or a dotted name."""
    t = text.strip()
    if PATH_RE.match(t) and t not in ("true", "false", "null"):
        return t
    return _expr_literal(_feel_literal(t))


def _expr_literal(value: Any) -> str:
    """``value`` as a literal of the expression language."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cell_from_feel(text: str) -> Any:
    """An S-FEEL input entry (unary tests) as a cell of ours."""
    t = text.strip()
    if t in ("", "-"):
        return "-"
    m = NOT_RE.match(t)
    if m:
        values = [_feel_literal(p) for p in _split(m[1])]
        return "not(" + ", ".join(_expr_literal(v) for v in values) + ")"
    parts = _split(t)
    if len(parts) > 1:
        values = [_feel_literal(p) for p in parts]
        kinds = {type(v) for v in values}
        if None in values or (bool in kinds and len(kinds) > 1):
            raise _UnsupportedError(f"a list mixing null or booleans with other values ({t!r})")
        return values
    m = RANGE_RE.match(t)
    if m:
        return f"{m[1]}{_feel_endpoint(m[2])}..{_feel_endpoint(m[3])}{m[4]}"
    m = re.match(r"^(<=|>=|<|>)\s*(.+)$", t)
    if m:
        return f"{m[1]} {_feel_endpoint(m[2])}"
    value = _feel_literal(t)
    if value is None:
        return "== null"
    if isinstance(value, str) and (value in ("", "-") or is_test(value)):
        return f"== {_expr_literal(value)}"  # text that would read as a test
    return value


def _output_from_feel(text: str) -> Any:
    t = text.strip()
    if PATH_RE.match(t) and t not in ("true", "false", "null"):
        return f"= {t}"
    value = _feel_literal(t)
    if isinstance(value, str) and value.startswith("="):
        raise _UnsupportedError(f"an output text starting with '=' ({t!r}) would read as an "
                           "expression")
    return value


# -- import ---------------------------------------------------------------------------------------


def _parse(data: bytes, file: str) -> Any:
    if len(data) > MAX_BYTES:
        raise DmnError([Problem(f"the document is {len(data):,} bytes long (at most "
                                f"{MAX_BYTES:,})", "E-dmn-size", file)])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, col = (exc.position if exc.position else (None, None))
        raise DmnError([Problem(f"not well-formed XML: {exc.msg}", "E-dmn-xml", file, line,
                                col)]) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise DmnError([Problem(f"not XML: {exc}", "E-dmn-xml", file)]) from None
    doctype: str = getattr(root.getroottree().docinfo, "doctype", "") or ""
    if doctype:
        raise DmnError([Problem("a DMN document may not have a DOCTYPE (entities and DTDs "
                                "are refused)", "E-dmn-doctype", file, 1)])
    return root


def _local(el: Any) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _ns(el: Any) -> str:
    tag = el.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _slug(name: str) -> str:
    out = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    if not out:
        out = "d"
    if out[0].isdigit():
        out = "d_" + out
    return out


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.skipped: list[str] = []

    def unsupported(self, el: Any, what: str) -> None:
        self.problems.append(Problem(f"<{_local(el)}>: {what}", "E-dmn-unsupported",
                                     self.file, el.sourceline))

    def skip(self, el: Any) -> None:
        self.skipped.append(f"<{_local(el)}> at {self.file}:{el.sourceline} (presentation "
                            "only, not carried over)")

    def children(self, el: Any, known: Sequence[str]) -> Iterator[Any]:
        """The element children of ``el``; unknown ones are listed, presentation ones
        skipped (listed apart)."""
        for child in el:
            if not isinstance(child.tag, str):
                continue  # comments
            name = _local(child)
            if name in _SKIPPED:
                self.skip(child)
            elif name in known:
                yield child
            else:
                self.unsupported(child, f"not supported inside <{_local(el)}>")

    def text(self, el: Any) -> str:
        texts = [c for c in el if isinstance(c.tag, str) and _local(c) == "text"]
        for c in el:
            if isinstance(c.tag, str) and _local(c) not in ("text", *_SKIPPED):
                self.unsupported(c, f"not supported inside <{_local(el)}>")
            elif isinstance(c.tag, str) and _local(c) in _SKIPPED:
                self.skip(c)
        return (texts[0].text or "") if texts else ""

    def cell(self, el: Any, what: str, convert: Any) -> Any:
        try:
            return convert(self.text(el))
        except _UnsupportedError as exc:
            self.unsupported(el, f"{what}: {exc}")
            return "-"

    def decision(self, el: Any, names: set[str]) -> tuple[dict[str, Any], list[str]] | None:
        name_attr = el.get("name") or el.get("id") or "decision"
        ident = el.get("id") or ""
        if not _ID_RE.match(ident):
            ident = _slug(name_attr)
        base, n = ident, 2
        while ident in names:
            ident = f"{base}_{n}"
            n += 1
        names.add(ident)
        out: dict[str, Any] = {"name": ident}
        if name_attr != ident:
            out["label"] = name_attr
        requires: list[str] = []
        table = None
        for child in self.children(el, ("decisionTable", "informationRequirement", "variable",
                                        "question", "allowedAnswers",
                                        "authorityRequirement", "knowledgeRequirement")):
            kind = _local(child)
            if kind == "decisionTable":
                table = child
            elif kind == "informationRequirement":
                for req in child:
                    if isinstance(req.tag, str) and _local(req) == "requiredDecision":
                        requires.append((req.get("href") or "").lstrip("#"))
            elif kind in ("authorityRequirement", "knowledgeRequirement"):
                self.unsupported(child, "knowledge and authority requirements are not "
                                        "supported")
            elif kind in ("question", "allowedAnswers"):
                self.skip(child)
        if table is None:
            self.unsupported(el, f"decision {name_attr!r} has no decision table (only "
                                 "decision tables are imported)")
            return None
        self.table(table, out)
        return out, requires

    def table(self, el: Any, out: dict[str, Any]) -> None:
        hit = (el.get("hitPolicy") or "UNIQUE").strip().upper()
        agg = el.get("aggregation")
        if hit not in _HIT_IN:
            self.unsupported(el, f"hitPolicy {hit!r} (known: {', '.join(_HIT_IN)})")
            hit = "UNIQUE"
        letter = _HIT_IN[hit]
        if agg is not None:
            if hit != "COLLECT" or agg.strip().upper() not in _AGG_IN:
                self.unsupported(el, f"aggregation {agg!r} (SUM, MIN, MAX or COUNT, with "
                                     "COLLECT)")
            else:
                letter = _AGG_IN[agg.strip().upper()]
        orientation = el.get("preferredOrientation")
        if orientation not in (None, "Rule-as-Row"):
            self.skip(el)
        out["hit"] = letter
        inputs: list[str] = []
        outputs: list[str] = []
        labels: dict[str, str] = {}
        values: dict[str, list[Any]] = {}
        default: dict[str, Any] = {}
        rows: list[list[Any]] = []
        for child in self.children(el, ("input", "output", "rule")):
            kind = _local(child)
            if kind == "input":
                expr = "-"
                for sub in self.children(child, ("inputExpression", "inputValues")):
                    if _local(sub) == "inputExpression":
                        expr = self.text(sub).strip()
                        if not PATH_RE.match(expr):
                            self.unsupported(sub, f"input expression {expr!r}: only names and "
                                                  "dotted paths (a.b.c) are imported")
                        self.type_ref(sub)
                    else:
                        self.unsupported(sub, "input values (allowed input values) are not "
                                              "supported")
                inputs.append(expr)
                if child.get("label"):
                    labels[expr] = child.get("label")
            elif kind == "output":
                raw = child.get("name") or child.get("label") or f"output_{len(outputs) + 1}"
                name = raw if raw.isidentifier() else _slug(raw)
                outputs.append(name)
                label = child.get("label") or (raw if raw != name else None)
                if label:
                    labels[name] = label
                self.type_ref(child)
                for sub in self.children(child, ("outputValues", "defaultOutputEntry")):
                    if _local(sub) == "outputValues":
                        got = self.cell(sub, "output values", _cell_from_feel)
                        if got != "-":
                            values[name] = got if isinstance(got, list) else [got]
                            if not all(_is_value(v) for v in values[name]):
                                self.unsupported(sub, "output values must be literals")
                    else:
                        default[name] = self.cell(sub, "default output", _output_from_feel)
            else:
                row_in: list[Any] = []
                row_out: list[Any] = []
                for sub in self.children(child, ("inputEntry", "outputEntry")):
                    if _local(sub) == "inputEntry":
                        row_in.append(self.cell(sub, "input entry", _cell_from_feel))
                    else:
                        row_out.append(self.cell(sub, "output entry", _output_from_feel))
                if len(row_in) != len(inputs) or len(row_out) != len(outputs):
                    self.unsupported(child, f"rule has {len(row_in)} input and {len(row_out)} "
                                            f"output entries; the table has {len(inputs)} "
                                            f"inputs and {len(outputs)} outputs")
                    continue
                rows.append(row_in + row_out)
        if not rows:
            self.unsupported(el, "a decision table needs at least one rule")
        if not inputs:
            self.unsupported(el, "a decision table with no inputs is not supported")
        if not outputs:
            self.unsupported(el, "a decision table needs at least one output")
        if values:
            out["output_values"] = values
        if default:
            out["default"] = default
        table: dict[str, Any] = {"inputs": inputs, "outputs": outputs, "rows": rows}
        if labels:
            table["labels"] = labels
        out["table"] = table

    def type_ref(self, el: Any) -> None:
        ref = el.get("typeRef")
        if ref is None:
            return
        if ref.split(":")[-1] not in _TYPES:
            self.unsupported(el, f"typeRef {ref!r} (supported: {', '.join(sorted(_TYPES))})")
        else:
            self.skipped.append(f"typeRef={ref!r} on <{_local(el)}> at {self.file}:"
                                f"{el.sourceline} (types are not carried over; every cell "
                                "compares by type)")


def _is_value(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, Decimal, bool)) and not (
        isinstance(value, str) and is_test(value)))


def import_dmn(data: bytes | str, file: str = "<dmn>", *, name: str | None = None) -> DmnImport:
    """Read DMN XML into rule-pack data (``kind: rule-pack``; one decision per decision table,
    in dependency order).

    Raises :class:`~telcoflow.errors.DmnError` listing every element that cannot be carried
    over, each with its line.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    root = _parse(raw, file)
    reader = _Reader(file)
    if _local(root) != "definitions" or _ns(root) not in _NAMESPACES:
        raise DmnError([Problem(f"not a DMN document: the root is <{_local(root)}> in "
                                f"namespace {_ns(root)!r} (expected <definitions> in a DMN "
                                f"1.1-1.5 namespace)", "E-dmn-root", file, root.sourceline)])
    decisions: list[tuple[str, dict[str, Any], list[str]]] = []
    names: set[str] = set()
    for child in reader.children(root, ("decision", "inputData", "itemDefinition")):
        kind = _local(child)
        if kind == "decision":
            got = reader.decision(child, names)
            if got is not None:
                decisions.append((child.get("id") or "", got[0], got[1]))
        elif kind == "itemDefinition":
            reader.unsupported(child, "item definitions (custom types) are not supported")
        # inputData declares a context name; nothing to carry over
    if reader.problems:
        raise DmnError(reader.problems)
    ordered = _in_dependency_order(decisions)
    pack_name = name or _slug(root.get("name") or "dmn").replace("_", "-")
    if not re.match(r"^[a-z0-9]", pack_name):
        pack_name = "dmn-" + pack_name
    pack = {"kind": "rule-pack", "name": pack_name, "version": "1",
            "description": f"imported from DMN ({root.get('name') or file})",
            "decisions": ordered}
    return DmnImport(pack, reader.skipped)


def _in_dependency_order(decisions: list[tuple[str, dict[str, Any], list[str]]],
                         ) -> list[dict[str, Any]]:
    """Decisions ordered so that each comes after the decisions it requires (file order
    otherwise)."""
    by_id = {i: d for i, d, _ in decisions if i}
    done: list[dict[str, Any]] = []
    seen: set[int] = set()

    def visit(entry: tuple[str, dict[str, Any], list[str]], stack: frozenset[int]) -> None:
        _, d, requires = entry
        if id(d) in seen or id(d) in stack:
            return
        for r in requires:
            dep = by_id.get(r)
            if dep is not None:
                visit(next(e for e in decisions if e[1] is dep), stack | {id(d)})
        seen.add(id(d))
        done.append(d)

    for entry in decisions:
        visit(entry, frozenset())
    return done


class _Dumper(yaml.SafeDumper):
    pass


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


_Dumper.add_representer(Decimal, _decimal)


def dump_pack_yaml(pack: Mapping[str, Any]) -> str:
    """Rule-pack data (from :func:`import_dmn`) as YAML text that :func:`load_pack` reads."""
    text: str = yaml.dump(dict(pack), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=100)
    return text


# -- export ---------------------------------------------------------------------------------------


def _feel(value: Any) -> str:
    """``value`` as an S-FEEL literal: the same spelling as the expression language's."""
    if value is None or isinstance(value, (bool, int, Decimal, str)):
        return _expr_literal(value)
    raise _UnsupportedError(f"{value!r} has no S-FEEL form")


def _endpoint_feel(text: str) -> str:
    t = text.strip()
    if PATH_RE.match(t) and t not in ("true", "false", "null", "True", "False", "None"):
        return t
    return _feel(_expr_value(t))


def _expr_value(text: str) -> Any:
    """A literal of the expression language (text in quotes, number, boolean, null)."""
    t = text.strip()
    if t in ("null", "None"):
        return None
    if t in ("true", "True", "false", "False"):
        return t in ("true", "True")
    if _NUMBER_RE.match(t):
        return int(t) if "." not in t else Decimal(t)
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        body = t[1:-1]
        if "\\" in body or t[0] in body:
            raise _UnsupportedError(f"{t!r}: escapes in text are not exported")
        return body
    raise _UnsupportedError(f"{t!r} is not a literal or a dotted name")


def _cell_to_feel(cell: Any) -> str:
    if cell is None or cell == "-" or cell == "":
        return "-"
    if isinstance(cell, list):
        return ", ".join(_feel(v) for v in cell)
    if not isinstance(cell, str):
        return _feel(cell)
    s = cell.strip()
    m = RANGE_RE.match(s)
    if m:
        return f"{m[1]}{_endpoint_feel(m[2])}..{_endpoint_feel(m[3])}{m[4]}"
    m = CMP_RE.match(s)
    if m:
        if m[1] == "==":
            return _feel(_expr_value(m[2]))
        if m[1] == "!=":
            return f"not({_feel(_expr_value(m[2]))})"
        return f"{m[1]} {_endpoint_feel(m[2])}"
    m = NOT_RE.match(s)
    if m:
        return "not(" + ", ".join(_feel(_expr_value(p)) for p in _split(m[1])) + ")"
    if is_test(s):
        raise _UnsupportedError(f"the cell {cell!r} (an expression with ?) has no S-FEEL form")
    return _feel(s)


def export_dmn(pack: RulePack, *, source: Mapping[str, Any]) -> str:
    """The decision tables of ``pack`` as DMN 1.3 XML text.

    ``source`` is the pack's YAML data (the cells as written, which the compiled pack no
    longer holds). Only table decisions with a DMN hit policy (U A P F R O C C+ C< C> C#),
    whose cells have an S-FEEL form, can be exported; anything else is listed in a
    :class:`~telcoflow.errors.DmnError` (decision and line), and nothing is written.
    """
    problems: list[Problem] = []
    models = {d["name"]: d for d in source.get("decisions", []) if isinstance(d, Mapping)}
    root = etree.Element(f"{{{DMN13_NS}}}definitions",
                         nsmap={None: DMN13_NS})  # type: ignore[dict-item]
    root.set("id", _slug(pack.name))
    root.set("name", pack.name)
    root.set("namespace", f"https://telcoflow.dev/rules/{pack.name}")
    for d in pack.decisions:
        where = d.where.rstrip(": ")
        model = models.get(d.name)
        if model is None or "table" not in model:
            problems.append(_problem(where, f"decision {d.name!r}: only decision tables are "
                                            "exported (this one is a list of rules)"))
            continue
        if d.hit not in DMN_HITS:
            problems.append(_problem(where, f"decision {d.name!r}: hit policy {d.hit!r} is "
                                            "telcoflow's, not DMN's (use a DMN letter: "
                                            f"{' '.join(DMN_HITS)})"))
            continue
        if d.guard is not None:
            problems.append(_problem(where, f"decision {d.name!r}: `when` has no DMN form"))
            continue
        try:
            root.append(_decision_xml(d, model))
        except _UnsupportedError as exc:
            problems.append(_problem(where, f"decision {d.name!r}: {exc}"))
    if problems:
        raise DmnError(problems)
    text: str = etree.tostring(root, pretty_print=True, xml_declaration=True,
                               encoding="UTF-8").decode("utf-8")
    return text


def _problem(where: str, message: str) -> Problem:
    file, _, rest = where.rpartition(":")
    file2, _, line = file.rpartition(":")
    if line.isdigit():
        return Problem(message, "E-dmn-export", file2, int(line), int(rest) if rest.isdigit()
                       else None)
    return Problem(message, "E-dmn-export", where or None)


def _sub(parent: Any, tag: str, **attrs: str) -> Any:
    el = etree.SubElement(parent, f"{{{DMN13_NS}}}{tag}")
    for k, v in attrs.items():
        el.set(k, v)
    return el


def _text(parent: Any, tag: str, text: str, **attrs: str) -> Any:
    el = _sub(parent, tag, **attrs)
    _sub(el, "text").text = text
    return el


def _decision_xml(d: CompiledDecision, model: Mapping[str, Any]) -> Any:
    table = model["table"]
    labels: Mapping[str, str] = table.get("labels") or {}
    el = etree.Element(f"{{{DMN13_NS}}}decision")
    el.set("id", d.name)
    el.set("name", d.label or d.name)
    attrs = {"id": f"{d.name}_table"}
    if d.hit in AGGREGATES:
        attrs["hitPolicy"] = "COLLECT"
        attrs["aggregation"] = _AGG_OUT[d.hit]
    else:
        attrs["hitPolicy"] = _HIT_OUT[d.hit]
    t = _sub(el, "decisionTable", **attrs)
    for j, expr in enumerate(table["inputs"]):
        if not PATH_RE.match(str(expr)):
            raise _UnsupportedError(f"input {expr!r} is not a name or dotted path")
        inp = _sub(t, "input", id=f"{d.name}_in{j + 1}")
        if expr in labels:
            inp.set("label", labels[expr])
        _text(inp, "inputExpression", str(expr), id=f"{d.name}_in{j + 1}_expr")
    priorities: Mapping[str, Sequence[Any]] = model.get("output_values") or {}
    default: Mapping[str, Any] = model.get("default") or {}
    for j, name in enumerate(table["outputs"]):
        out = _sub(t, "output", id=f"{d.name}_out{j + 1}", name=name)
        if name in labels:
            out.set("label", labels[name])
        if name in priorities:
            _text(out, "outputValues", ", ".join(_feel(v) for v in priorities[name]))
        if name in default:
            _text(out, "defaultOutputEntry", _output_feel(default[name]))
    n_in = len(table["inputs"])
    for r, row in enumerate(table["rows"]):
        rule = _sub(t, "rule", id=f"{d.name}_r{r + 1}")
        for j, cell in enumerate(row[:n_in]):
            try:
                _text(rule, "inputEntry", _cell_to_feel(cell))
            except _UnsupportedError as exc:
                raise _UnsupportedError(f"row {r + 1}, input {j + 1}: {exc}") from None
        for j, cell in enumerate(row[n_in:]):
            try:
                _text(rule, "outputEntry", _output_feel(cell))
            except _UnsupportedError as exc:
                raise _UnsupportedError(f"row {r + 1}, output {j + 1}: {exc}") from None
    return el


def _output_feel(value: Any) -> str:
    if isinstance(value, str) and value.startswith("="):
        body = value[1:].strip()
        if PATH_RE.match(body):
            return body
        raise _UnsupportedError(f"the output expression {value!r} has no S-FEEL form")
    if isinstance(value, CompiledExpression):  # pragma: no cover - source data holds text
        raise _UnsupportedError("a compiled output")
    if value == "-":
        return "null"
    return _feel(value)



def export_pack_file(path: str | Path) -> str:
    """Load the rule pack at ``path`` (a file or a folder) and export its decision tables
    (see :func:`export_dmn`)."""
    p = Path(path)
    pack = load_pack(p)
    files = [p / "pack.yaml", *[f for f in iter_yaml_files([p]) if f != p / "pack.yaml"]] \
        if p.is_dir() else [p]
    decisions: list[Any] = []
    for f in files:
        data = parse_yaml(read_yaml_text(f), str(f)).data
        if isinstance(data, Mapping):
            decisions.extend(data.get("decisions") or [])
    return export_dmn(pack, source={"decisions": decisions})
