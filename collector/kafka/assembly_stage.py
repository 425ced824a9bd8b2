"""Assembler: canonical items keyed by trace, to assembled spans keyed by session.

Consumes ``topics.traces`` (the normaliser's output), runs each partition's items through its
own :class:`TraceAssembler` (the embedded pipeline's, unchanged: spans wait for their session and
content, log records are joined), and publishes released spans and feedback to
``topics.canonical`` keyed by :func:`session_key`. A record's offset is its sequence number in a
:class:`StoredWatermark`: it is held by the items it produced until they are acknowledged
downstream (and by the spans that inherited its context), and a partition's committed offset is
the first record still held. A partition that moves is read again from there by its new owner,
which rebuilds the assembly; the spans it publishes twice are dropped by the processor.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent
from tracesieve.collector.stored_watermark import StoredWatermark
from tracesieve.processors.assembly import Released, TraceAssembler
from tracesieve.processors.assembly.config import AssemblyConfig
from tracesieve.processors.normalise import apply_log_event

from .clients import acknowledged
from .config import KafkaTransportConfig
from .records import Item, RecordError, decode_items
from .routing import Partitions, feedback_key, send_grouped, session_key
from .stage import Batch, ConsumerStage, Offsets

__all__ = ["AssemblyStage"]

_log = logging.getLogger(__name__)


_EARLY_FEEDBACK_TRACES = 100_000


@dataclass
class _Partition:
    assembler: TraceAssembler
    marks: StoredWatermark
    next_offset: int = -1
    # Feedback that came before any span of its trace, by trace id (oldest first, bounded): it
    # went to the partition of its trace id; once a span shows the trace's session, it is sent
    # again to that session's partition, where the processor joins it (ids make the copy harmless).
    early_feedback: OrderedDict[str, list[Feedback]] = field(default_factory=OrderedDict)

    def committable(self) -> int:
        return self.marks.mark + 1


class AssemblyStage(ConsumerStage):
    name = "assembler"

    def __init__(
        self,
        cfg: KafkaTransportConfig,
        assembly: AssemblyConfig,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(cfg, [cfg.topics.traces], on_fatal)
        self._assembly = assembly
        self._parts: dict[TopicPartition, _Partition] = {}
        self._partitions = Partitions()
        self.spans_out = 0
        self.bad_records = 0

    async def partitions_assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            if tp not in self._parts:
                self._parts[tp] = _Partition(
                    TraceAssembler(self._assembly, apply_log_event), StoredWatermark(-1, _ignore)
                )

    def settled(self, ends: Offsets) -> bool:
        # Context spans and log records stay held (uncommitted) until their trace goes idle;
        # what counts is that no span waits to be published.
        return all(part.assembler.held_spans == 0 for part in self._parts.values())

    @property
    def held_spans(self) -> int:
        return sum(part.assembler.held_spans for part in self._parts.values())

    @property
    def pending_logs(self) -> int:
        return sum(part.assembler.pending_logs for part in self._parts.values())

    async def reset(self) -> None:
        self._parts.clear()

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> Offsets:
        # What is still held is read again by the next owner from the committed offset.
        offsets = {tp: self._parts[tp].committable() for tp in revoked if tp in self._parts}
        for tp in revoked:
            self._parts.pop(tp, None)
        return {tp: o for tp, o in offsets.items() if o > 0}

    async def handle(self, batch: Batch) -> Offsets:
        feedback: list[tuple[TopicPartition, int, Feedback, bytes]] = []
        for tp, records in batch.items():
            part = self._parts.get(tp)
            if part is None:
                continue  # revoked while this batch was on its way
            if part.next_offset < 0:
                part.marks = StoredWatermark(records[0].offset - 1, _ignore)
                part.next_offset = records[0].offset
            marks = part.marks
            spans: list[CanonicalSpan] = []
            events: list[LogEvent] = []
            for record in records:
                for gap in range(part.next_offset, record.offset):
                    marks.skip(gap)  # a transaction marker or a compacted record: nothing to wait for
                part.next_offset = record.offset + 1
                try:
                    items = decode_items(record.value)
                except RecordError as exc:
                    self.bad_records += 1
                    _log.error("skipping record %s[%d]@%d: %s", tp.topic, tp.partition, record.offset, exc)
                    marks.skip(record.offset)
                    continue
                # One hold per item: the record is done once every item in it is passed on.
                marks.begin(record.offset, 0, len(items))
                for item in items:
                    item.seq = record.offset
                    if isinstance(item, CanonicalSpan):
                        spans.append(item)
                    elif isinstance(item, LogEvent):
                        events.append(item)
                    else:
                        feedback.append((tp, record.offset, item, self._route_feedback(part, item)))
            if spans:
                part.assembler.add_spans(spans)
            if events:
                part.assembler.add_logs(events)
        await self._publish_feedback(feedback)
        return await self.tick()

    def _route_feedback(self, part: _Partition, item: Feedback) -> bytes:
        session_id, user_id = part.assembler.context_of(item.trace_id)
        if item.trace_id and not (item.session_id or item.user_id or session_id or user_id):
            early = part.early_feedback
            early.setdefault(item.trace_id, []).append(item)
            early.move_to_end(item.trace_id)
            while len(early) > _EARLY_FEEDBACK_TRACES:
                early.popitem(last=False)
        return feedback_key(item, session_id, user_id)

    async def tick(self) -> Offsets:
        ready: list[tuple[_Partition, list[Released], list[int]]] = []
        for part in self._parts.values():
            released, finished = part.assembler.poll()
            if released or finished:
                ready.append((part, released, finished))
        return await self._publish(ready)

    async def stopping(self) -> Offsets:
        # Shutting down: what waits for context goes now rather than after a replay.
        ready = [(part, *part.assembler.flush()) for part in self._parts.values()]
        return await self._publish(ready)

    async def _publish(self, ready: list[tuple[_Partition, list[Released], list[int]]]) -> Offsets:
        assert self._producer is not None
        out: list[tuple[bytes, Item]] = []
        for part, released, finished in ready:
            for item in released:
                for seq in item.extra_seqs:
                    part.marks.hold(seq)
            for seq in finished:
                part.marks.release(seq)
            for item in released:
                span = item.span
                key = session_key(span)
                out.extend((key, early) for early in part.early_feedback.pop(span.trace_id, ()))
                out.append((key, span))
        if out:
            sends = await send_grouped(self._producer, self._partitions, self.cfg.topics.canonical, out)
            await acknowledged(sends, self._producer)
            self.spans_out += len(out)
        for part, released, _ in ready:
            for item in released:
                part.marks.release(item.span.seq)
                for seq in item.extra_seqs:
                    part.marks.release(seq)
        return self._offsets()

    async def _publish_feedback(self, feedback: list[tuple[TopicPartition, int, Feedback, bytes]]) -> None:
        assert self._producer is not None
        if not feedback:
            return
        keyed: list[tuple[bytes, Item]] = [(key, item) for _, _, item, key in feedback]
        sends = await send_grouped(self._producer, self._partitions, self.cfg.topics.canonical, keyed)
        await acknowledged(sends, self._producer)
        for tp, offset, _, _ in feedback:
            part = self._parts.get(tp)
            if part is not None:
                part.marks.release(offset)

    def _offsets(self) -> Offsets:
        return {tp: part.committable() for tp, part in self._parts.items() if part.committable() > 0}


def _ignore(_seq: int, _freed: int) -> None:
    return None
