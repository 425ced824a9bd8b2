"""The receivers' consumer in scaled mode: every accepted OTLP request goes to Kafka as it came.

Trace requests go to ``topics.spans`` and log requests to ``topics.logs`` as the OpenTelemetry
Collector's ``otlp_proto`` encoding (the ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest``
bytes, one request per record, no key), which the Collector's Kafka receiver reads and which its
Kafka exporter writes: the two are interchangeable upstream of the normaliser. ``POST
/v1/feedback`` bodies go to ``topics.feedback`` in their canonical JSON.

A request is answered once the broker acknowledged it with ``acks=all`` (idempotent producer):
then it is durable, as the ingest log makes it in embedded mode. A broker that cannot take it
makes the request fail with a retryable status (the client resends); a record over the size
limit is refused for good. Normalisation happens downstream, so rejected items are counted and
logged by the normaliser, not reported back in ``partial_success``.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, ProducerClosed
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import Feedback, PartialResult
from tracesieve.collector.errors import PayloadTooLargeError, RetryableError
from tracesieve.collector.telemetry.metrics import KAFKA_PUBLISH_SECONDS, tagged

from .clients import ACK_TIMEOUT_S, FATAL_PRODUCER_ERRORS, new_producer, producer_stopped, renew_producer
from .config import KafkaTransportConfig

__all__ = ["KafkaPublisher"]

_log = logging.getLogger(__name__)

_RETRY_AFTER_S = 2.0


class KafkaPublisher:
    """Implements :class:`~tracesieve.collector.contracts.OtlpConsumer` over a Kafka producer."""

    def __init__(self, cfg: KafkaTransportConfig) -> None:
        self._cfg = cfg
        self._producer: AIOKafkaProducer | None = None
        self._renewing = asyncio.Lock()
        self.published = 0

    async def start(self) -> None:
        self._producer = new_producer(self._cfg)
        await self._producer.start()

    @property
    def connected(self) -> bool:
        """Whether the producer runs and knows a broker (for ``/readyz``)."""
        producer = self._producer
        if producer is None or producer_stopped(producer):
            return False
        return bool(producer.client.cluster.brokers())

    async def aclose(self, deadline: float) -> None:
        if self._producer is None:
            return
        producer, self._producer = self._producer, None
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(producer.stop(), max(0.1, deadline - loop.time()))
        except TimeoutError:
            _log.warning("Kafka producer did not stop before the deadline")

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        await self._publish(self._cfg.topics.spans, raw)
        return PartialResult()

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        await self._publish(self._cfg.topics.logs, raw)
        return PartialResult()

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        if items:
            await self._publish(self._cfg.topics.feedback, raw)
        return PartialResult()

    async def _publish(self, topic: str, raw: bytes) -> None:
        producer = self._producer
        if producer is None:
            raise tagged(RetryableError("tracesieve is shutting down", retry_after_s=1.0), "shutting_down")
        try:
            if producer_stopped(producer):
                raise ProducerClosed()
            # Shielded: a client that hangs up must not cancel a send the broker may still take.
            with KAFKA_PUBLISH_SECONDS.labels(topic).time():
                await asyncio.wait_for(asyncio.shield(producer.send_and_wait(topic, raw)), ACK_TIMEOUT_S)
        except TimeoutError as exc:
            raise tagged(
                RetryableError("Kafka did not acknowledge the request in time", retry_after_s=_RETRY_AFTER_S),
                "store_unavailable",
            ) from exc
        except MessageSizeTooLargeError as exc:
            raise PayloadTooLargeError(
                f"request of {len(raw)} bytes is over transport.kafka.max_request_bytes"
            ) from exc
        except KafkaError as exc:
            if isinstance(exc, FATAL_PRODUCER_ERRORS):
                await self._renew(producer)
            raise tagged(
                RetryableError(f"Kafka did not take the request: {exc}", retry_after_s=_RETRY_AFTER_S),
                "store_unavailable",
            ) from exc
        self.published += 1

    async def _renew(self, dead: AIOKafkaProducer) -> None:
        """Replace a producer that will never send again (once, for all requests that saw it)."""
        async with self._renewing:
            if self._producer is not dead:
                return
            try:
                self._producer = await renew_producer(dead, self._cfg)
            except KafkaError as exc:  # still unreachable: the next failing request tries again
                _log.warning("could not replace the Kafka producer yet: %s", exc)
