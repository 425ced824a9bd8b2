"""What the Kafka transport relies on, checked with aiokafka 0.14 against a real Kafka 4.x broker.

Each test is one feature the transport uses: the idempotent producer (acks=all) with keys and
headers, a consumer group with manual commits and a rebalance listener, a compacted topic read from
the beginning to its end offsets (how session state is restored), and a producer riding out a
broker outage (stopped, or killed with SIGKILL) without losing anything it was acked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, TypeAlias

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

if TYPE_CHECKING:
    from _broker import KafkaBroker

pytestmark = pytest.mark.kafka

Record: TypeAlias = ConsumerRecord[bytes, bytes]


async def create_topic(
    bootstrap: str, name: str, partitions: int, configs: dict[str, str] | None = None
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        assert [(t, code) for t, code, *_ in response.topic_errors] == [(name, 0)]
    finally:
        await admin.close()


def idempotent_producer(bootstrap: str, **options: int) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **options)


async def read_to_end(bootstrap: str, topic: str, partitions: int) -> list[Record]:
    """Every record of ``topic`` from the beginning to the end offsets taken at the start (no group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        end = await consumer.end_offsets(assigned)
        # Not seek_to_beginning(): in aiokafka 0.14 the reset that assign() starts (to
        # auto_offset_reset) can answer after it and win, leaving the consumer at the end. seek()
        # to the beginning offsets sets the position at once and the late answer is dropped.
        for tp, offset in (await consumer.beginning_offsets(assigned)).items():
            consumer.seek(tp, offset)
        records: list[Record] = []
        for _ in range(100):
            if all([await consumer.position(tp) >= end[tp] for tp in assigned]):
                return records
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(r for r in batch if r.offset < end[TopicPartition(r.topic, r.partition)])
        raise AssertionError(f"{topic}: did not reach the end offsets {end} (read {len(records)})")
    finally:
        await consumer.stop()


async def test_idempotent_producer_round_trip_keeps_order_keys_and_headers(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}spans"  # not created first: auto.create.topics.enable creates it
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(
                topic, f"v{i}".encode(), key=f"k{i % 2}".encode(), partition=0, headers=[("n", bytes([i]))]
            )
        batch = producer.create_batch()
        for i in range(5, 10):
            assert batch.append(key=f"k{i % 2}".encode(), value=f"v{i}".encode(), timestamp=None, headers=[])
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()

    records = await read_to_end(kafka_bootstrap, topic, 1)  # num.partitions: 1
    assert [(r.offset, r.key, r.value) for r in records] == [
        (i, f"k{i % 2}".encode(), f"v{i}".encode()) for i in range(10)
    ]
    assert [r.headers for r in records[:5]] == [(("n", bytes([i])),) for i in range(5)]


class RecordingListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Keeps every revoke and assign the group coordinator hands this consumer, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, frozenset[int]]] = []

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.events.append(("revoked", frozenset(tp.partition for tp in revoked)))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.events.append(("assigned", frozenset(tp.partition for tp in assigned)))

    def assigned(self) -> frozenset[int] | None:
        """The partitions of the last assignment, or None before the first."""
        last = [parts for kind, parts in self.events if kind == "assigned"]
        return last[-1] if last else None


def group_member(bootstrap: str, topic: str, group: str, listener: RecordingListener) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        heartbeat_interval_ms=300,  # a member learns of a rebalance within one heartbeat
        session_timeout_ms=6000,  # the broker's group.min.session.timeout.ms
    )
    consumer.subscribe([topic], listener=listener)
    return consumer


async def poll(until: Callable[[], bool], *members: tuple[AIOKafkaConsumer, list[Record]]) -> None:
    """Polls each member into its list and commits what it read, until ``until()`` holds (bounded)."""
    for _ in range(100):
        for consumer, into in members:
            for batch in (await consumer.getmany(timeout_ms=100)).values():
                into.extend(batch)
            await consumer.commit()
        if until():
            return
    raise AssertionError("the group did not get there within 100 polls")


async def produce(bootstrap: str, topic: str, values: Iterable[int]) -> None:
    producer = idempotent_producer(bootstrap)
    await producer.start()
    try:
        for v in values:
            await producer.send(topic, str(v).encode(), key=str(v).encode())
        await producer.flush()
    finally:
        await producer.stop()


def values(records: list[Record]) -> list[int]:
    return sorted(int(r.value or b"") for r in records)


async def test_consumer_group_rebalances_and_its_commits_survive_a_restart(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}sessions", f"{topic_prefix}processors"
    everything = frozenset(range(4))
    await create_topic(kafka_bootstrap, topic, len(everything))
    await produce(kafka_bootstrap, topic, range(40))

    a_events, b_events = RecordingListener(), RecordingListener()
    a = group_member(kafka_bootstrap, topic, group, a_events)
    b = group_member(kafka_bootstrap, topic, group, b_events)
    a_read: list[Record] = []
    b_read: list[Record] = []
    await a.start()
    try:
        await poll(lambda: a_events.assigned() == everything and len(a_read) >= 40, (a, a_read))
        assert values(a_read) == list(range(40))

        # B joins: A gives back everything it held (eager rebalance), then each gets a disjoint half.
        mark = len(a_events.events)
        await b.start()

        def split() -> bool:
            a_half, b_half = a_events.assigned() or frozenset(), b_events.assigned() or frozenset()
            return bool(a_half) and bool(b_half) and a_half | b_half == everything and not a_half & b_half

        await poll(split, (a, a_read), (b, b_read))
        a_half, b_half = a_events.assigned() or frozenset(), b_events.assigned() or frozenset()
        assert a_events.events[mark] == ("revoked", everything)
        assert len(a_read) == 40 and b_read == []  # B starts at A's commits, not at "earliest"

        # New records go to whichever member owns their partition.
        await produce(kafka_bootstrap, topic, range(40, 80))
        await poll(lambda: len(a_read) + len(b_read) >= 80, (a, a_read), (b, b_read))
        assert values(a_read[40:] + b_read) == list(range(40, 80))
        assert {r.partition for r in a_read[40:]} <= a_half and {r.partition for r in b_read} <= b_half

        # B leaves: A gets everything back. aiokafka's stop() leaves the group without calling
        # on_partitions_revoked, so a leaving member commits what it owes before stop().
        b_seen = list(b_events.events)
        await b.stop()
        await poll(lambda: a_events.assigned() == everything, (a, a_read))
        assert a_events.events[-2:] == [("revoked", a_half), ("assigned", everything)]
        assert b_events.events == b_seen
    finally:
        await b.stop()
        await a.stop()

    # A member restarted in the group starts at the committed offsets: only what came after.
    await produce(kafka_bootstrap, topic, range(80, 90))
    c_events = RecordingListener()
    c = group_member(kafka_bootstrap, topic, group, c_events)
    c_read: list[Record] = []
    await c.start()
    try:
        committed = [await c.committed(TopicPartition(topic, p)) for p in everything]
        assert sum(offset or 0 for offset in committed) == 80
        await poll(lambda: c_events.assigned() == everything and len(c_read) >= 10, (c, c_read))
        assert values(c_read) == list(range(80, 90))
    finally:
        await c.stop()


async def test_compacted_changelog_restores_the_last_value_of_each_key(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}changelog"
    await create_topic(kafka_bootstrap, topic, 3, {"cleanup.policy": "compact"})
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        configs = {entry[0]: entry[1] for entry in described.resources[0][4]}
        assert configs["cleanup.policy"] == "compact"
    finally:
        await admin.close()

    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        for version in range(3):
            for session in range(12):
                await producer.send(topic, f"s{session}@{version}".encode(), key=f"s{session}".encode())
        for session in (3, 7):  # sessions that ended: tombstones delete their state
            await producer.send(topic, None, key=f"s{session}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    state: dict[bytes, bytes] = {}
    records = await read_to_end(kafka_bootstrap, topic, 3)
    assert {r.partition for r in records} == {0, 1, 2}
    for r in records:
        assert r.key is not None
        if r.value is None:
            state.pop(r.key, None)
        else:
            state[r.key] = r.value
    assert state == {f"s{s}".encode(): f"s{s}@2".encode() for s in range(12) if s not in (3, 7)}


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_acked_messages_survive_a_broker_outage(
    kafka_broker: KafkaBroker, topic_prefix: str, outage: Literal["stop", "kill"]
) -> None:
    topic = f"{topic_prefix}outage"
    await create_topic(kafka_broker.bootstrap, topic, 2)
    # Records queued during the outage wait in the producer up to request_timeout_ms, which must
    # cover the outage plus the broker's start (seconds here, 30 s in issue 5's test).
    producer = idempotent_producer(kafka_broker.bootstrap, request_timeout_ms=120_000, retry_backoff_ms=200)
    await producer.start()
    sent: list[asyncio.Future[object]] = []
    back = asyncio.Event()

    async def send_through_the_outage() -> None:
        # One record every 20 ms from before the outage until 20 records after the broker is back.
        after = 0
        while after < 20 and len(sent) < 2000:
            i = len(sent)
            sent.append(await producer.send(topic, str(i).encode(), key=str(i).encode()))
            if back.is_set():
                after += 1
            await asyncio.sleep(0.02)

    sender: asyncio.Task[None] | None = None
    try:
        for i in range(20):  # before: acked while the broker is up
            await producer.send_and_wait(topic, f"before{i}".encode(), key=f"before{i}".encode())
        sender = asyncio.create_task(send_through_the_outage())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(kafka_broker.stop if outage == "stop" else kafka_broker.kill)
        assert not kafka_broker.running()
        await asyncio.sleep(3)
        await asyncio.to_thread(kafka_broker.start)
        back.set()
        await asyncio.wait_for(sender, 60)
        results = await asyncio.wait_for(asyncio.gather(*sent, return_exceptions=True), 120)
    finally:
        if sender is not None:
            sender.cancel()
        await producer.stop()

    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, f"{len(failed)} of {len(sent)} sends failed, first: {failed[0]!r}"
    records = await read_to_end(kafka_broker.bootstrap, topic, 2)
    expected = [f"before{i}".encode() for i in range(20)] + [str(i).encode() for i in range(len(sent))]
    assert sorted(r.value or b"" for r in records) == sorted(expected)  # every acked record, once
    for partition in (0, 1):  # and in the order sent: retries did not reorder a partition
        sequence = [
            int(r.value or b"") for r in records if r.partition == partition and (r.value or b"").isdigit()
        ]
        assert sequence == sorted(sequence)
