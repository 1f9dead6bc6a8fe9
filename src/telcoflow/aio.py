"""asyncio façades for the entry points a service calls: ingest, online charging, journey sends.

Each façade owns **one worker thread** and runs every call of the object it wraps there, one
at a time and in the order they were made: the event loop never blocks on a store commit or
a rating, and the wrapped :class:`~telcoflow.billing.realtime.RealtimeBilling`,
:class:`~telcoflow.billing.charging.OnlineCharging` or
:class:`~telcoflow.journeys.runtime.JourneyRuntime` needs no lock (only that thread touches
it). Build the wrapped object on that thread with :meth:`create` when its store must stay on
the thread that opened it (SQLite connections do).

* **Errors pass through unchanged**: what the synchronous call raises
  (:class:`~telcoflow.errors.EventRejectedError`, :class:`~telcoflow.errors.RatingError`...)
  is raised by the ``await``, the same object.
* **Cancellation never loses or doubles an event.** A call, once made, is queued on the
  worker and runs to its end there even when the awaiting task is cancelled: the batch
  commits (or a charge is written) exactly once, and the cancelled caller gets
  :class:`asyncio.CancelledError` without the result. To learn what happened, send the same
  events again: ingest and event charges are claimed by event id, so a replay is a duplicate
  and a no-op (``accepted`` counts it, nothing is posted twice).
* **Clean shutdown**: ``async with`` (or :meth:`aclose`) waits for every call already made,
  then stops the thread; later calls raise :class:`~telcoflow.errors.ClosedError`. Stores
  stay open: they belong to whoever opened them.

::

    async with AsyncRealtimeBilling(billing) as ingest:
        result = await ingest.process(events)
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Generic, TypeVar

from telcoflow.billing.charging import Commit, EventCharge, Grant, OnlineCharging, Reservation
from telcoflow.billing.realtime import BatchResult, RealtimeBilling, StreamTotals
from telcoflow.errors import ClosedError
from telcoflow.events import Event, UsageEvent
from telcoflow.journeys.instance import JourneyInstance, SendResult
from telcoflow.journeys.runtime import JourneyRuntime

__all__ = ["AsyncJourneyRuntime", "AsyncOnlineCharging", "AsyncRealtimeBilling"]

T = TypeVar("T")
W = TypeVar("W")
Self = TypeVar("Self", bound="_Facade[Any]")


def _retrieve(future: Future[Any]) -> None:
    """Mark a finished call's outcome as seen (its caller may have been cancelled)."""
    if not future.cancelled():
        future.exception()


class _Facade(Generic[W]):
    """One worker thread running every call on the wrapped object, in order."""

    def __init__(self, wrapped: W, *, _executor: ThreadPoolExecutor | None = None) -> None:
        #: the synchronous object the calls run on (touch it only from the worker thread)
        self.wrapped = wrapped
        self._executor = _executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"telcoflow-{type(self).__name__}")
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    async def create(cls: type[Self], factory: Callable[[], Any]) -> Self:
        """A façade over ``factory()``, called on the façade's own worker thread (so that a
        store it opens lives on the thread that will use it)."""
        executor = ThreadPoolExecutor(max_workers=1,
                                      thread_name_prefix=f"telcoflow-{cls.__name__}")
        try:
            wrapped = await asyncio.wrap_future(executor.submit(factory))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(wrapped, _executor=executor)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:  # no submit after close has begun
            if self._closed:
                raise ClosedError(f"{type(self).__name__} is closed: no more calls")
            future = self._executor.submit(functools.partial(fn, *args, **kwargs))
        future.add_done_callback(_retrieve)
        # shielded: cancelling the caller never cancels a queued or running call
        return await asyncio.shield(asyncio.wrap_future(future))

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Refuse new calls, wait for those already made, stop the worker thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            last = self._executor.submit(lambda: None)  # runs after every earlier call
        await asyncio.shield(asyncio.wrap_future(last))
        self._executor.shutdown(wait=False)

    async def __aenter__(self: Self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


class AsyncRealtimeBilling(_Facade[RealtimeBilling]):
    """Ingest of usage events without blocking the event loop (see the module docstring)."""

    async def process(self, events: Sequence[Event]) -> BatchResult:
        """:meth:`RealtimeBilling.process` on the worker thread: one batch, one commit."""
        return await self._call(self.wrapped.process, list(events))

    async def stream(self, events: Iterable[Event], *, batch_size: int = 1000) -> StreamTotals:
        """:meth:`RealtimeBilling.stream` on the worker thread (the iterable is read there)."""
        return await self._call(self.wrapped.stream, events, batch_size=batch_size)


class AsyncOnlineCharging(_Facade[OnlineCharging]):
    """Online charging (reserve, commit, event charges) without blocking the event loop."""

    async def initial(self, session_id: str, subscriber: str, rating_group: int,
                      requested: Decimal, now: datetime, *, zone: str = "home") -> Grant:
        """:meth:`OnlineCharging.initial`: reserve units (CCR-Initial)."""
        return await self._call(self.wrapped.initial, session_id, subscriber, rating_group,
                                requested, now, zone=zone)

    async def update(self, session_id: str, rating_group: int, used: Decimal,
                     requested: Decimal, now: datetime) -> tuple[Commit, Grant]:
        """:meth:`OnlineCharging.update`: commit the units used, reserve again (CCR-Update)."""
        return await self._call(self.wrapped.update, session_id, rating_group, used,
                                requested, now)

    async def terminate(self, session_id: str, rating_group: int, used: Decimal,
                        now: datetime) -> Commit:
        """:meth:`OnlineCharging.terminate`: commit the last units (CCR-Terminate)."""
        return await self._call(self.wrapped.terminate, session_id, rating_group, used, now)

    async def charge_event(self, event: UsageEvent) -> EventCharge:
        """:meth:`OnlineCharging.charge_event`: charge a whole event now or refuse it."""
        return await self._call(self.wrapped.charge_event, event)

    async def expire(self, now: datetime) -> list[Reservation]:
        """:meth:`OnlineCharging.expire`: release reservations past their validity."""
        return await self._call(self.wrapped.expire, now)


class AsyncJourneyRuntime(_Facade[JourneyRuntime]):
    """Journey sends without blocking the event loop (instances stay plain data)."""

    async def send(self, instance: JourneyInstance, trigger: str,
                   payload: Mapping[str, Any] | None = None, *, channel: str,
                   now: float | None = None) -> SendResult:
        """:meth:`JourneyRuntime.send`: move ``instance`` (in place) on the worker thread."""
        return await self._call(self.wrapped.send, instance, trigger, payload,
                                channel=channel, now=now)

    async def dispatch(self, instance_id: str, trigger: str,
                       payload: Mapping[str, Any] | None = None, *, channel: str,
                       now: float | None = None) -> SendResult:
        """:meth:`JourneyRuntime.dispatch`: load, send and save with the version check."""
        return await self._call(self.wrapped.dispatch, instance_id, trigger, payload,
                                channel=channel, now=now)

    async def create_instance(self, journey_id: str, *, channel: str,
                              instance_id: str | None = None,
                              context: Mapping[str, Any] | None = None) -> JourneyInstance:
        """:meth:`JourneyRuntime.create`: start an instance and add it to the store."""
        return await self._call(self.wrapped.create, journey_id, channel=channel,
                                instance_id=instance_id, context=context)
