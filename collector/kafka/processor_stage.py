"""Processor: a replica of the consumer group that owns session partitions.

Each assigned partition of ``topics.canonical`` has its own :class:`SessionProcessor` (the
embedded mode's session state, detectors and scorer). A polled batch goes through them, then its
spans are written to ClickHouse and their findings after them, and only then are the offsets
committed: a crash at any point re-reads what was not committed, and the writes are idempotent.

Session state survives partition moves through the changelog (:mod:`.changelog`): every
``checkpoint_interval_s`` each partition writes the sessions changed since its last checkpoint,
as of its current offset. A replica that is given a partition restores that state and starts
reading at the checkpoint's offset; records before the partition's committed offset were
written by the previous owner, so they only rebuild the state (nothing is written again), and
from the committed offset on it works as usual. Timers (an abandoned session) fire on each
partition's own event-time watermark.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from tracesieve.collector.analysis_host import build_processor
from tracesieve.collector.config import ProcessorsConfig
from tracesieve.collector.contracts import CanonicalSpan, Feedback, SpanRef
from tracesieve.collector.errors import PermanentError, retry_delay_s
from tracesieve.collector.telemetry import detector_time
from tracesieve.processors.sessions import Findings, SessionProcessor
from tracesieve.sinks.clickhouse import ClickHouseSink

from .changelog import read_states, write_changes
from .clients import new_consumer
from .config import KafkaTransportConfig
from .records import RecordError, decode_items
from .stage import Batch, ConsumerStage, Offsets

__all__ = ["ProcessorStage"]

T = TypeVar("T")

_log = logging.getLogger(__name__)


@dataclass
class _Partition:
    processor: SessionProcessor
    next_offset: int  # the next record to read
    replay_until: int  # records before this offset were written by a previous owner
    last_checkpoint: float = field(default_factory=time.monotonic)
    checkpointed_offset: int = -1

    @property
    def committable(self) -> int:
        # Never below what the previous owner committed: while the state is rebuilt, committing
        # the replay's position would make the next owner write those records again.
        return max(self.next_offset, self.replay_until)


class ProcessorStage(ConsumerStage):
    name = "processor"

    def __init__(
        self,
        cfg: KafkaTransportConfig,
        processors: ProcessorsConfig,
        sink: ClickHouseSink,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(cfg, [cfg.topics.canonical], on_fatal)
        self._processors = processors
        self._sink = sink
        self._parts: dict[TopicPartition, _Partition] = {}
        self._restorer: AIOKafkaConsumer | None = None
        self.spans_written = 0
        self.spans_replayed = 0
        self.signals_written = 0
        self.flagged_written = 0
        self.bad_records = 0
        self.restores = 0

    async def start(self) -> None:
        self._restorer = new_consumer(self.cfg, None)
        await self._restorer.start()
        await super().start()

    async def aclose(self, deadline: float) -> None:
        await super().aclose(deadline)
        if self._restorer is not None:
            await self._restorer.stop()

    # -- partitions -------------------------------------------------------------------------------

    async def partitions_assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        new = sorted((tp for tp in assigned if tp not in self._parts), key=lambda tp: tp.partition)
        if not new:
            return
        assert self._restorer is not None
        states = await read_states(self._restorer, self.cfg.topics.changelog, [tp.partition for tp in new])
        committed = {tp: await consumer.committed(tp) for tp in new}
        firsts: dict[TopicPartition, int] = await consumer.beginning_offsets(new)
        for tp in new:
            state = states[tp.partition]
            processor = build_processor(self._processors)
            processor.restore_changes(state.sessions.values(), state.meta)
            done = committed[tp]
            # From the checkpoint (no checkpoint: the partition's start) up to the commit, the
            # records only rebuild the state; a checkpoint ahead of the commit was all written.
            start = state.offset if state.offset is not None else firsts[tp]
            replay_until = max(done or 0, start)
            consumer.seek(tp, start)
            self._parts[tp] = _Partition(processor, start, replay_until, checkpointed_offset=start)
            if state.meta is not None or done:
                self.restores += 1
            _log.info(
                "partition %d assigned: %d sessions restored as of offset %d; replaying to %d",
                tp.partition, len(state.sessions), start, replay_until,
            )  # fmt: skip
        # Spans another replica stored but did not commit come again: drop them as resends.
        await self._sink.reload_recent_keys()

    async def reset(self) -> None:
        self._parts.clear()

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> Offsets:
        offsets: Offsets = {}
        for tp in revoked:
            part = self._parts.pop(tp, None)
            if part is None:
                continue
            offsets[tp] = part.committable
            if part.next_offset > part.replay_until:
                await self._checkpoint(tp, part)  # the next owner starts from here, without replay
        return offsets

    # -- the stream -------------------------------------------------------------------------------

    async def handle(self, batch: Batch) -> Offsets:
        to_write: list[CanonicalSpan] = []
        found = Findings()
        feedback: list[tuple[SessionProcessor, list[Feedback]]] = []
        offsets: Offsets = {}
        for tp, records in batch.items():
            part = self._parts.get(tp)
            if part is None:
                continue
            live_spans: list[CanonicalSpan] = []
            replay_spans: list[CanonicalSpan] = []
            live_feedback: list[Feedback] = []
            for record in records:
                try:
                    items = decode_items(record.value)
                except RecordError as exc:
                    self.bad_records += 1
                    _log.error("skipping canonical record %d@%d: %s", tp.partition, record.offset, exc)
                    continue
                replay = record.offset < part.replay_until
                for item in items:
                    if isinstance(item, CanonicalSpan):
                        (replay_spans if replay else live_spans).append(item)
                    elif isinstance(item, Feedback):
                        if replay:
                            _found, missing = part.processor.add_feedback([item])
                            part.processor.wait_for_target(missing)
                        else:
                            live_feedback.append(item)
            if replay_spans:
                part.processor.process(replay_spans)  # its findings were written by the previous owner
                self.spans_replayed += len(replay_spans)
            if live_spans:
                with detector_time.sampled(part.processor):
                    found.extend(part.processor.process(live_spans))
                to_write.extend(live_spans)
            if live_feedback:
                feedback.append((part.processor, live_feedback))
            part.next_offset = records[-1].offset + 1
            offsets[tp] = part.committable
        if to_write:
            await self._retry(lambda: self._sink.consume(to_write, linger=False))
            self.spans_written += len(to_write)
        for processor, pieces in feedback:
            found.extend(await self._feedback(processor, pieces))
        await self._write_findings(found)
        return offsets

    async def tick(self) -> Offsets:
        found = Findings()
        now = time.monotonic()
        for part in self._parts.values():
            if part.next_offset < part.replay_until:
                continue  # still rebuilding: what its timers fire was written before
            with detector_time.sampled(part.processor):
                found.extend(part.processor.advance())
        await self._write_findings(found)
        for tp, part in list(self._parts.items()):
            due = now - part.last_checkpoint >= self.cfg.checkpoint_interval_s
            if due and part.next_offset > part.checkpointed_offset and part.next_offset >= part.replay_until:
                await self._checkpoint(tp, part)
        return {}

    async def stopping(self) -> Offsets:
        await self.tick()
        for tp, part in self._parts.items():
            if part.next_offset > part.checkpointed_offset and part.next_offset >= part.replay_until:
                await self._checkpoint(tp, part)
        return {tp: part.committable for tp, part in self._parts.items()}

    async def _checkpoint(self, tp: TopicPartition, part: _Partition) -> None:
        assert self._producer is not None
        await write_changes(
            self._producer, self.cfg.topics.changelog, tp.partition, part.processor, part.next_offset
        )
        part.last_checkpoint = time.monotonic()
        part.checkpointed_offset = part.next_offset

    # -- feedback and findings --------------------------------------------------------------------

    async def _feedback(self, processor: SessionProcessor, items: list[Feedback]) -> Findings:
        """As the embedded analysis does: store it as received, then join it to the state, else to
        the stored span, else wait for the span."""
        await self._retry(lambda: self._sink.write_findings([], [], [(item, None) for item in items]))
        found, missing = processor.add_feedback(items)
        for item in missing:
            target = await self._retry_value(lambda item=item: self._sink.find_feedback_target(item))  # type: ignore[misc]
            if target is not None:
                found.extend(processor.apply_feedback(item, *target))
            else:
                processor.wait_for_target([item])
        return found

    async def _write_findings(self, found: Findings) -> None:
        if not found:
            return
        resolved: list[tuple[Feedback, SpanRef | None]] = list(found.resolved)
        await self._retry(lambda: self._sink.write_findings(found.signals, found.flagged, resolved))
        self.signals_written += len(found.signals)
        self.flagged_written += len(found.flagged)

    async def _retry(self, call: Callable[[], Awaitable[None]]) -> None:
        await self._retry_value(call)

    async def _retry_value(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except PermanentError:
                raise  # rows built here that the store refuses for good: a bug, stop the stage
            except Exception as exc:  # the store may come back; nothing is committed meanwhile
                attempt += 1
                delay = retry_delay_s(attempt, exc)
                _log.warning("store call failed (attempt %d), retrying in %.1fs: %s", attempt, delay, exc)
                await asyncio.sleep(delay)
