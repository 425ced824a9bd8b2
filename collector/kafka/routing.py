"""Where items go on the internal topics: the key that decides an item's partition, and the
partition itself.

Assembly needs a trace's spans and log records together, so the normaliser routes them by trace
id. The session state needs a session's spans together, so the assembler routes assembled spans
by :func:`session_key`, which follows the session processor's own resolution order (session id,
else the user's, else the trace's): every span that the processor would file in one session
lands on one partition. Feedback follows its target the same way, as far as it is known.

Stages pack many items per record (:mod:`.records`), so they choose partitions themselves:
CRC-32 of the key modulo the topic's partition count, the same in every process.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from tracesieve.collector.contracts import CanonicalSpan, Feedback

from .records import Item, pack

__all__ = ["Partitions", "feedback_key", "send_grouped", "session_key"]


def session_key(span: CanonicalSpan) -> bytes:
    if span.session_id:
        return span.session_id.encode()
    if span.user_id:
        return b"user:" + span.user_id.encode()
    return b"trace:" + span.trace_id.encode()


def feedback_key(item: Feedback, session_id: str = "", user_id: str = "") -> bytes:
    """``session_id``/``user_id``: what is known of the target trace's session, if anything.
    Feedback whose session stays unknown goes where its target id hashes; the processor that
    gets it looks the target up in the store."""
    session = item.session_id or session_id
    if session:
        return session.encode()
    user = item.user_id or user_id
    if user:
        return b"user:" + user.encode()
    if item.trace_id:
        return b"trace:" + item.trace_id.encode()
    return (item.span_id or item.response_id or item.feedback_id).encode()


class Partitions:
    """Partition numbers by key for the topics one producer writes (counts cached per topic)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    async def count(self, producer: AIOKafkaProducer, topic: str) -> int:
        count = self._counts.get(topic)
        if count is None:
            count = self._counts[topic] = len(await producer.partitions_for(topic))
        return count

    async def of(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        return zlib.crc32(key) % await self.count(producer, topic)


async def send_grouped(
    producer: AIOKafkaProducer, partitions: Partitions, topic: str, keyed: Sequence[tuple[bytes, Item]]
) -> list[asyncio.Future[object]]:
    """Send ``(key, item)`` pairs to ``topic``, packed into a few records per partition (in order);
    returns the records' delivery futures."""
    by_partition: dict[int, list[Item]] = {}
    for key, item in keyed:
        by_partition.setdefault(await partitions.of(producer, topic, key), []).append(item)
    sends: list[asyncio.Future[object]] = []
    for partition, items in by_partition.items():
        for value, _count in pack(items):
            sends.append(await producer.send(topic, value, partition=partition, headers=[("t", b"items")]))
    return sends
