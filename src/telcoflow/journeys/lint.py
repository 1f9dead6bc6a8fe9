"""Business checks of a journey, as lint with levels (``error``, ``warning``, ``off``).

A statechart is valid without them; a journey that runs customers usually wants them. Each
check has a default level, overridden per journey with ``lint: {check: level}`` (``*`` sets
every check). An ``error`` stops the load; a ``warning`` is kept on
:attr:`Journey.warnings <telcoflow.journeys.definition.Journey.warnings>` (code ``W-...``).

=============  =======  ==========================================================
check          default  what it reports
=============  =======  ==========================================================
unreachable    error    a state no configuration reachable from the start contains
trap           error    a configuration that is not final and that no event leaves
no-final       error    a configuration from which no final state is reachable
                        (only when the journey declares a final state)
finishes       warning  the journey declares no final state at all
on-done        warning  a parallel state whose every region has a final state but
                        that nothing handles ``done.state`` for
=============  =======  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from telcoflow._optional import requires
from telcoflow.errors import Problem
from telcoflow.journeys.builder import Builder
from telcoflow.journeys.nodes import DONE_PREFIX, FlatTransition, descriptor_matches

with requires("journeys", "journeys"):
    import networkx as nx

__all__ = ["CHECKS", "LEVELS", "run_checks"]

#: Check name -> default level.
CHECKS: Mapping[str, str] = {
    "unreachable": "error", "trap": "error", "no-final": "error", "finishes": "warning",
    "on-done": "warning",
}
LEVELS = ("error", "warning", "off")


class _Lint:
    def __init__(self, b: Builder) -> None:
        self.b = b
        self.levels = {name: b.spec.lint.get(name, b.spec.lint.get("*", level))
                       for name, level in CHECKS.items()}
        self.warnings: list[Problem] = []
        for name in b.spec.lint:
            if name != "*" and name not in CHECKS:
                b.problem(("lint", name), f"unknown check `{name}` (one of "
                          f"{', '.join(sorted(CHECKS))}, or `*`)", "E-journey-lint")

    def report(self, check: str, where: tuple[str | int, ...], message: str) -> None:
        level = self.levels[check]
        if level == "error":
            self.b.problem(where, message, f"E-journey-{check}")
        elif level == "warning":
            self.warnings.append(self.b.doc.problem(where, message, f"W-journey-{check}"))


def run_checks(b: Builder, initial: str, flat: Sequence[FlatTransition],
               configs: set[str], entered: Set[str] = frozenset(),
               ) -> tuple[dict[str, str], list[Problem]]:
    """Run the checks; errors go to ``b.problems``. Returns (outcomes, warnings).

    ``entered``: states some microstep enters without a configuration holding them (passed
    through within a macrostep): they count as reachable.
    """
    lint = _Lint(b)
    states = b.states
    outcomes = {c: states[c].outcome or "" for c in configs
                if "+" not in c and states[c].outcome is not None}
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(configs)
    g.add_edges_from((t.source, t.target) for t in flat)
    active: set[str] = set(entered)
    for c in configs:
        for leaf in c.split("+"):
            cur: str | None = leaf
            while cur is not None:
                active.add(cur)
                cur = states[cur].parent
    for path, state in states.items():
        if path not in active:
            lint.report("unreachable", state.yaml_path,
                        f"state `{path}` is unreachable from the initial state")
    can_finish: set[str] = set()
    declares_final = any(n.outcome is not None for n in states.values())
    for final in outcomes:
        can_finish |= nx.ancestors(g, final) | {final}
    for c in sorted(configs, key=lambda c: [states[s].order for s in c.split("+")]):
        if c in outcomes:
            continue
        where = states[c.split("+")[0]].yaml_path
        if g.out_degree(c) == 0:
            lint.report("trap", where, f"trap state `{c}`: not final and no transition "
                        "leaves it")
        elif declares_final and c not in can_finish:
            lint.report("no-final", where, f"no final state is reachable from `{c}`")
    if not outcomes and initial:
        lint.report("no-final" if declares_final else "finishes", ("states",),
                    "the journey has no reachable final state (a "
                    "top-level state with an `outcome` or `final: true`): instances never "
                    "finish")
    for path, node in states.items():
        if node.kind != "parallel" or not node.children:
            continue
        finals = all(any(states[d].final for d in states if d.startswith(r + "."))
                     for r in node.children)
        handled = any(descriptor_matches(d, DONE_PREFIX + path)
                      for ts in b.chart_transitions.values() for t in ts for d in t.events)
        if finals and not handled:
            lint.report("on-done", node.yaml_path, f"parallel state `{path}` has a final "
                        "state in every region but no `on_done`")
    return outcomes, lint.warnings
