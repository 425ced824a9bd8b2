"""The records of tracesieve's internal topics: one normalised item per record, as JSON.

A record's ``t`` header says what it holds: ``span`` (a :class:`CanonicalSpan`), ``log`` (a
:class:`LogEvent` waiting to be joined to its span) or ``fb`` (a :class:`Feedback`). The value is
the item's fields as an orjson object (``seq`` and the assembler's ``log_join`` are local to a
process and not sent). JSON rather than pickle: a record from a topic is data, never code, and
orjson writes the slotted dataclasses' fields at a few µs per span.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent

__all__ = ["KIND_FEEDBACK", "KIND_LOG", "KIND_SPAN", "Item", "RecordError", "decode", "encode", "kind_header"]

KIND_SPAN = b"span"
KIND_LOG = b"log"
KIND_FEEDBACK = b"fb"

Item = CanonicalSpan | LogEvent | Feedback

_LOCAL = {"seq", "log_join"}
_SPAN_FIELDS = tuple(f.name for f in fields(CanonicalSpan) if f.name not in _LOCAL)
_LOG_FIELDS = tuple(f.name for f in fields(LogEvent) if f.name not in _LOCAL)
_FEEDBACK_FIELDS = tuple(f.name for f in fields(Feedback) if f.name not in _LOCAL)


class RecordError(ValueError):
    """A record on an internal topic that is not one tracesieve wrote."""


def kind_header(item: Item) -> bytes:
    if isinstance(item, CanonicalSpan):
        return KIND_SPAN
    if isinstance(item, LogEvent):
        return KIND_LOG
    return KIND_FEEDBACK


def encode(item: Item) -> bytes:
    if isinstance(item, CanonicalSpan):
        names = _SPAN_FIELDS
    elif isinstance(item, LogEvent):
        names = _LOG_FIELDS
    else:
        names = _FEEDBACK_FIELDS
    return orjson.dumps({name: getattr(item, name) for name in names})


def decode(kind: bytes | None, value: bytes | None) -> Item:
    """The item a record holds; raises :class:`RecordError` for anything else."""
    if value is None:
        raise RecordError("record without a value")
    try:
        data: dict[str, Any] = orjson.loads(value)
        if kind == KIND_SPAN:
            span = CanonicalSpan(**data)
            span.events = [(int(t), str(n), dict(a)) for t, n, a in span.events]
            span.links = [(str(t), str(s), str(st), dict(a)) for t, s, st, a in span.links]
            return span
        if kind == KIND_LOG:
            return LogEvent(**data)
        if kind == KIND_FEEDBACK:
            return Feedback(**data)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise RecordError(f"undecodable {kind!r} record: {exc}") from exc
    raise RecordError(f"unknown record kind {kind!r}")
