"""The journey runtime: start instances, send them events, fire their deadlines, migrate them.

::

    runtime = JourneyRuntime(MemoryJourneyStore(), [journey], actions=registry)
    inst = runtime.start("top-up", channel="app")
    result = runtime.send(inst, "choose_amount", {"amount": 10}, channel="web")
    result.state, result.actions, result.emitted

:meth:`JourneyRuntime.send` moves an instance held in memory; :meth:`JourneyRuntime.dispatch`
loads it from the store, moves it and saves it back with an optimistic version check, so two
workers cannot both move one instance (the second gets :class:`~telcoflow.errors.ConcurrencyError`).

Two engines choose the transition: ``"table"`` (default; a precompiled dispatch table, fast)
and ``"transitions"`` (the ``transitions`` machine of the definition, which defines the
semantics). A property test drives random event sequences through both and requires the same
states, actions and records.

Deadlines are data: a timeout is due at ``entered + after`` and fires only when
:meth:`JourneyRuntime.tick` runs (no threads); pass a :class:`~.instance.ManualClock` in tests.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from telcoflow.errors import (
    ArgumentError,
    ConcurrencyError,
    EventRejectedError,
    JourneyError,
    Problem,
)
from telcoflow.journeys.actions import Action, ActionRegistry
from telcoflow.journeys.definition import Journey
from telcoflow.journeys.instance import (
    MIGRATE_TRIGGER,
    START_TRIGGER,
    SYSTEM_CHANNEL,
    JourneyInstance,
    SendResult,
    system_clock,
)
from telcoflow.journeys.machine import JourneyMachine
from telcoflow.journeys.nodes import EVENTLESS, TIMEOUT_PREFIX, FlatTransition
from telcoflow.journeys.plan import DL_CLEAR, DL_REPLACE1, Plan, PlannedTransition, compile_plan
from telcoflow.journeys.store import JourneyStore
from telcoflow.ledger import storable_id
from telcoflow.tracing import traced_send

__all__ = ["ENGINES", "JourneyRuntime"]

ENGINES = ("table", "transitions")
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_EMPTY_ROW: Mapping[str, PlannedTransition] = MappingProxyType({})
#: At most this many eventless or completion microsteps follow one event.
_MAX_MICROSTEPS = 1000
_new = object.__new__


class JourneyRuntime:
    """Runs many journey instances (plain data) against compiled journey definitions.

    ``store`` keeps the instances (any :class:`~.store.JourneyStore`: the backends are in
    :mod:`telcoflow.stores`, such as :class:`~telcoflow.stores.memory.MemoryJourneyStore`);
    ``actions`` supplies the host's named actions; every action a registered journey lists
    must be present; ``clock`` is any callable returning POSIX seconds (default: the wall
    clock).

    A runtime may be shared by the threads of a process (a thread pool serving requests)
    once its journeys are registered: :meth:`dispatch` and :meth:`tick` load private copies,
    the stores shipped are thread-safe, and the ``transitions`` engine's machines are used
    under a lock. :meth:`send` moves the instance it is given: one thread per instance
    object. Several workers (threads or processes) share a store, and the store's version
    check keeps them from moving one instance twice.

    Each journey is compiled into a :class:`~.plan.Plan` when it is registered, with its
    actions resolved then (a registry never drops or replaces an action).
    """

    def __init__(self, store: JourneyStore, journeys: Iterable[Journey] = (), *,
                 actions: ActionRegistry | Mapping[str, Action] | None = None,
                 clock: Callable[[], float] | None = None, engine: str = "table") -> None:
        if engine not in ENGINES:
            raise ArgumentError(f"engine must be one of {ENGINES} (got {engine!r})")
        self.actions = actions if isinstance(actions, ActionRegistry) else ActionRegistry(
            actions)
        self.store: JourneyStore = store
        self.clock = clock or system_clock
        self.engine = engine
        self._table = engine == "table"
        self._plans: dict[tuple[str, int], Plan] = {}
        self._plan = Plan(None, self.actions.get)  # the previous event's plan (a cache)
        self._journeys: dict[tuple[str, int], Journey] = {}
        self._latest: dict[str, int] = {}
        self._machines: dict[tuple[str, int], JourneyMachine] = {}
        # a transitions machine moves one shared model: one event at a time
        self._machine_lock = threading.Lock()
        self._ids = itertools.count(1)
        for journey in journeys:
            self.register(journey)

    # ------------------------------------------------------------------ definitions

    def register(self, journey: Journey) -> None:
        """Add a journey version; its actions must be registered and its machine compiles."""
        missing = [a for a in journey.actions if a not in self.actions]
        if missing:
            problems = []
            for name in missing:
                line, col = (journey.document.locate(("actions",)) if journey.document
                             else (None, None))
                problems.append(Problem(
                    f"action `{name}` of journey {journey.id} v{journey.version} is not "
                    "registered (use ActionRegistry.action or the entry point group "
                    "telcoflow.journeys.actions)", "E-journey-action-missing", journey.file,
                    line, col, "$.actions"))
            raise JourneyError(problems)
        key = journey.key
        if key in self._journeys and self._journeys[key] is not journey:
            raise JourneyError([Problem(f"journey {journey.id} v{journey.version} is already "
                                        "registered", "E-journey-duplicate", journey.file)])
        self._machines[key] = JourneyMachine(journey)
        self._plans[key] = compile_plan(journey, self.actions.get,
                                        choose_all=not self._table)
        self._journeys[key] = journey
        self._latest[journey.id] = max(self._latest.get(journey.id, 0), journey.version)

    def journey(self, journey_id: str, version: int | None = None) -> Journey:
        """A registered journey (the latest version unless ``version`` is given)."""
        if version is None:
            version = self._latest.get(journey_id)
        found = self._journeys.get((journey_id, version or 0))
        if found is None:
            raise EventRejectedError(f"journey {journey_id!r} version {version} is not "
                                     "registered", reason="unknown-journey")
        return found

    # ------------------------------------------------------------------ instances

    def start(self, journey_id: str, *, channel: str, instance_id: str | None = None,
              context: Mapping[str, Any] | None = None, version: int | None = None,
              now: float | None = None) -> JourneyInstance:
        """Create an instance in the initial state (not saved; see :meth:`create`)."""
        journey = self.journey(journey_id, version)
        self._check_channel(journey, channel, instance_id)
        at = self.clock() if now is None else now
        ctx = dict(journey.context)
        if context:
            ctx.update(context)
        deadlines = tuple(sorted((at + after, s) for s, after in journey.initial_deadlines))
        iid = instance_id if instance_id is not None else f"{journey.id}-{next(self._ids)}"
        inst = JourneyInstance(iid, journey.id, journey.version, journey.initial, ctx,
                               [at, START_TRIGGER, journey.initial, sys.intern(channel)],
                               deadlines, dict(journey.initial_memory) or None)
        plan = self._plans[journey.key]
        if plan.initial_settle:
            self._settle(plan, inst, journey.initial_raises, at)
        return inst

    def create(self, journey_id: str, *, channel: str, instance_id: str | None = None,
               context: Mapping[str, Any] | None = None, version: int | None = None,
               ) -> JourneyInstance:
        """:meth:`start` an instance and add it to the store."""
        inst = self.start(journey_id, channel=channel, instance_id=instance_id,
                          context=context, version=version)
        self.store.create(inst)
        return inst

    def _check_channel(self, journey: Journey, channel: str, instance_id: str | None) -> None:
        if channel not in journey.channels and channel != SYSTEM_CHANNEL:
            raise EventRejectedError(
                f"channel {channel!r} is not one of {sorted(journey.channels)} "
                f"(journey {journey.id})", reason="unknown-channel", event_id=instance_id)

    @traced_send  # a telcoflow.journey.send span when a tracer is configured (no API: no wrapper)
    def send(self, instance: JourneyInstance, trigger: str,
             payload: Mapping[str, Any] | None = None, *, channel: str,
             now: float | None = None) -> SendResult:
        """Move ``instance`` (in place) with one event; return what happened.

        Raises :class:`~telcoflow.errors.EventRejectedError` (``reason``: ``finished``,
        ``unknown-trigger``, ``invalid-trigger``, ``unknown-channel``,
        ``unknown-payload-field``) and leaves the instance untouched. When triggers match but
        no guard holds, nothing moves and ``result.moved`` is False.
        """
        # The hot path: every check below is one lookup on the plan of the previous event's
        # journey; anything unusual (another journey, a finished instance, an unknown
        # channel) goes through _prepare, which raises in the documented order.
        plan = self._plan
        if (instance.journey_id != plan.id or instance.journey_version != plan.version
                or instance.outcome is not None):
            plan = self._prepare(instance, trigger)
        try:
            canonical = plan.channels[channel]
            step = plan.rows[instance.state][trigger]
        except (KeyError, TypeError):  # TypeError: an unhashable trigger or channel
            self._refuse(plan, instance, trigger, payload, channel)
            raise AssertionError from None  # pragma: no cover
        if payload:
            if type(payload) is not dict:
                _check_request(trigger, payload, channel, instance.id)
            if not step.fields.issuperset(payload):
                self._refuse(plan, instance, trigger, payload, channel)
        else:
            payload = _EMPTY
        if now is not None and (type(now) is not float or not math.isfinite(now)):
            _check_time(now, instance.id)
        if step.choose:
            chosen = self._choose(plan, step, instance, payload, channel, trigger)
            if chosen is None:
                return SendResult(instance.id, None, trigger, instance.state)
            step = chosen
        at = self.clock() if now is None else now
        if step.effects:
            # host actions first (they may refuse by raising: nothing changed yet), then the
            # payload, counters, the actions' updates and the history memory
            ctx = instance.context
            updates: dict[str, Any] | None = None
            fns = step.fns
            if fns:
                view = MappingProxyType(ctx)
                for fn in fns:
                    out = fn(context=view, payload=payload, instance_id=instance.id,
                             channel=channel, trigger=step.trigger)
                    if out:
                        if updates is None:
                            updates = dict(out)
                        else:
                            updates.update(out)
            if payload:
                ctx.update(payload)
            if step.increment:
                for counter in step.increment:
                    ctx[counter] = ctx.get(counter, 0) + 1
            if updates:
                ctx.update(updates)
            if step.memory_updates is not None:
                memory = instance.memory if instance.memory is not None else {}
                memory.update(step.memory_updates)
                instance.memory = memory
        elif payload:
            instance.context.update(payload)
        target = step.target
        instance.state = target
        instance.history.extend((at, step.trigger, target, canonical))
        op = step.deadline_op
        if op == DL_REPLACE1:
            instance.deadlines = ((at + step.after, step.deadline_state),)
        elif op:
            if op == DL_CLEAR:
                instance.deadlines = ()
                if step.outcome is not None:
                    instance.outcome = step.outcome
            else:
                instance.deadlines = step.new_deadlines(instance.deadlines, at)
        instance.version += 1
        # SendResult(instance.id, step.transition) without a Python __init__ call
        result = _new(SendResult)
        result.instance_id = instance.id
        result.transition = step.transition
        result._trigger = result._state = ""
        if step.settle:
            result._following = self._settle(plan, instance, step.raises, at)
        return result

    def _settle(self, plan: Plan, instance: JourneyInstance, raises: tuple[str, ...],
                at: float) -> tuple[FlatTransition, ...]:
        """Finish the macrostep (SCXML): eventless transitions first, then queued events.

        Each microstep taken here is recorded with its trigger (``@always`` or
        ``done.state.<path>``) on the ``system`` channel; its actions see the context as the
        previous microsteps left it.
        """
        queue = list(raises)
        taken: list[FlatTransition] = []
        for _ in range(_MAX_MICROSTEPS):
            if instance.outcome is not None:
                break
            inner = plan.inner.get(instance.state, _EMPTY_ROW)
            step: PlannedTransition | None = None
            first = inner.get(EVENTLESS)
            if first is not None:
                step = self._pick(plan, first, instance, EVENTLESS)
            while step is None and queue:
                event = queue.pop(0)
                first = inner.get(event)
                if first is not None:
                    step = self._pick(plan, first, instance, event)
            if step is None:
                break
            self._apply(instance, step, at)
            queue.extend(step.raises)
            taken.append(step.transition)
        else:
            raise EventRejectedError(
                f"instance {instance.id}: more than {_MAX_MICROSTEPS} eventless or completion "
                "steps in one macrostep (the guards of `always` transitions never stop "
                "holding)", reason="livelock", event_id=instance.id)
        return tuple(taken)

    def _pick(self, plan: Plan, first: PlannedTransition, instance: JourneyInstance,
              trigger: str) -> PlannedTransition | None:
        if not first.choose:
            return first
        return self._choose(plan, first, instance, _EMPTY, SYSTEM_CHANNEL, trigger)

    def _apply(self, instance: JourneyInstance, step: PlannedTransition, at: float) -> None:
        """Apply one internal step (the plain path of :meth:`send`, without a payload)."""
        ctx = instance.context
        updates: dict[str, Any] = {}
        view = MappingProxyType(ctx)
        for fn in step.fns:
            out = fn(context=view, payload=_EMPTY, instance_id=instance.id,
                     channel=SYSTEM_CHANNEL, trigger=step.trigger)
            if out:
                updates.update(out)
        for counter in step.increment:
            ctx[counter] = ctx.get(counter, 0) + 1
        ctx.update(updates)
        if step.memory_updates is not None:
            memory = instance.memory if instance.memory is not None else {}
            memory.update(step.memory_updates)
            instance.memory = memory
        instance.state = step.target
        instance.history.extend((at, step.trigger, step.target, SYSTEM_CHANNEL))
        if step.outcome is not None:
            instance.outcome = step.outcome
            instance.deadlines = ()
        else:
            instance.deadlines = step.new_deadlines(instance.deadlines, at)
        instance.version += 1

    def _choose(self, plan: Plan, first: PlannedTransition, instance: JourneyInstance,
                payload: Mapping[str, Any], channel: str, trigger: str) -> PlannedTransition | None:
        """The step the event takes among ``first``'s row, or None when no guard holds."""
        if self._table:
            for step in first.candidates:
                if not step.gated or step.allows(instance.memory, instance.context, payload,
                                                 channel, trigger):
                    return step
            return None
        with self._machine_lock:
            chosen = self._machines[(plan.id or "", plan.version)].choose(
                instance.state, trigger, _Allows(instance, payload, channel, trigger))
        return None if chosen is None else plan.steps[chosen.index]

    def _prepare(self, instance: JourneyInstance, trigger: str) -> Plan:
        """The plan of the instance's journey; refuse a finished instance."""
        key = (instance.journey_id, instance.journey_version)
        plan = self._plans.get(key)
        if plan is None:
            self.journey(*key)  # raises: not registered
            raise AssertionError  # pragma: no cover
        self._plan = plan
        if instance.outcome is not None:
            raise EventRejectedError(
                f"instance {instance.id} already finished ({instance.outcome}); "
                f"{trigger!r} refused", reason="finished", event_id=instance.id)
        return plan

    def _refuse(self, plan: Plan, instance: JourneyInstance, trigger: str,
                payload: Mapping[str, Any] | None, channel: str) -> None:
        """Raise the first reason to refuse the event, in the documented order."""
        _check_request(trigger, payload, channel, instance.id)
        if channel not in plan.channels:
            self._check_channel(self.journey(plan.id or "", plan.version), channel,
                                instance.id)
        declared = plan.payloads.get(trigger, frozenset())
        for key in payload or ():
            if key not in declared:
                raise EventRejectedError(
                    f"payload field {key!r} is not declared for trigger {trigger!r} "
                    f"(declared: {sorted(declared)}) in event for {instance.id}",
                    reason="unknown-payload-field", event_id=instance.id)
        if instance.state not in plan.rows:
            raise EventRejectedError(
                f"instance {instance.id} is in {instance.state!r}, which is not a state of "
                f"journey {plan.id} v{plan.version}", reason="unknown-state",
                event_id=instance.id)
        self._reject(plan, instance, trigger)

    def _reject(self, plan: Plan, instance: JourneyInstance, trigger: str) -> None:
        journey = self.journey(plan.id or "", plan.version)
        if trigger not in journey.triggers and not trigger.startswith(TIMEOUT_PREFIX):
            raise EventRejectedError(
                f"unknown trigger {trigger!r} for journey {journey.id} v{journey.version} "
                f"(instance {instance.id})", reason="unknown-trigger", event_id=instance.id)
        allowed = sorted(t for t in journey.table[instance.state] if t in journey.triggers)
        raise EventRejectedError(
            f"trigger {trigger!r} is not allowed in state {instance.state!r} of instance "
            f"{instance.id} (allowed: {allowed})", reason="invalid-trigger",
            event_id=instance.id)

    # ------------------------------------------------------------------ store-backed

    def dispatch(self, instance_id: str, trigger: str, payload: Mapping[str, Any] | None = None,
                 *, channel: str, now: float | None = None) -> SendResult:
        """Load, :meth:`send` and save with a version check (``ConcurrencyError`` if raced)."""
        if not storable_id(instance_id) or not instance_id:
            raise EventRejectedError(f"instance id must be non-empty text (got "
                                     f"{instance_id!r:.60})", reason="invalid",
                                     event_id=repr(instance_id)[:80])
        inst = self.store.load(instance_id)
        expected = inst.version
        result = self.send(inst, trigger, payload, channel=channel, now=now)
        if result.moved:
            self.store.save(inst, expected)
        return result

    def fire_due(self, instance: JourneyInstance, now: float) -> list[SendResult]:
        """Fire the deadlines of ``instance`` due at or before ``now``, earliest first."""
        results: list[SendResult] = []
        while instance.outcome is None and instance.deadlines and instance.deadlines[0][0] <= now:
            due, state = instance.deadlines[0]
            results.append(self.send(instance, TIMEOUT_PREFIX + state, channel=SYSTEM_CHANNEL,
                                     now=due))
        return results

    def tick(self, now: float | None = None) -> list[SendResult]:
        """Fire every deadline due in the store at ``now`` (default: the clock); save each.

        An instance another worker moved meanwhile is skipped (its deadlines are re-read the
        next tick). Returns the transitions taken.
        """
        at = self.clock() if now is None else now
        results: list[SendResult] = []
        for instance_id in self.store.due(at):
            inst = self.store.load(instance_id)
            expected = inst.version
            fired = self.fire_due(inst, at)
            if fired:
                try:
                    self.store.save(inst, expected)
                except ConcurrencyError:
                    continue
                results.extend(fired)
        return results

    def run_scheduler(self, *, interval: float = 1.0,
                      sleep: Callable[[float], None] = time.sleep,
                      stop: Callable[[], bool] = lambda: False,
                      on_fired: Callable[[list[SendResult]], None] | None = None) -> int:
        """Call :meth:`tick` every ``interval`` seconds until ``stop()`` is true.

        A plain loop in the caller's thread (no threads are started); run it in a worker
        process or task. Returns the number of transitions fired. Tests pass a ``sleep``
        that advances a :class:`~.instance.ManualClock`.
        """
        fired = 0
        while not stop():
            results = self.tick()
            fired += len(results)
            if results and on_fired is not None:
                on_fired(results)
            sleep(interval)
        return fired

    # ------------------------------------------------------------------ migrations

    def migrate(self, instance: JourneyInstance, to_version: int, *,
                now: float | None = None) -> JourneyInstance:
        """Move a running instance to ``to_version`` of its journey (in place).

        The target version must declare ``migrations: [{from_version: N, states: {...}}]``;
        each active leaf state is mapped (unmapped leaves keep their name) and the result must
        be a configuration of the new version. Deadlines of the new states restart at ``now``.
        """
        old = self.journey(instance.journey_id, instance.journey_version)
        new = self.journey(instance.journey_id, to_version)
        if instance.outcome is not None:
            raise EventRejectedError(f"instance {instance.id} already finished",
                                     reason="finished", event_id=instance.id)
        mapping = new.migrations.get(old.version)
        if mapping is None:
            raise EventRejectedError(
                f"journey {new.id} v{new.version} declares no migration from v{old.version}",
                reason="no-migration", event_id=instance.id)
        leaves = [mapping.get(leaf, leaf) for leaf in old.leaves(instance.state)]
        order = {s: n.order for s, n in new.states.items()}
        if any(leaf not in order for leaf in leaves):
            config = "+".join(leaves)
        else:
            config = "+".join(sorted(set(leaves), key=order.__getitem__))
        if config not in new.table:
            raise EventRejectedError(
                f"state {instance.state!r} of v{old.version} maps to {config!r}, which is not "
                f"a state of v{new.version} (instance {instance.id})", reason="bad-migration",
                event_id=instance.id)
        at = self.clock() if now is None else now
        state = next(c for c in new.configurations if c == config)  # the interned name
        active = set(new.active_states(state))
        instance.deadlines = tuple(sorted(
            (at + (new.states[s].timeout or 0.0), s) for s in active
            if new.states[s].timeout is not None))
        if instance.memory:
            memory = {k: v for k, v in instance.memory.items() if k in new.states and all(
                leaf in new.states for leaf in v.split("+"))}
            instance.memory = memory or None
        instance.journey_version = new.version
        instance.state = state
        instance.history += (at, MIGRATE_TRIGGER, state, SYSTEM_CHANNEL)
        instance.version += 1
        return instance


class _Allows:
    """Guard predicate handed to the ``transitions`` engine (same rules as the table)."""

    __slots__ = ("channel", "instance", "payload", "scope", "trigger")

    def __init__(self, instance: JourneyInstance, payload: Mapping[str, Any], channel: str,
                 trigger: str) -> None:
        self.instance = instance
        self.payload = payload
        self.channel = channel
        self.trigger = trigger
        self.scope: dict[str, Any] | None = None

    def __call__(self, t: FlatTransition) -> bool:
        if t.memory_conditions and not t.memory_allows(self.instance.memory):
            return False
        check = t.check
        if check is None:
            return True
        if self.scope is None:
            self.scope = {**self.instance.context, **self.payload, "channel": self.channel,
                          "trigger": self.trigger}
        return bool(check(self.scope))


def _check_request(trigger: object, payload: object, channel: object, instance_id: str) -> None:
    """Refuse (reason ``invalid``) a trigger or channel that is not text, or a payload that
    is not a mapping of text keys: what a caller sends is checked, never trusted."""
    problem = None
    if not storable_id(trigger):
        problem = f"the trigger must be text (got {trigger!r:.60})"
    elif not storable_id(channel):
        problem = f"the channel must be text (got {channel!r:.60})"
    elif payload is not None and not (isinstance(payload, Mapping)
                                      and all(storable_id(k) for k in payload)):
        problem = f"the payload must be a mapping of text keys (got {payload!r:.60})"
    if problem is not None:
        raise EventRejectedError(f"{problem} in event for {instance_id}", reason="invalid",
                                 event_id=instance_id)


#: the largest whole number of seconds a time may be (any store keeps it exactly)
_MAX_EXACT = 2 ** 53


def _check_time(now: object, instance_id: str) -> None:
    """Refuse a time that is not a finite number of seconds (reason ``invalid``)."""
    if (type(now) is int and abs(now) < _MAX_EXACT) or (type(now) is float
                                                        and math.isfinite(now)):
        return
    raise EventRejectedError(f"`now` must be a finite number of seconds (got {now!r:.60}) "
                             f"in event for {instance_id}", reason="invalid",
                             event_id=instance_id)
