"""The records of tracesieve's internal topics: many normalised items per record, as JSON.

aiokafka spends tens of µs of Python per record it produces (31 µs measured for a 4.5 KB record,
its compression included), and one record per item ran at 0.27 of embedded throughput, so
a stage packs every item it sends to one partition in one poll into few records (up to
:data:`MAX_RECORD_BYTES` each) rather than one record per item: the partition, not the key, is
what decides which consumer sees an item, and items keep their order within a partition.

A record's value is a JSON array of ``[kind, fields]`` pairs, kind ``"span"`` (a
:class:`CanonicalSpan`), ``"log"`` (a :class:`LogEvent` waiting to be joined) or ``"fb"`` (a
:class:`Feedback`); ``fields`` are the item's fields (``seq`` and the assembler's ``log_join`` are
local to a process: sent as they are, reset on the way in). JSON rather than pickle: a record
from a topic is data, never code; orjson writes the slotted dataclasses natively.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent

__all__ = ["MAX_RECORD_BYTES", "Item", "RecordError", "decode_items", "pack"]

Item = CanonicalSpan | LogEvent | Feedback

# Records stay well under the topics' max.message.bytes (transport.kafka.max_request_bytes).
MAX_RECORD_BYTES = 1 << 20


class RecordError(ValueError):
    """A record on an internal topic that is not one tracesieve wrote."""


def _encode(item: Item) -> bytes:
    # orjson writes a slotted dataclass's fields natively (several times faster than building a
    # dict); the process-local fields go along as null/0 and are ignored on the way in.
    if isinstance(item, CanonicalSpan):
        item.log_join = None  # the assembler's join state: done once a span is passed on
        return orjson.dumps(("span", item))
    if isinstance(item, LogEvent):
        return orjson.dumps(("log", item))
    return orjson.dumps(("fb", item))


def pack(items: Sequence[Item], limit: int = MAX_RECORD_BYTES) -> Iterator[tuple[bytes, int]]:
    """Record values holding ``items`` in order, each about ``limit`` bytes at most (an item
    larger than that gets a record of its own); with the number of items in each."""
    parts: list[bytes] = []
    size = 0
    for item in items:
        encoded = _encode(item)
        if parts and size + len(encoded) > limit:
            yield b"[" + b",".join(parts) + b"]", len(parts)
            parts, size = [], 0
        parts.append(encoded)
        size += len(encoded) + 1
    if parts:
        yield b"[" + b",".join(parts) + b"]", len(parts)


def decode_items(value: bytes | None) -> list[Item]:
    """The items a record holds; raises :class:`RecordError` for anything else."""
    if value is None:
        raise RecordError("record without a value")
    try:
        pairs = orjson.loads(value)
        if not isinstance(pairs, list):
            raise RecordError("record is not a JSON array")
        return [_decode(kind, data) for kind, data in pairs]
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        if isinstance(exc, RecordError):
            raise
        raise RecordError(f"undecodable record: {exc}") from exc


# Field names in declaration order, which is the order orjson writes them in.
_SPAN_FIELDS = tuple(f.name for f in dataclasses.fields(CanonicalSpan))


def _decode(kind: str, data: dict[str, Any]) -> Item:
    if kind == "span":
        data["seq"] = 0
        # Positional when the fields come in declaration order (as orjson writes a dataclass):
        # binding 41 keywords cost 12-17 µs a span, positional 1.3.
        span = CanonicalSpan(*data.values()) if tuple(data) == _SPAN_FIELDS else CanonicalSpan(**data)
        if span.events:
            span.events = [(int(t), str(n), dict(a)) for t, n, a in span.events]
        if span.links:
            span.links = [(str(t), str(s), str(st), dict(a)) for t, s, st, a in span.links]
        return span
    if kind == "log":
        data["seq"] = 0
        return LogEvent(**data)
    if kind == "fb":
        data["seq"] = 0
        return Feedback(**data)
    raise RecordError(f"unknown item kind {kind!r}")
