"""Where each state and edge of a journey diagram goes: a layered layout with clusters.

Pure Python (no Graphviz binary): each compound or parallel state is a cluster laid out on
its own, inside out. Inside a cluster, its children are the vertices of a layered
(Sugiyama) layout computed by `grandalf <https://github.com/bdcht/grandalf>`_, and every
transition label is a vertex of its own placed between its source and its target, so labels
take space in the layout and never overlap a state or another label. A transition between
states of two different clusters is laid out at the level of their closest common cluster,
between the two clusters that hold its ends; a transition to the state itself (or to a state
it contains) is drawn as a loop beside the state, and the loop's label is counted in the
state's width.

The result is plain geometry (:class:`Layout`); :mod:`.drawing` turns it into SVG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from telcoflow._optional import requires
from telcoflow.journeys.nodes import StateNode

with requires("journeys", "journey diagrams"):
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

__all__ = ["EdgeLine", "Layout", "StateBox", "layout_chart", "text_width"]

#: Font sizes (px) the sizes are computed for; :mod:`.drawing` uses the same.
NAME_SIZE = 13
LABEL_SIZE = 11
NOTE_SIZE = 11
_LINE = 15  # px per text line of a label
_PAD = 14  # inner padding of a cluster
_HEADER = 26  # height of a cluster's title band
_GAP_X = 28
_GAP_Y = 26
_START = 12  # diameter of an initial-state dot


def text_width(text: str, size: float) -> float:
    """A generous estimate of the width of ``text`` at ``size`` px in a sans-serif font.

    Generous on purpose: a label box a little wider than its text never overlaps.
    """
    wide = sum(1 for ch in text if ch.isupper() or ch in "mwMW@%")
    narrow = sum(1 for ch in text if ch in "il.,:;|!'()[] ")
    return size * (0.6 * len(text) + 0.25 * wide - 0.25 * narrow) + 2


@dataclass
class StateBox:
    """One state's rectangle (absolute position, top-left corner), with what it shows."""

    path: str
    name: str
    kind: str  # "leaf" | "compound" | "parallel" | "region"
    x: float
    y: float
    w: float
    h: float
    final: bool = False
    outcome: str | None = None
    history: str | None = None
    note: str | None = None


@dataclass
class EdgeLine:
    """One drawn transition: a polyline and its label's box (absolute positions)."""

    source: str
    target: str
    trigger: str
    label: tuple[str, ...]
    points: list[tuple[float, float]]
    label_box: tuple[float, float, float, float] | None  # x, y, w, h
    dashed: bool = False
    loop: bool = False


@dataclass
class Layout:
    """A whole diagram: its size, the state boxes, the transitions and the start dots."""

    width: float
    height: float
    boxes: dict[str, StateBox] = field(default_factory=dict)
    edges: list[EdgeLine] = field(default_factory=list)
    #: Initial-state markers: the dot's centre and the line from it to the initial state.
    starts: list[tuple[tuple[float, float], list[tuple[float, float]]]] = field(
        default_factory=list)


@dataclass
class _Spec:
    """A transition to lay out (already lifted to the cluster it is drawn in)."""

    source: str
    target: str
    trigger: str
    label: tuple[str, ...]
    dashed: bool
    #: The declared ends (``source`` and ``target`` are the clusters holding them).
    real_source: str = ""
    real_target: str = ""


class _View:
    """What grandalf reads of a vertex (its size) and writes (its centre)."""

    def __init__(self, w: float, h: float) -> None:
        self.w = w
        self.h = h
        self.xy: tuple[float, float] = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: Sequence[Sequence[float]]) -> None:
        self.points = [(float(p[0]), float(p[1])) for p in points]


@dataclass
class _Placed:
    """A cluster's content, relative to the cluster's inner top-left corner."""

    w: float
    h: float
    children: dict[str, tuple[float, float]]  # child -> top-left of its slot
    edges: list[tuple[_Spec, list[tuple[float, float]], tuple[float, float, float, float]]]
    loops: list[_Spec]
    starts: list[tuple[tuple[float, float], str]]


def _ancestry(states: Mapping[str, StateNode], path: str) -> list[str]:
    out = [path]
    parent = states[path].parent
    while parent is not None:
        out.append(parent)
        parent = states[parent].parent
    return out


class _Chart:
    """The layout of one journey, built once by :func:`layout_chart`."""

    def __init__(self, states: Mapping[str, StateNode], initial: str,
                 edges: Sequence[tuple[str, str, str, tuple[str, ...], bool]],
                 notes: Mapping[str, str]) -> None:
        self.states = states
        self.notes = notes
        self.initial_top = _ancestry(states, initial.split("+")[0])[-1]
        self.by_container: dict[str | None, list[_Spec]] = {}
        self.loops: dict[str, list[_Spec]] = {}
        for source, target, trigger, label, dashed in edges:
            up_s, up_t = _ancestry(states, source), _ancestry(states, target)
            if source in up_t or target in up_s:  # to itself, a descendant or an ancestor
                outer = source if source in up_t else target
                self.loops.setdefault(outer, []).append(
                    _Spec(outer, outer, trigger, label, dashed))
                continue
            common = next((a for a in up_s[1:] if a in up_t[1:]), None)
            lifted_s = up_s[up_s.index(common) - 1] if common else up_s[-1]
            lifted_t = up_t[up_t.index(common) - 1] if common else up_t[-1]
            self.by_container.setdefault(common, []).append(
                _Spec(lifted_s, lifted_t, trigger, label, dashed, source, target))
        self.sizes: dict[str, tuple[float, float]] = {}
        self.placed: dict[str | None, _Placed] = {}

    # ---------------------------------------------------------------- sizes, inside out

    def _loop_extra(self, path: str) -> float:
        loops = self.loops.get(path, [])
        if not loops:
            return 0.0
        return 26 + max(_label_size(s.label)[0] for s in loops)

    def _loop_height(self, path: str) -> float:
        return sum(_label_size(s.label)[1] + 6 for s in self.loops.get(path, []))

    def box_size(self, path: str) -> tuple[float, float]:
        """The state's own rectangle (without its loops)."""
        if path in self.sizes:
            return self.sizes[path]
        node = self.states[path]
        name = path.rsplit(".", 1)[-1]
        note = self.notes.get(path)
        if node.kind == "leaf":
            outcome = node.outcome if node.outcome not in (None, name) else None
            lines = 1 + (outcome is not None) + (note is not None)
            w = max(92.0, text_width(name, NAME_SIZE) + 28,
                    text_width(note or "", NOTE_SIZE) + 24,
                    text_width(f"outcome: {outcome}" if outcome else "", NOTE_SIZE) + 24)
            size = (w, 18.0 + 17 * lines)
        else:
            inner = self.place(path)
            title = text_width(name, NAME_SIZE) + 60 + (
                text_width(note, NOTE_SIZE) + 16 if note else 0)
            size = (max(inner.w + 2 * _PAD, title), inner.h + _HEADER + _PAD)
        self.sizes[path] = size
        return size

    def slot_size(self, path: str) -> tuple[float, float]:
        """The space the state takes in its cluster's layout (its loops included)."""
        w, h = self.box_size(path)
        return w + self._loop_extra(path), max(h, self._loop_height(path))

    def place(self, container: str | None) -> _Placed:
        """Lay out the children of ``container`` (None: the top level)."""
        if container in self.placed:
            return self.placed[container]
        if container is None:
            children = [p for p, n in self.states.items() if n.parent is None]
        else:
            children = list(self.states[container].children)
        kind = self.states[container].kind if container else "compound"
        if kind == "parallel" and not self.by_container.get(container):
            placed = self._side_by_side(children)
        elif kind == "parallel":  # a transition between regions: lay them out with it
            placed = self._layered(children, self.by_container[container or ""], None)
        else:
            if container is None:
                initial: str | None = self.initial_top
            else:
                initial = self.states[container].initial
            placed = self._layered(children, self.by_container.get(container, []), initial)
        self.placed[container] = placed
        return placed

    def _side_by_side(self, regions: list[str]) -> _Placed:
        x = 0.0
        slots = {}
        height = 0.0
        for region in regions:
            w, h = self.slot_size(region)
            slots[region] = (x, 0.0)
            x += w + _GAP_X
            height = max(height, h)
        return _Placed(max(x - _GAP_X, 0.0), height, slots, [], [], [])

    def _layered(self, children: list[str], specs: list[_Spec],
                 initial: str | None) -> _Placed:
        vertices: dict[str, Vertex] = {}
        for child in children:
            v = Vertex(child)
            v.view = _View(*self.slot_size(child))
            vertices[child] = v
        edges: list[Edge] = []
        label_vertices: list[tuple[_Spec, Vertex, Edge, Edge]] = []
        for n, spec in enumerate(specs):
            lv = Vertex(f"\0label{n}")
            lv.view = _View(*_label_size(spec.label))
            e1 = Edge(vertices[spec.source], lv)
            e2 = Edge(lv, vertices[spec.target])
            for e in (e1, e2):
                e.view = _EdgeView()
            edges += [e1, e2]
            label_vertices.append((spec, lv, e1, e2))
        start_vertex = None
        if initial is not None and initial in vertices:
            start_vertex = Vertex("\0start")
            start_vertex.view = _View(_START, _START)
            e = Edge(start_vertex, vertices[initial])
            e.view = _EdgeView()
            edges.append(e)
        every = [*vertices.values(), *(lv for _, lv, _, _ in label_vertices)]
        if start_vertex is not None:
            every.insert(0, start_vertex)
        graph = Graph(every, edges)
        x_offset = 0.0
        bottom = 0.0
        for component in graph.C:
            members = list(component.sV)
            if len(members) == 1:
                v = members[0]
                v.view.xy = (v.view.w / 2, v.view.h / 2)
            else:
                sug = SugiyamaLayout(component)
                sug.xspace = _GAP_X
                sug.yspace = _GAP_Y
                sug.init_all(roots=[start_vertex] if start_vertex in members else None)
                sug.draw()
            left = min(v.view.xy[0] - v.view.w / 2 for v in members)
            top = min(v.view.xy[1] - v.view.h / 2 for v in members)
            shift = (x_offset - left, -top)
            for v in members:
                v.view.xy = (v.view.xy[0] + shift[0], v.view.xy[1] + shift[1])
            for e in component.sE:
                e.view.points = [(x + shift[0], y + shift[1]) for x, y in e.view.points]
            right = max(v.view.xy[0] + v.view.w / 2 for v in members)
            bottom = max(bottom, max(v.view.xy[1] + v.view.h / 2 for v in members))
            x_offset = right + _GAP_X * 1.5
        slots = {c: (v.view.xy[0] - v.view.w / 2, v.view.xy[1] - v.view.h / 2)
                 for c, v in vertices.items()}
        laid = []
        for spec, lv, e1, e2 in label_vertices:
            points = [*e1.view.points[:-1], lv.view.xy, *e2.view.points[1:]]
            box = (lv.view.xy[0] - lv.view.w / 2, lv.view.xy[1] - lv.view.h / 2,
                   lv.view.w, lv.view.h)
            laid.append((spec, points, box))
        starts = []
        if start_vertex is not None and initial is not None:
            starts.append((start_vertex.view.xy, initial))
        return _Placed(max(x_offset - _GAP_X * 1.5, 0.0), bottom, slots, laid, [], starts)

    # ---------------------------------------------------------------- absolute positions

    def build(self) -> Layout:
        top = self.place(None)
        margin = 16.0
        out = Layout(top.w + 2 * margin, top.h + 2 * margin)
        self._emit(None, margin, margin, out)
        return out

    def _emit(self, container: str | None, ox: float, oy: float, out: Layout) -> None:
        placed = self.place(container)
        for child, (sx, sy) in placed.children.items():
            node = self.states[child]
            w, h = self.box_size(child)
            if container and self.states[container].kind == "parallel":
                kind = "region"
            else:
                kind = node.kind
            out.boxes[child] = StateBox(
                child, child.rsplit(".", 1)[-1], kind, ox + sx, oy + sy, w, h,
                final=node.final, outcome=node.outcome, history=node.history,
                note=self.notes.get(child))
            if node.kind != "leaf":
                self._emit(child, ox + sx + _PAD + (w - 2 * _PAD - self.place(child).w) / 2,
                           oy + sy + _HEADER, out)
            self._emit_loops(child, out)
        for spec, points, (lx, ly, lw, lh) in placed.edges:
            src, tgt = out.boxes[spec.real_source], out.boxes[spec.real_target]
            inner = [(ox + x, oy + y) for x, y in points[1:-1]]
            first = _clip(src, inner[0] if inner else _centre(tgt))
            last = _clip(tgt, inner[-1] if inner else _centre(src))
            out.edges.append(EdgeLine(spec.real_source, spec.real_target, spec.trigger,
                                      spec.label, [first, *inner, last],
                                      (ox + lx, oy + ly, lw, lh), spec.dashed))
        for (cx, cy), target in placed.starts:
            dot = (ox + cx, oy + cy)
            out.starts.append((dot, [(dot[0], dot[1] + _START / 2),
                                     _clip(out.boxes[target], dot)]))

    def _emit_loops(self, path: str, out: Layout) -> None:
        box = out.boxes[path]
        y = box.y + 4
        for spec in self.loops.get(path, []):
            lw, lh = _label_size(spec.label)
            right = box.x + box.w
            top_y = y + 6
            bottom_y = min(y + lh, box.y + box.h - 4)
            if bottom_y - top_y < 10:
                bottom_y = top_y + 10
            out.edges.append(EdgeLine(
                spec.source, spec.target, spec.trigger, spec.label,
                [(right, top_y), (right + 18, top_y), (right + 18, bottom_y), (right, bottom_y)],
                (right + 22, y, lw, lh), spec.dashed, loop=True))
            y += lh + 6


def _label_size(label: tuple[str, ...]) -> tuple[float, float]:
    width = max((text_width(line, LABEL_SIZE) for line in label), default=0.0)
    return width + 10, _LINE * len(label) + 6


def _centre(box: StateBox) -> tuple[float, float]:
    return box.x + box.w / 2, box.y + box.h / 2


def _clip(box: StateBox, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from the centre of ``box`` toward a point leaves the box."""
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(box.w / 2 / abs(dx) if dx else float("inf"),
                box.h / 2 / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def layout_chart(states: Mapping[str, StateNode], initial: str,
                 edges: Sequence[tuple[str, str, str, tuple[str, ...], bool]],
                 notes: Mapping[str, str] | None = None) -> Layout:
    """Lay out a chart: ``edges`` are ``(source, target, trigger, label lines, dashed)``.

    ``notes`` adds one line of text to a state's box (metrics use it). The real ends of each
    transition are its declared source and target (the border of their boxes), whatever
    cluster level it was laid out at.
    """
    return _Chart(states, initial, edges, notes or {}).build()
