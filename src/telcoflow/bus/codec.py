"""Billing events as bus message bodies: compact JSON arrays, exact decimals, ISO times.

``encode_event(UsageEvent(...))`` gives ``["usage", "ev-1", "sub-1", ...]`` (fields in
declaration order; decimals as strings, datetimes ISO 8601); :func:`decode_event` reverses it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from telcoflow.bus.base import Message
from telcoflow.errors import ArgumentError, EventRejectedError
from telcoflow.events import Event, FeeEvent, LifecycleEvent, PaymentEvent, UsageEvent

__all__ = [
    "bill_run_messages",
    "billing_message",
    "body_fingerprint",
    "decode_event",
    "encode_event",
    "journey_message",
]

_TYPES: dict[str, type[Any]] = {
    cls.kind: cls for cls in (UsageEvent, FeeEvent, LifecycleEvent, PaymentEvent)
}
#: per kind: (field name, converter from JSON) in declaration order
_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    kind: tuple((f.name, str(f.type)) for f in fields(cls)) for kind, cls in _TYPES.items()
}
#: per kind: how many leading fields a body must carry (later ones have defaults, so bodies
#: written before a field was added still decode)
_REQUIRED: dict[str, int] = {
    kind: sum(1 for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING)
    for kind, cls in _TYPES.items()
}


def _out(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_event(event: Event) -> str:
    """The message body of a billing event."""
    kind = event.kind
    return json.dumps([kind, *(_out(getattr(event, name)) for name, _ in _FIELDS[kind])],
                      separators=(",", ":"))


#: The longest message body a billing event may have (an event is a few hundred bytes).
MAX_BODY = 16_384


def _shown(body: object) -> str:
    text = body if isinstance(body, str) else repr(body)
    text = text if len(text) <= 120 else text[:117] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def decode_event(body: str) -> Event:
    """The billing event of a message body (``EventRejectedError`` reason ``undecodable``).

    The body must be at most :data:`MAX_BODY` characters of JSON: a list of the event kind
    and its fields in declaration order, each of its declared type (text, integer, decimal
    text, ISO date-time text). Anything else -- another shape, a list where text belongs,
    nesting too deep to parse -- is undecodable.
    """
    try:
        if not isinstance(body, str):
            raise TypeError(f"a message body must be text (got {type(body).__name__})")
        if len(body) > MAX_BODY:
            raise ValueError(f"the body has {len(body)} characters (at most {MAX_BODY})")
        data = json.loads(body)
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise ValueError("expected a JSON list starting with the event kind")
        kind = data[0]
        spec = _FIELDS[kind]
        if not _REQUIRED[kind] <= len(data) - 1 <= len(spec):
            raise ValueError(f"expected {_REQUIRED[kind]} to {len(spec)} fields for a {kind} "
                             f"event, got {len(data) - 1}")
        args: list[Any] = []
        for (name, typ), value in zip(spec, data[1:], strict=False):
            if typ == "Decimal":
                if not isinstance(value, str):
                    raise ValueError(f"`{name}` must be a decimal string (got {value!r:.40})")
                args.append(Decimal(value))
            elif typ == "datetime":
                if not isinstance(value, str):
                    raise ValueError(f"`{name}` must be an ISO date-time string "
                                     f"(got {value!r:.40})")
                args.append(datetime.fromisoformat(value))
            elif typ == "int":
                if type(value) is not int:
                    raise ValueError(f"`{name}` must be an integer (got {value!r:.40})")
                args.append(value)
            else:
                if not isinstance(value, str):
                    raise ValueError(f"`{name}` must be text (got {value!r:.40})")
                args.append(value)
        event: Event = _TYPES[kind](*args)
        return event
    except (ValueError, KeyError, IndexError, TypeError, InvalidOperation, RecursionError) as exc:
        raise EventRejectedError(f"cannot decode a billing event from {_shown(body)!r}: "
                                 f"{_shown(str(exc))}", reason="undecodable") from None


def billing_message(event: Event) -> Message:
    """The bus message of a billing event (kind ``billing``, partitioned by its account)."""
    return Message("billing", event.account, encode_event(event))


def body_fingerprint(body: str) -> str:
    """The fingerprint of a message body that is not an event (its dead letter's)."""
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def journey_message(instance_id: str, trigger: str, payload: dict[str, Any] | None = None, *,
                    channel: str = "system") -> Message:
    """A journey event for instance ``instance_id`` (kind ``journey``, keyed by instance)."""
    body = {"instance": instance_id, "trigger": trigger, "payload": payload or {},
            "channel": channel}
    return Message("journey", instance_id, json.dumps(body, separators=(",", ":"),
                                                      default=str))


def bill_run_messages(shards: int, *, cycle: str = "") -> list[Message]:
    """One ``billrun`` message per shard ``"1/N"`` .. ``"N/N"`` (spread over partitions)."""
    if shards < 1:
        raise ArgumentError(f"`shards` must be >= 1 (got {shards})")
    return [Message("billrun", f"billrun:{cycle}:{i}", f"{i}/{shards}")
            for i in range(1, shards + 1)]
