"""aiokafka clients built from the config, and the topics tracesieve needs.

Producers are idempotent with ``acks=all`` (DESIGN: an OTLP request is answered only once the
broker has it on every in-sync replica); consumers never auto-commit (offsets are committed by
the stage once what it read is safely downstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)

from .config import KafkaTransportConfig
from .lz4_level import set_lz4_level

__all__ = [
    "ACK_TIMEOUT_S",
    "FATAL_PRODUCER_ERRORS",
    "acknowledged",
    "ensure_topics",
    "new_consumer",
    "new_producer",
    "producer_stopped",
    "renew_producer",
    "topic_plan",
]

_log = logging.getLogger(__name__)

# Errors after which an idempotent producer never sends again (aiokafka stops its sender, e.g.
# when a restarted broker no longer knows the producer's sequence numbers): replace it.
FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, ProducerFenced, ProducerClosed, UnknownProducerId)

_stopping: set[asyncio.Task[None]] = set()

# How long a send may wait for the broker's acknowledgement: beyond the producer's own request
# timeout, so that only a producer that will never answer (its sender stopped) trips it.
ACK_TIMEOUT_S = 60.0

# Create-topics error codes that mean "fine": none, and already exists.
_OK_CODES = {0, 36}


def new_producer(cfg: KafkaTransportConfig, **overrides: Any) -> AIOKafkaProducer:
    if cfg.compression == "lz4":
        set_lz4_level(cfg.compression_lz4_level)
    options: dict[str, Any] = {
        "bootstrap_servers": cfg.bootstrap_servers,
        "client_id": cfg.client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": cfg.linger_ms,
        "max_request_size": cfg.max_request_bytes,
        "compression_type": None if cfg.compression == "none" else cfg.compression,
        # Retried sends keep their order and are not duplicated (idempotence); a broker that is
        # down for a while makes a request fail with a retryable OTLP status, not hang forever.
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def renew_producer(old: AIOKafkaProducer | None, cfg: KafkaTransportConfig) -> AIOKafkaProducer:
    """A started new producer in place of ``old`` (stopped, whatever state it is in). Raises the
    KafkaError of a broker that is still unreachable; the caller tries again later."""
    if old is not None:
        # In the background: stopping a producer whose broker is gone can hang, ignoring
        # cancellation; the task holds itself until it ends.
        task = asyncio.create_task(old.stop(), name="kafka-old-producer")
        _stopping.add(task)
        task.add_done_callback(_stopping.discard)
    producer = new_producer(cfg)
    try:
        await producer.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await producer.stop()
        raise
    return producer


def producer_stopped(producer: AIOKafkaProducer) -> bool:
    """Whether aiokafka stopped this producer's sender after a fatal error: what it is given
    then never leaves, and nothing says so but the sender task's end."""
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return task is not None and task.done()


async def acknowledged(sends: Sequence[asyncio.Future[object]], producer: AIOKafkaProducer) -> None:
    """Wait for the acknowledgement of every send; a KafkaError if one fails, if the producer
    stopped, or if none came within :data:`ACK_TIMEOUT_S` (the stage then restarts)."""
    if producer_stopped(producer):
        raise KafkaError("the Kafka producer stopped after a fatal error")
    if not sends:
        return
    try:
        await asyncio.wait_for(asyncio.gather(*sends), ACK_TIMEOUT_S)
    except TimeoutError as exc:
        raise KafkaTimeoutError(f"no acknowledgement from Kafka in {ACK_TIMEOUT_S:.0f} s") from exc


def new_consumer(cfg: KafkaTransportConfig, group_suffix: str | None, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer of the group ``<group_id>-<group_suffix>``, or without a group when None."""
    options: dict[str, Any] = {
        "bootstrap_servers": cfg.bootstrap_servers,
        "client_id": cfg.client_id,
        "group_id": f"{cfg.group_id}-{group_suffix}" if group_suffix else None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": cfg.max_poll_records,
        "fetch_max_bytes": max(cfg.max_request_bytes * 2, 52_428_800),
        "max_partition_fetch_bytes": cfg.max_request_bytes,
        "session_timeout_ms": cfg.session_timeout_ms,
        "heartbeat_interval_ms": max(1_000, cfg.session_timeout_ms // 4),
        "isolation_level": "read_uncommitted",
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


def topic_plan(cfg: KafkaTransportConfig) -> list[NewTopic]:
    """Every topic with its partitions and settings. The changelog is compacted and has as many
    partitions as the canonical topic: a session's state lives on its spans' partition number."""
    max_bytes = {"max.message.bytes": str(cfg.max_request_bytes)}
    t = cfg.topics
    plain = [t.spans, t.logs, t.feedback, t.traces, t.canonical]
    topics = [
        NewTopic(name, cfg.partitions, cfg.replication_factor, topic_configs=max_bytes) for name in plain
    ]
    topics.append(
        NewTopic(
            t.changelog,
            cfg.partitions,
            cfg.replication_factor,
            topic_configs={**max_bytes, "cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
        )
    )
    return topics


async def ensure_topics(cfg: KafkaTransportConfig) -> None:
    """Create the missing topics (existing ones are left as they are)."""
    if not cfg.create_topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.bootstrap_servers, client_id=cfg.client_id)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topic_plan(cfg) if topic.name not in existing]
        if not missing:
            return
        response = await admin.create_topics(missing)
        for name, code, *rest in response.topic_errors:
            if code not in _OK_CODES:
                message = rest[0] if rest else ""
                raise RuntimeError(f"cannot create Kafka topic {name}: error {code} {message}")
        _log.info("created Kafka topics %s", ", ".join(topic.name for topic in missing))
    finally:
        await admin.close()
