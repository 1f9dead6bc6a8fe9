"""SCXML import and export for the structural subset (``telcoflow journey import|export``).

Import reads ``<scxml>``, ``<state>``, ``<parallel>``, ``<final>``, ``<history>``,
``<initial>`` and ``<transition>`` (``event``, ``cond``, ``target``, ``type``) and writes a
journey YAML document; ``cond`` becomes a named guard with the expression as written (the
loader then checks it as a rule expression), and ``<log label="action" expr="'name'"/>`` in
a transition becomes a host action (what export writes). Anything else (a data model,
scripts, ``onentry`` / ``onexit``, ``send``, ``assign``, ``invoke``, ...) is refused, naming
the construct and its line. The XML is parsed with lxml with entities, DTDs and network
access off; a document type declaration is refused.

Export writes a compiled journey as SCXML: states by their short name when unique (else the
full path with ``_``), ``resume`` as a ``<history>`` child, ``on_done`` as
``done.state.<id>``, ``always`` as eventless transitions, guards as ``cond`` and the outcome of
a top-level final state as its ``<donedata>``. Timeouts are refused (SCXML needs a delayed
``<send>``, executable content outside the subset).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from telcoflow._optional import requires
from telcoflow.errors import JourneyError, Problem
from telcoflow.journeys.compiled import Journey
from telcoflow.journeys.models import StateSpec, TransitionSpec
from telcoflow.journeys.nodes import DONE_PREFIX

with requires("journeys", "SCXML export"):
    from lxml import etree

__all__ = ["SCXML_NS", "export_scxml", "import_scxml"]

SCXML_NS = "http://www.w3.org/2005/07/scxml"
_Q = "{" + SCXML_NS + "}"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ACTION = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)'$")
_MAX_BYTES = 5_000_000


def _line(el: Any) -> int | None:
    line = getattr(el, "sourceline", None)
    return line if isinstance(line, int) else None


class _Importer:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.paths: dict[str, str] = {}  # SCXML id -> dotted path
        self.history: dict[str, tuple[str, str, list[str]]] = {}  # id -> (owner, type, dflt)
        self.guards: dict[str, str] = {}
        self.actions: dict[str, None] = {}
        self.events: dict[str, None] = {}

    def problem(self, el: Any, message: str) -> None:
        self.problems.append(Problem(message, "E-scxml", self.file, _line(el), None))

    def tag(self, el: Any) -> str:
        if not isinstance(el.tag, str):
            return ""
        name = str(etree.QName(el).localname)
        if etree.QName(el).namespace not in (SCXML_NS, None):
            self.problem(el, f"element `{el.tag}` is not SCXML")
        return name

    # ---- first pass: ids and paths

    def collect(self, el: Any, parent: str | None) -> None:
        for child in el:
            kind = self.tag(child)
            if kind in ("state", "parallel", "final"):
                sid = child.get("id")
                if sid is None or not _NAME.match(sid):
                    self.problem(child, f"`<{kind}>` id {sid!r} must be an identifier "
                                 "(letters, digits, _) to become a journey state name")
                    continue
                path = f"{parent}.{sid}" if parent else sid
                if sid in self.paths:
                    self.problem(child, f"duplicate id `{sid}`")
                self.paths[sid] = path
                self.collect(child, path)
            elif kind == "history":
                hid = child.get("id") or ""
                if parent is None:
                    self.problem(child, "`<history>` must be inside a state")
                    continue
                if any(owner == parent for owner, _, _ in self.history.values()):
                    self.problem(child, f"state `{parent}` has two `<history>` children (a "
                                 "journey state keeps one history)")
                dflt = [t.get("target", "") for t in child if self.tag(t) == "transition"]
                self.history[hid] = (parent, child.get("type", "shallow"),
                                     " ".join(dflt).split())

    # ---- second pass: states

    def target_list(self, el: Any, raw: str | None) -> tuple[list[str], bool]:
        out: list[str] = []
        resume = False
        for tid in (raw or "").split():
            if tid in self.history:
                out.append(self.history[tid][0])
                resume = True
            elif tid in self.paths:
                out.append(self.paths[tid])
            else:
                self.problem(el, f"unknown target `{tid}`")
        return out, resume

    def transition(self, el: Any) -> tuple[str | None, dict[str, Any]]:
        spec: dict[str, Any] = {}
        targets, resume = self.target_list(el, el.get("target"))
        if len(targets) == 1:
            spec["target"] = targets[0]
        elif targets:
            spec["targets"] = targets
        if resume:
            spec["resume"] = True
        if el.get("type") == "internal":
            spec["type"] = "internal"
        cond = el.get("cond")
        if cond is not None:
            name = f"g{len(self.guards) + 1}"
            self.guards[name] = cond
            spec["guard"] = name
        actions = []
        for content in el:
            kind = self.tag(content)
            if not kind:
                continue
            m = _ACTION.match(content.get("expr", ""))
            if kind == "log" and content.get("label") == "action" and m:
                actions.append(m.group(1))
                self.actions[m.group(1)] = None
            else:
                self.problem(content, f"`<{kind}>` (executable content) is outside the "
                             "structural subset")
        if actions:
            spec["actions"] = actions
        event = el.get("event")
        if event is not None:
            for d in event.split():
                if d != "*" and not d.startswith("done."):
                    self.events[d[:-2] if d.endswith(".*") else d] = None
        return event, spec

    def states(self, el: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        children = [c for c in el if self.tag(c) in ("state", "parallel", "final")]
        initial = (el.get("initial") or "").split()
        for c in el:
            if self.tag(c) == "initial":
                initial = " ".join(t.get("target", "") for t in c
                                   if self.tag(t) == "transition").split()
        if len(initial) > 1:
            self.problem(el, "an `initial` with several states is outside the subset")
        first = initial[0] if initial else None
        if el.tag != _Q + "parallel" and children and first is None:
            first = children[0].get("id")
        if first is not None and first not in [c.get("id") for c in children]:
            self.problem(el, f"initial state `{first}` must be a child of its state")
        for child in el:
            kind = self.tag(child)
            if kind in ("state", "parallel", "final"):
                sid = child.get("id")
                if sid is None or not _NAME.match(sid):
                    continue
                out[sid] = self.state(child, kind, sid == first
                                      and el.tag != _Q + "parallel")
            elif kind in ("transition", "history", "initial", ""):
                continue
            elif kind in ("datamodel", "script", "onentry", "onexit", "invoke", "donedata"):
                if not (kind == "donedata" and el.tag == _Q + "final"):
                    self.problem(child, f"`<{kind}>` is outside the structural subset")
            else:
                self.problem(child, f"unknown element `<{kind}>`")
        return out

    def state(self, el: Any, kind: str, initial: bool) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if initial:
            spec["initial"] = True
        if kind == "parallel":
            spec["parallel"] = True
        if kind == "final":
            spec["final"] = True
            for data in el:
                if self.tag(data) == "donedata":
                    for content in data:
                        m = _ACTION.match(content.get("expr", ""))
                        if m and m.group(1) in ("completed", "abandoned", "rejected"):
                            spec["outcome"] = m.group(1)
                            spec.pop("final")
        sid = el.get("id")
        path = self.paths.get(sid, "")
        for owner, htype, dflt in self.history.values():
            if owner == path:
                spec["history"] = "deep" if htype == "deep" else "shallow"
                if dflt:
                    targets, _ = self.target_list(el, " ".join(dflt))
                    spec["history_default"] = (
                        {"target": targets[0]} if len(targets) == 1 else {"targets": targets})
        children = self.states(el)
        if children:
            spec["states"] = children
        on: dict[str, list[dict[str, Any]]] = {}
        always: list[dict[str, Any]] = []
        for t in el:
            if self.tag(t) != "transition":
                continue
            event, tspec = self.transition(t)
            if event is None:
                always.append(tspec)
            elif event == DONE_PREFIX + (sid or "") and "on_done" not in spec:
                spec["on_done"] = tspec
            else:
                key = " ".join(
                    DONE_PREFIX + self.paths[d[len(DONE_PREFIX):]]
                    if d.startswith(DONE_PREFIX) and d[len(DONE_PREFIX):] in self.paths else d
                    for d in event.split())
                on.setdefault(key, []).append(tspec)
        if on:
            spec["on"] = {k: (v[0] if len(v) == 1 else v) for k, v in on.items()}
        if always:
            spec["always"] = always
        return spec


def import_scxml(text: str | bytes, file: str = "<scxml>", journey_id: str | None = None,
                 ) -> str:
    """Journey YAML text from an SCXML document (see the module docstring).

    Raises :class:`~telcoflow.errors.JourneyError` listing every construct outside the
    subset, each with its line.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > _MAX_BYTES:
        raise JourneyError([Problem(f"the document is larger than {_MAX_BYTES} bytes",
                                    "E-scxml", file)])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        raise JourneyError([Problem(f"not well-formed XML: {exc}", "E-scxml", file,
                                    line if isinstance(line, int) else None)]) from None
    tree = root.getroottree()
    if getattr(tree.docinfo, "doctype", ""):
        raise JourneyError([Problem("a document type declaration is refused (entities and "
                                    "DTDs are not read)", "E-scxml", file, 1)])
    if root.tag != _Q + "scxml":
        raise JourneyError([Problem(f"the root element must be <scxml> in namespace "
                                    f"{SCXML_NS} (found {root.tag})", "E-scxml", file,
                                    _line(root))])
    imp = _Importer(file)
    imp.collect(root, None)
    if root.get("datamodel") not in (None, "null"):
        imp.problem(root, "a `datamodel` is outside the structural subset")
    states = imp.states(root)
    if imp.problems:
        raise JourneyError(imp.problems)
    name = journey_id or root.get("name") or "imported"
    doc: dict[str, Any] = {"kind": "journey", "id": re.sub(r"[^A-Za-z0-9_.-]", "-", name)}
    doc["triggers"] = {e: {} for e in imp.events}
    if imp.guards:
        doc["guards"] = imp.guards
    if imp.actions:
        doc["actions"] = list(imp.actions)
    doc["lint"] = {"*": "warning"}
    doc["states"] = states
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- export


def _ids(journey: Journey) -> dict[str, str]:
    short = [p.rsplit(".", 1)[-1] for p in journey.states]
    unique = len(set(short)) == len(short)
    ids = {p: (p.rsplit(".", 1)[-1] if unique else p.replace(".", "_")) for p in journey.states}
    if len(set(ids.values())) != len(ids):
        raise JourneyError([Problem("state ids would collide in SCXML", "E-scxml",
                                    journey.file)])
    return ids


def export_scxml(journey: Journey) -> str:
    """SCXML text of a journey (see the module docstring)."""
    ids = _ids(journey)
    problems: list[Problem] = []
    # lxml-stubs type nsmap keys as str, but None is lxml's way to set the default namespace
    root = etree.Element(_Q + "scxml", nsmap={None: SCXML_NS})  # type: ignore[dict-item]
    root.set("version", "1.0")
    root.set("name", journey.id)
    top = journey.initial.split("+")[0].split(".")[0]
    root.set("initial", ids[top])

    def add_transition(parent: Any, event: str | None, t: TransitionSpec,
                       targets: tuple[str, ...]) -> None:
        el = etree.SubElement(parent, _Q + "transition")
        if event is not None:
            el.set("event", event)
        if t.guard:
            el.set("cond", journey.guard_sources.get(t.guard, t.guard))
        names = [ids[x] + ("_history" if t.resume and journey.states[x].history else "")
                 for x in targets]
        if names:
            el.set("target", " ".join(names))
        if t.type == "internal":
            el.set("type", "internal")
        for action in t.actions:
            log = etree.SubElement(el, _Q + "log")
            log.set("label", "action")
            log.set("expr", f"'{action}'")

    def resolved(source: str, t: TransitionSpec) -> tuple[str, ...]:
        if not t.all_targets:
            return ()
        return tuple(dict.fromkeys(tg for src, _, sp, tg in journey.declared
                                   if src == source and sp is t))

    def add_state(parent: Any, path: str, spec: StateSpec) -> None:
        node = journey.states[path]
        tag = "parallel" if node.kind == "parallel" else ("final" if node.final else "state")
        el = etree.SubElement(parent, _Q + tag)
        el.set("id", ids[path])
        if node.kind == "compound" and node.initial:
            el.set("initial", ids[node.initial])
        if node.final and node.parent is None and node.outcome:
            done = etree.SubElement(el, _Q + "donedata")
            etree.SubElement(done, _Q + "content").set("expr", f"'{node.outcome}'")
        if spec.timeout is not None:
            problems.append(Problem(f"state `{path}` has a timeout (SCXML needs a delayed "
                                    "<send>, outside the structural subset)", "E-scxml",
                                    journey.file))
        for trigger, items in spec.on.items():
            for t in items:
                event = " ".join(DONE_PREFIX + ids[d[len(DONE_PREFIX):]]
                                 if d.startswith(DONE_PREFIX)
                                 and d[len(DONE_PREFIX):] in ids else d
                                 for d in trigger.split())
                add_transition(el, event, t, resolved(path, t))
        for t in spec.always:
            add_transition(el, None, t, resolved(path, t))
        if spec.on_done is not None:
            add_transition(el, DONE_PREFIX + ids[path], spec.on_done,
                           resolved(path, spec.on_done))
        if node.history:
            h = etree.SubElement(el, _Q + "history")
            h.set("id", ids[path] + "_history")
            h.set("type", node.history)
            if spec.history_default is not None:
                dflt = spec.history_default.all_targets
                resolved_dflt = [ids.get(f"{path}.{x}", ids.get(x, x)) for x in dflt]
                etree.SubElement(h, _Q + "transition").set("target", " ".join(resolved_dflt))
        for name, child in spec.states.items():
            add_state(el, f"{path}.{name}", child)

    specs: Mapping[str, StateSpec] = journey.spec.states
    for name, spec in specs.items():
        add_state(root, name, spec)
    if problems:
        raise JourneyError(problems)
    return etree.tostring(root, pretty_print=True, xml_declaration=True,
                          encoding="UTF-8").decode("utf-8")
