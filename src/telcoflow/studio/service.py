"""What the studio does, without HTTP: check and draw, save, simulate, path tests, metrics.

:class:`Studio` holds the journey files it serves and the simulations in progress; the web
layer (:mod:`.app`) only turns requests into calls of its methods and results into JSON.
Every result is plain data (``dict``/``list``/``str``), ready for JSON.
"""

from __future__ import annotations

import io
import json
import os
import re
import runpy
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import DefinitionError, Problem, StudioError, TelcoflowError
from telcoflow.journeys.compiled import Journey
from telcoflow.journeys.drawing import to_svg
from telcoflow.journeys.instance import SYSTEM_CHANNEL, ManualClock, SendResult
from telcoflow.journeys.loader import load_journey, parse_journey
from telcoflow.journeys.metrics import (
    JourneyMetrics,
    journey_metrics,
    metrics_charts_html,
    state_notes,
)
from telcoflow.journeys.nodes import DONE_PREFIX, EVENTLESS, TIMEOUT_PREFIX, FlatTransition
from telcoflow.journeys.paths import JourneyPath, PathStep
from telcoflow.journeys.runtime import JourneyRuntime
from telcoflow.loading.source import iter_yaml_files
from telcoflow.stores.memory import MemoryJourneyStore
from telcoflow.testing.journeys import journey_paths, noop_actions, run_journey_path

with requires("studio", "the journey studio"):
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

__all__ = ["Simulation", "Studio"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,60}")


def _problem(p: Problem, level: str) -> dict[str, Any]:
    return {"line": p.line or 1, "col": p.column or 1, "level": level, "code": p.code,
            "path": p.path, "message": p.message}


def _check_text(text: str, file: str) -> tuple[Journey | None, list[dict[str, Any]]]:
    """Compile ``text``; return the journey (None when it has errors) and every problem."""
    try:
        journey = parse_journey(text, file)
    except DefinitionError as exc:
        return None, [_problem(p, "error") for p in exc.problems]
    return journey, [_problem(p, "warning") for p in journey.warnings]


def _round_trip(text: str, file: str) -> str:
    """``text`` through a round-trip YAML load and dump: comments and key order kept.

    Raises :class:`~telcoflow.errors.StudioError` at the YAML error's line and column.
    """
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    try:
        data = yaml.load(text)
        out = io.StringIO()
        yaml.dump(data, out)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise StudioError(f"{where}: not saved, the YAML does not parse: {exc.problem}"
                          ) from None
    except YAMLError as exc:
        raise StudioError(f"{file}: not saved, the YAML does not parse: {exc}") from None
    return out.getvalue()


def _channel(journey: Journey) -> str:
    return "app" if not journey.channels or "app" in journey.channels else sorted(
        journey.channels)[0]


@dataclass
class Simulation:
    """One simulated instance: a runtime with a test clock, the instance and its steps."""

    id: str
    journey: Journey
    file: Path
    channel: str
    clock: ManualClock
    runtime: JourneyRuntime
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: The path so far (moved steps only) and the payload of each sent (non-timeout) step.
    path: list[PathStep] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    #: The last transition taken (highlighted on the diagram).
    last: FlatTransition | None = None

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self.instance = self.runtime.start(self.journey.id, channel=self.channel)

    def _record(self, result: SendResult, before: str, payload: Mapping[str, Any] | None,
                channel: str) -> None:
        t = result.transition
        self.steps.append({
            "n": len(self.steps) + 1, "trigger": result.trigger if t else "",
            "payload": dict(payload or {}), "channel": channel, "from": before,
            "to": self.instance.state, "moved": result.moved,
            "at": round(self.clock() - self.started_at, 3),
            "actions": list(result.actions), "emitted": list(result.emitted),
        })
        if result.moved and t is not None:
            self.last = t
            self.path.append(PathStep(t.trigger, before, self.instance.state, t.guard,
                                      t.index))
            if not t.trigger.startswith(TIMEOUT_PREFIX):
                self.payloads.append(dict(payload or {}))

    def send(self, trigger: str, payload: Mapping[str, Any] | None = None,
             channel: str | None = None) -> dict[str, Any]:
        """Send one event; a refused event raises (the instance is left untouched)."""
        if not isinstance(trigger, str) or not trigger:
            raise StudioError("an event needs a trigger name (got nothing)")
        if trigger.startswith(("@", DONE_PREFIX)):
            raise StudioError(f"`{trigger}` is raised by the journey itself; advance the "
                              "clock to fire a timeout")
        channel = channel or self.channel
        before = self.instance.state
        result = self.runtime.send(self.instance, trigger, dict(payload or {}),
                                   channel=channel)
        if not result.moved:
            self.steps.append({
                "n": len(self.steps) + 1, "trigger": trigger, "payload": dict(payload or {}),
                "channel": channel, "from": before, "to": before, "moved": False,
                "at": round(self.clock() - self.started_at, 3), "actions": [],
                "emitted": [], "note": "no guard held: nothing moved"})
        else:
            self._record(result, before, payload, channel)
        return self.view()

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the test clock forward and fire every deadline that falls due."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
                0 < seconds <= 10 * 365 * 86400):
            raise StudioError(f"the clock advances by a number of seconds between 0 and ten "
                              f"years (got {seconds!r})")
        now = self.clock.advance(float(seconds))
        while (self.instance.outcome is None and self.instance.deadlines
               and self.instance.deadlines[0][0] <= now):
            due, state = self.instance.deadlines[0]
            before = self.instance.state
            result = self.runtime.send(self.instance, TIMEOUT_PREFIX + state,
                                       channel=SYSTEM_CHANNEL, now=due)
            self._record(result, before, None, SYSTEM_CHANNEL)
        return self.view()

    def enabled(self) -> list[dict[str, Any]]:
        """The events the journey listens to in its current configuration."""
        if self.instance.outcome is not None:
            return []
        row = self.journey.table.get(self.instance.state, {})
        out = []
        for trigger, candidates in sorted(row.items()):
            if trigger.startswith((TIMEOUT_PREFIX, DONE_PREFIX)) or trigger == EVENTLESS:
                continue
            out.append({"trigger": trigger,
                        "payload": list(self.journey.triggers.get(trigger, ())),
                        "guards": sorted({g for t in candidates for g in t.guards}),
                        "targets": sorted({t.target for t in candidates})})
        return out

    def view(self) -> dict[str, Any]:
        """The simulation as the page shows it (the diagram highlights the configuration)."""
        inst = self.instance
        active = self.journey.active_states(inst.state)
        taken = None
        if self.last is not None:
            taken = (self.last.declared_on, self.last.trigger, self.last.target)
        return {
            "id": self.id, "journey": self.journey.id, "version": self.journey.version,
            "state": inst.state, "active": list(active), "outcome": inst.outcome,
            "context": {k: v for k, v in inst.context.items()
                        if isinstance(v, (str, int, float, bool)) or v is None},
            "clock": round(self.clock() - self.started_at, 3),
            "deadlines": [{"state": s, "in": round(due - self.clock(), 3)}
                          for due, s in inst.deadlines],
            "enabled": self.enabled(), "steps": list(self.steps),
            "path_length": len(self.path),
            "svg": to_svg(self.journey, active=active, taken=taken, standalone=False),
        }

    def path_test_source(self, name: str, test_file: Path) -> str:
        """The path so far as a pytest module run by :func:`run_journey_path`."""
        journey_ref = Path(os.path.relpath(self.file.resolve(), test_file.parent.resolve()))
        steps = "".join(f"    PathStep({s.trigger!r}, {s.source!r}, {s.target!r}, "
                        f"{s.guard!r}, {s.index}),\n" for s in self.path)
        func = re.sub(r"\W", "_", f"test_{self.journey.id}_{name}")
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f'"""Path test of journey {self.journey.id} v{self.journey.version}: {name}.\n\n'
            f"Saved by `telcoflow studio` on {stamp} from a simulation; run it with pytest.\n"
            '"""\n\n'
            "from pathlib import Path\n\n"
            "from telcoflow.journeys import JourneyRuntime, load_journey\n"
            "from telcoflow.journeys.paths import JourneyPath, PathStep\n"
            "from telcoflow.stores.memory import MemoryJourneyStore\n"
            "from telcoflow.testing.journeys import ManualClock, noop_actions, "
            "run_journey_path\n\n"
            f"JOURNEY_FILE = Path(__file__).parent / {journey_ref.as_posix()!r}\n"
            f"PATH = JourneyPath({self.journey.id!r}, {self.journey.version}, "
            f"{'studio:' + name!r}, (\n{steps}))\n"
            "#: The payload of each event the path sends (timeouts send none), in order.\n"
            f"PAYLOADS = {self.payloads!r}\n"
            f"CHANNEL = {self.channel!r}\n\n\n"
            f"def {func}() -> None:\n"
            "    journey = load_journey(JOURNEY_FILE)\n"
            "    runtime = JourneyRuntime(MemoryJourneyStore(), [journey],\n"
            "                             actions=noop_actions(journey), clock=ManualClock())\n"
            "    payloads = iter(PAYLOADS)\n"
            "    inst = run_journey_path(runtime, PATH, channel=CHANNEL,\n"
            "                            payloads=lambda step: next(payloads))\n"
            f"    assert inst.state == {self.instance.state!r}\n"
            f"    assert inst.outcome == {self.instance.outcome!r}\n"
        )


class Studio:
    """The journey files a studio serves, and the simulations in progress.

    ``tests_dir`` is where path tests are saved (default: a ``tests`` folder beside each
    journey file); ``store_url`` is the journey store the metrics view opens first.
    """

    def __init__(self, paths: Sequence[str | Path], *, tests_dir: Path | None = None,
                 store_url: str | None = None) -> None:
        files = [p.resolve() for p in iter_yaml_files([Path(p) for p in paths])]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise StudioError(f"no such journey file: {', '.join(missing)}")
        if not files:
            raise StudioError(f"no journey file (*.yaml) under {', '.join(map(str, paths))}")
        self.files = files
        self.tests_dir = tests_dir
        self.store_url = store_url
        self.simulations: dict[str, Simulation] = {}

    # ---------------------------------------------------------------- files

    def file(self, index: int) -> Path:
        """The journey file at ``index`` (as listed by :meth:`listing`)."""
        if not 0 <= index < len(self.files):
            raise StudioError(f"no journey file number {index} (the studio serves "
                              f"{len(self.files)})")
        return self.files[index]

    def listing(self) -> list[dict[str, Any]]:
        """Every file with its journey's id and title (or its first problem)."""
        out = []
        for n, path in enumerate(self.files):
            item: dict[str, Any] = {"index": n, "file": str(path), "name": path.name}
            try:
                j = load_journey(path)
                item.update(id=j.id, title=j.title or j.id, version=j.version, ok=True)
            except TelcoflowError as exc:
                item.update(id=path.stem, title=path.stem, ok=False,
                            problem=str(exc).splitlines()[-1].strip())
            out.append(item)
        return out

    def text(self, index: int) -> str:
        """The file's text as saved."""
        return self.file(index).read_text(encoding="utf-8")

    def check(self, index: int, text: str) -> dict[str, Any]:
        """Compile ``text`` as the file's new content: the drawing and every problem."""
        path = self.file(index)
        journey, problems = _check_text(text, path.name)
        out: dict[str, Any] = {"ok": journey is not None, "problems": problems}
        if journey is not None:
            out.update(svg=to_svg(journey, active=(), standalone=False), id=journey.id,
                       title=journey.title or journey.id, version=journey.version,
                       states=len(journey.states), configurations=len(journey.configurations))
        return out

    def save(self, index: int, text: str) -> dict[str, Any]:
        """Write ``text`` to the file through a round-trip YAML dump (comments, key order kept).

        A text with journey problems is saved too (a designer may save work in progress);
        the problems are returned. YAML that does not parse is refused.
        """
        path = self.file(index)
        written = _round_trip(text, path.name)
        path.write_text(written, encoding="utf-8")
        result = self.check(index, written)
        result.update(saved=str(path), text=written)
        return result

    # ---------------------------------------------------------------- simulation

    def _journey(self, index: int, text: str | None) -> Journey:
        path = self.file(index)
        if text is None:
            return load_journey(path)
        journey, problems = _check_text(text, path.name)
        if journey is None:
            first = problems[0]
            raise StudioError(f"{path.name}:{first['line']}:{first['col']}: the journey has "
                              f"{len(problems)} problem(s); fix them to simulate "
                              f"({first['message']})")
        return journey

    def start(self, index: int, text: str | None = None,
              channel: str | None = None) -> dict[str, Any]:
        """Start a simulation of the file's journey (``text``: the editor's unsaved text)."""
        journey = self._journey(index, text)
        clock = ManualClock()
        runtime = JourneyRuntime(MemoryJourneyStore(), [journey], actions=noop_actions(journey),
                                 clock=clock)
        sim = Simulation(secrets.token_hex(6), journey, self.file(index),
                         channel or _channel(journey), clock, runtime)
        if len(self.simulations) > 200:  # a local tool: keep the newest ones
            self.simulations.pop(next(iter(self.simulations)))
        self.simulations[sim.id] = sim
        return sim.view()

    def simulation(self, sim_id: str) -> Simulation:
        """A running simulation by id."""
        try:
            return self.simulations[sim_id]
        except KeyError:
            raise StudioError(f"no simulation {sim_id!r} (the studio was restarted?); "
                              "start a new one") from None

    def tests_folder(self, index: int) -> Path:
        """Where the path tests of the file's journey are saved."""
        return self.tests_dir or self.file(index).parent / "tests"

    def save_path_test(self, sim_id: str, name: str) -> dict[str, Any]:
        """Save the simulation's path as a pytest module; return its path and source."""
        sim = self.simulation(sim_id)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise StudioError("a path test name is letters, digits, '_' or '-' (at most 61, "
                              f"starting with a letter or digit; got {name!r})")
        if not sim.path:
            raise StudioError("the simulation has taken no step yet: nothing to save")
        index = self.files.index(sim.file)
        folder = self.tests_folder(index)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"\W", "_", f"{sim.journey.id}_{name}")
        target = folder / f"test_{stem}.py"
        source = sim.path_test_source(name, target)
        target.write_text(source, encoding="utf-8")
        return {"file": str(target), "source": source, "steps": len(sim.path)}

    # ---------------------------------------------------------------- path tests

    def paths(self, index: int, text: str | None = None) -> dict[str, Any]:
        """Generated paths (every state, every transition) and the saved path tests."""
        journey = self._journey(index, text)
        generated = [{"kind": kind, "id": p.id, "goal": p.goal,
                      "steps": [s.trigger for s in p.steps]}
                     for kind in ("states", "transitions") for p in journey_paths(journey, kind)]
        return {"generated": generated, "saved": [str(f) for f in self._saved(index, journey)]}

    def _saved(self, index: int, journey: Journey) -> list[Path]:
        folder = self.tests_folder(index)
        stem = re.sub(r"\W", "_", journey.id)
        return sorted(folder.glob(f"test_{stem}_*.py")) if folder.is_dir() else []

    def run_paths(self, index: int, text: str | None = None,
                  payloads: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run every generated path (with ``payloads`` by trigger) and every saved test."""
        journey = self._journey(index, text)
        if payloads is not None and not (isinstance(payloads, Mapping) and all(
                isinstance(v, Mapping) for v in payloads.values())):
            raise StudioError('payloads map a trigger to its payload, such as {"choose_amount":'
                              ' {"amount": 10}}')
        results = []
        for kind in ("states", "transitions"):
            for p in journey_paths(journey, kind):
                results.append({"kind": kind, "id": p.id, **_run_generated(
                    journey, p, payloads or {})})
        for test_file in self._saved(index, journey):
            results.extend(_run_saved(test_file))
        passed = sum(r["passed"] for r in results)
        return {"results": results, "passed": passed, "failed": len(results) - passed}

    # ---------------------------------------------------------------- metrics

    def metrics(self, index: int, store_url: str | None) -> dict[str, Any]:
        """Metrics of the file's journey over the instances of a journey store."""
        from telcoflow.config import open_journey_store

        url = store_url or self.store_url
        if not url:
            raise StudioError("give a journey store URL (sqlite:///path or postgresql://...)")
        journey = load_journey(self.file(index))
        store = open_journey_store(url)
        try:
            m = journey_metrics(journey, store.instances(journey.id))
        finally:
            close = getattr(store, "close", None)
            if callable(close):
                close()
        return {"store": url, "started": m.started, "metrics": _plain(m),
                "svg": to_svg(journey, notes=state_notes(m), standalone=False),
                "charts": metrics_charts_html(m)}


def _plain(m: JourneyMetrics) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(m.to_dict(), default=str))
    return plain


def _run_generated(journey: Journey, path: JourneyPath,
                   payloads: Mapping[str, Any]) -> dict[str, Any]:
    runtime = JourneyRuntime(MemoryJourneyStore(), [journey], actions=noop_actions(journey),
                             clock=ManualClock())
    try:
        inst = run_journey_path(runtime, path, channel=_channel(journey),
                                payloads={k: dict(v) for k, v in payloads.items()})
    except (AssertionError, TelcoflowError) as exc:
        return {"passed": False, "message": str(exc).splitlines()[0] if str(exc) else
                type(exc).__name__}
    return {"passed": True, "message": f"ended in {inst.state}"}


def _run_saved(test_file: Path) -> list[dict[str, Any]]:
    """Run the ``test_*`` functions of a saved path test module (as pytest would call them)."""
    try:
        namespace = runpy.run_path(str(test_file))
    except Exception as exc:  # a broken module is a failed test, shown with its reason
        return [{"kind": "saved", "id": test_file.name, "passed": False,
                 "message": f"{type(exc).__name__}: {exc}"}]
    out = []
    for name, func in namespace.items():
        if not (name.startswith("test_") and callable(func)):
            continue
        try:
            func()
        except Exception as exc:
            out.append({"kind": "saved", "id": f"{test_file.name}::{name}", "passed": False,
                        "message": f"{type(exc).__name__}: {exc}"})
        else:
            out.append({"kind": "saved", "id": f"{test_file.name}::{name}", "passed": True,
                        "message": "passed"})
    return out
