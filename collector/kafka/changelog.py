"""The processors' session state in a compacted changelog topic (as Kafka Streams keeps a store).

The changelog has as many partitions as the canonical topic, and a canonical partition's state
lives in the changelog partition of the same number: one record per session (key ``s:<session
key>``, value the session's JSON; a forgotten session leaves a tombstone) and one ``meta`` record
(event clock, waiting feedback, detector state, and ``offset``: the canonical offset the state
is consistent with — every record before it is in the state, none after). Compaction keeps the
newest record per key, so reading a partition from its start to its end gives the state as of
the last ``meta``. A checkpoint writes the sessions changed since the previous one, then ``meta``
last, and waits for the acknowledgements: a crash in between leaves newer sessions beside an
older ``meta``, which is harmless (replaying a span a session already holds changes nothing).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tracesieve.processors.sessions import SessionProcessor

from .clients import acknowledged

__all__ = ["PartitionState", "read_states", "write_changes"]

_META = b"meta"
_SESSION_PREFIX = b"s:"


class PartitionState:
    """What a changelog partition held: its sessions, the rest, and the offset it is as of."""

    def __init__(self) -> None:
        self.sessions: dict[bytes, dict[str, Any]] = {}
        self.meta: dict[str, Any] | None = None

    @property
    def offset(self) -> int | None:
        return None if self.meta is None else int(self.meta["offset"])


async def write_changes(
    producer: AIOKafkaProducer, topic: str, partition: int, processor: SessionProcessor, offset: int
) -> int:
    """Write what changed in ``processor`` since the last call, as of canonical ``offset``;
    returns the records written."""
    sessions, forgotten, meta = processor.take_changes()
    sends: list[asyncio.Future[object]] = []
    for key, data in sessions:
        sends.append(
            await producer.send(
                topic, orjson.dumps(data), key=_SESSION_PREFIX + key.encode(), partition=partition
            )
        )
    for key in forgotten:
        sends.append(
            await producer.send(topic, None, key=_SESSION_PREFIX + key.encode(), partition=partition)
        )
    await acknowledged(sends, producer)
    meta["offset"] = offset
    await acknowledged(
        [await producer.send(topic, orjson.dumps(meta), key=_META, partition=partition)], producer
    )
    return len(sends) + 1


async def read_states(
    consumer: AIOKafkaConsumer, topic: str, partitions: list[int]
) -> dict[int, PartitionState]:
    """Read changelog partitions from their start to their current end (``consumer`` has no group)."""
    tps = [TopicPartition(topic, p) for p in partitions]
    states = {p: PartitionState() for p in partitions}
    if not tps:
        return states
    consumer.assign(tps)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    # beginning_offsets + seek, not seek_to_beginning: right after assign(), aiokafka 0.14's own
    # offset reset can answer late and move the position to the end (nothing would be read).
    firsts: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
    for tp in tps:
        consumer.seek(tp, firsts[tp])
    remaining = {tp for tp in tps if ends[tp] > 0}
    for tp in list(remaining):
        if await consumer.position(tp) >= ends[tp]:
            remaining.discard(tp)
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=1_000)
        for tp, records in batch.items():
            state = states[tp.partition]
            for record in records:
                if record.offset >= ends[tp]:
                    break
                key = record.key or b""
                if key == _META:
                    if record.value is not None:
                        state.meta = orjson.loads(record.value)
                elif key.startswith(_SESSION_PREFIX):
                    if record.value is None:
                        state.sessions.pop(key, None)
                    else:
                        state.sessions[key] = orjson.loads(record.value)
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    consumer.unsubscribe()
    return states
