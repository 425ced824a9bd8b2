"""A stage that consumes Kafka partitions in a consumer group and commits what it has passed on.

Subclasses implement :meth:`handle` (a polled batch), :meth:`tick` (timers: records that waited
are released, checkpoints are written) and the partition hooks. Each returns the offsets that
are now safe to commit: everything before them is durable downstream. The batch, the tick and
the rebalance hooks run under one lock, so a partition is never revoked half-way through a
batch, and what a revoked partition had finished is committed before it moves.

A Kafka error inside a batch (a broker that went away, an acknowledgement that timed out)
restarts the stage in place, as a crash would, without the crash: the consumer leaves the group,
every partition's state is dropped (:meth:`reset`), and after a backoff a new consumer joins and
resumes from the committed offsets. Any other failure (a bug) stops the stage and calls
``on_fatal``: ``tracesieve run`` exits non-zero and its supervisor restarts it; the new process
resumes from the committed offsets too. Either way nothing that was not committed is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from .clients import new_consumer, new_producer, renew_producer
from .config import KafkaTransportConfig

__all__ = ["Batch", "ConsumerStage", "Offsets"]

_log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
Offsets = dict[TopicPartition, int]

_POLL_MS = 100
# Kafka clients reconnect cheaply: a stage waits at most this long between attempts, so it
# resumes within seconds of the broker's return.
_MAX_RESTART_DELAY_S = 5.0


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: ConsumerStage) -> None:
        self._stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._stage._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._stage._assigned(set(assigned))


class ConsumerStage:
    """See the module docstring. ``name`` is also the consumer group's suffix."""

    name = "stage"

    def __init__(
        self, cfg: KafkaTransportConfig, topics: list[str], on_fatal: Callable[[str], None] | None = None
    ) -> None:
        self.cfg = cfg
        self._topics = topics
        self._on_fatal = on_fatal
        self._consumer: AIOKafkaConsumer | None = None
        # What the stage writes to Kafka goes through this idempotent producer (acks=all).
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.failure: str | None = None
        self.records_in = 0
        self._committed: Offsets = {}
        self._stopping: set[asyncio.Task[None]] = set()

    # -- what a stage implements ------------------------------------------------------------------

    async def handle(self, batch: Batch) -> Offsets:
        raise NotImplementedError

    async def tick(self) -> Offsets:
        return {}

    async def partitions_assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """New partitions: set up their state (and seek, if the stage replays)."""

    async def partitions_revoked(self, revoked: set[TopicPartition]) -> Offsets:
        """Partitions leaving: finish what can be finished, drop their state; return final offsets."""
        return {}

    async def reset(self) -> None:
        """The consumer is being replaced after a Kafka error: drop every partition's state (the
        partitions are assigned again, and read again from their committed offsets)."""

    async def reconnect(self) -> None:
        """Before a new consumer joins after a Kafka error: replace the stage's other clients
        (a producer may be dead for good). Raises KafkaError while the broker is unreachable."""
        self._producer = await renew_producer(self._producer, self.cfg)

    async def stopping(self) -> Offsets:
        """The process is shutting down: flush what is ready; return the offsets to commit."""
        return await self.tick()

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def start(self) -> None:
        self._producer = new_producer(self.cfg)
        await self._producer.start()
        consumer = new_consumer(self.cfg, self.name)
        await consumer.start()
        consumer.subscribe(self._topics, listener=_Listener(self))
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name=f"kafka-{self.name}")

    async def aclose(self, deadline: float) -> None:
        self._closing = True
        loop = asyncio.get_running_loop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        if self.failure is None:
            try:
                async with self._lock:
                    offsets = await asyncio.wait_for(self.stopping(), max(0.1, deadline - loop.time()))
                    await self._commit(consumer, offsets)
            except Exception as exc:  # what was not committed is read again by the next owner
                _log.warning("%s: could not flush on shutdown: %s", self.name, exc)
        with contextlib.suppress(Exception):
            # Leaves the group, so its partitions move at once rather than after the session timeout.
            await asyncio.wait_for(consumer.stop(), max(0.1, deadline - loop.time()))
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), max(0.1, deadline - loop.time()))

    @property
    def connected(self) -> bool:
        """Whether the stage has a consumer in the group and runs (for ``/readyz``); False while
        it restarts after a Kafka error."""
        return self._consumer is not None and self.failure is None and not self._closing

    def lag_records(self) -> int:
        """Records in the assigned partitions past the committed offsets (high watermark known
        from the last fetch; partitions this stage has not committed yet are left out)."""
        consumer = self._consumer
        if consumer is None:
            return 0
        lag = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            committed = self._committed.get(tp)
            if high is not None and committed is not None:
                lag += max(0, high - committed)
        return lag

    async def caught_up(self) -> bool:
        """Whether this stage has read everything its partitions hold right now and passed it
        all on (for tests, benchmarks and the demo: "is everything sent so far through here?")."""
        consumer = self._consumer
        if consumer is None or self.failure is not None or self._lock.locked():
            return False
        assigned = list(consumer.assignment())
        if not assigned:
            return False
        ends: Offsets = await consumer.end_offsets(assigned)
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return self.settled(ends)

    def settled(self, ends: Offsets) -> bool:
        """Whether everything read is passed on: by default, committed up to the end."""
        return all(self._committed.get(tp, 0) >= end for tp, end in ends.items())

    # -- the loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            consumer = self._consumer
            if consumer is None:
                return  # closing while the stage restarted
            try:
                while True:
                    batch: Batch = await consumer.getmany(timeout_ms=_POLL_MS)
                    async with self._lock:
                        offsets: Offsets = {}
                        if batch:
                            self.records_in += sum(len(records) for records in batch.values())
                            offsets = await self.handle(batch)
                        offsets.update(await self.tick())
                        # Only partitions still ours: a rebalance may have run while we waited.
                        owned = consumer.assignment()
                        await self._commit(consumer, {tp: o for tp, o in offsets.items() if tp in owned})
                    attempt = 0
            except asyncio.CancelledError:
                raise
            except KafkaError as exc:
                attempt += 1
                delay = min(_MAX_RESTART_DELAY_S, 0.5 * 2**attempt)
                _log.warning("%s: Kafka error, restarting the stage in %.1fs: %r", self.name, delay, exc)
                await self._restart(delay)
            except Exception as exc:
                self.failure = f"Kafka stage {self.name} stopped: {exc!r}"
                _log.exception("%s", self.failure)
                if self._on_fatal is not None:
                    self._on_fatal(self.failure)
                return

    async def _restart(self, delay: float) -> None:
        # Detached first: the old consumer's rebalance callbacks see no consumer and do nothing.
        old, self._consumer = self._consumer, None
        if old is not None:
            # In the background: stopping a consumer whose broker is gone can hang, ignoring
            # cancellation, and nothing here needs it to finish.
            task = asyncio.create_task(old.stop(), name=f"kafka-{self.name}-old-consumer")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
        await self.reset()
        while not self._closing:
            await asyncio.sleep(delay)
            consumer = new_consumer(self.cfg, self.name)
            try:
                await self.reconnect()
                await consumer.start()
                _log.info("%s: Kafka is back, joining the group again", self.name)
            except KafkaError as exc:
                _log.warning("%s: Kafka still unreachable: %r", self.name, exc)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                delay = min(_MAX_RESTART_DELAY_S, delay * 2)
                continue
            consumer.subscribe(self._topics, listener=_Listener(self))
            self._consumer = consumer
            return

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: Offsets) -> None:
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self._committed.update(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (a rebalance): the new owner reads these records again, and
            # the writes downstream are idempotent.
            _log.warning("%s: commit refused, the records will be read again: %s", self.name, exc)
        except KafkaError as exc:
            _log.warning("%s: commit failed, the records will be read again: %s", self.name, exc)

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked or self._consumer is None:
            return
        async with self._lock:
            offsets = await self.partitions_revoked(revoked)
            if offsets and not self._closing:
                await self._commit(self._consumer, offsets)

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        if not assigned or self._consumer is None:
            return
        async with self._lock:
            await self.partitions_assigned(self._consumer, assigned)
