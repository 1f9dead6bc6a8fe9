"""YAML events -> a node graph, within limits: the one composer every YAML file goes through.

PyYAML's composer builds shared nodes for aliases; a file of nested anchors (a "billion
laughs") is small as a node graph but explodes when it is turned into data, and ``&a [*a]``
is a node that contains itself. This composer reads the parser's events (libyaml's C parser
when available) and builds the same nodes, while it counts:

* the nodes that aliases would create once expanded (:data:`MAX_ALIAS_NODES`);
* the nesting depth of collections (:data:`MAX_DEPTH`);

and refuses an alias to a collection that is still open (a recursive alias). Each refusal
is a :class:`LimitError` carrying the mark (line, column) of the offending event, raised at
once: a bomb is refused after reading its anchors, never expanded.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_ALIAS_NODES", "MAX_BYTES", "MAX_DEPTH", "LimitError", "compose_single"]

MAX_ALIAS_NODES = 100_000
"""Most nodes that aliases may add to one document once expanded."""
MAX_DEPTH = 100
"""Deepest nesting of mappings and sequences in one document."""
MAX_BYTES = 8 * 1024 * 1024
"""Largest YAML document read, in bytes (8 MiB)."""


class LimitError(Exception):
    """A document breaks a limit or holds a recursive alias; ``mark`` says where."""

    def __init__(self, message: str, code: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.mark = mark


class _Open:
    """A collection being composed: its node, running expanded size, pending key."""

    __slots__ = ("anchor", "is_seq", "key", "node", "size")

    def __init__(self, node: yaml.Node, anchor: str | None) -> None:
        self.node = node
        self.is_seq = isinstance(node, yaml.SequenceNode)
        self.anchor = anchor
        self.size = 1
        self.key: yaml.Node | None = None


def compose_single(loader: Any) -> yaml.Node | None:
    """Compose the single document of ``loader``'s stream (``None`` for an empty stream).

    ``loader`` is a PyYAML loader (C or pure Python): only its event interface
    (``get_event``/``check_event``/``peek_event``) and resolver (``resolve``) are used.
    Raises :class:`LimitError` or PyYAML's own :class:`yaml.YAMLError` (syntax).
    """
    loader.get_event()  # StreamStart
    if loader.check_event(yaml.StreamEndEvent):
        loader.get_event()
        return None
    loader.get_event()  # DocumentStart
    root = _compose_document(loader)
    loader.get_event()  # DocumentEnd
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(
            "expected a single document in the stream", root.start_mark,
            "found a second document (a file holds exactly one)", event.start_mark)
    loader.get_event()
    return root


def _compose_document(loader: Any) -> yaml.Node:
    anchors: dict[str, yaml.Node] = {}
    sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size
    open_ids: set[int] = set()  # anchored collections not closed yet
    stack: list[_Open] = []
    alias_nodes = 0
    get_event, resolve = loader.get_event, loader.resolve
    scalar_event, scalar_node = yaml.ScalarEvent, yaml.ScalarNode
    while True:
        event = get_event()
        cls = type(event)
        node: yaml.Node
        size = 1
        if cls is scalar_event:  # the common case first
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(scalar_node, event.value, event.implicit)
            node = scalar_node(tag, event.value, event.start_mark, event.end_mark,
                               style=event.style)
            if event.anchor is not None:
                anchors[event.anchor] = node
                sizes[id(node)] = 1
        elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise LimitError(f"nested deeper than {MAX_DEPTH} levels", "E-yaml-depth",
                                 event.start_mark)
            kind = yaml.MappingNode if cls is yaml.MappingStartEvent else yaml.SequenceNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(kind, None, event.implicit)
            coll: yaml.CollectionNode = kind(tag, [], event.start_mark, None,
                                             flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = coll
                open_ids.add(id(coll))
            stack.append(_Open(coll, event.anchor))
            continue
        elif cls is yaml.AliasEvent:
            name = event.anchor
            if name not in anchors:
                raise LimitError(f"alias *{name} names no anchor defined before it",
                                 "E-yaml-alias", event.start_mark)
            node = anchors[name]
            if id(node) in open_ids:
                raise LimitError(f"recursive alias *{name}: the anchor &{name} contains itself",
                                 "E-yaml-recursive-alias", event.start_mark)
            size = sizes[id(node)]
            alias_nodes += size
            if alias_nodes > MAX_ALIAS_NODES:
                raise LimitError(
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (a YAML bomb?); "
                    f"*{name} alone adds {size:,}", "E-yaml-aliases", event.start_mark)
        else:  # SequenceEnd / MappingEnd
            done = stack.pop()
            node = done.node
            node.end_mark = event.end_mark
            size = done.size
            if done.anchor is not None:
                open_ids.discard(id(node))
                sizes[id(node)] = size
        if not stack:
            return node
        parent = stack[-1]
        parent.size += size
        if parent.is_seq:
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None
