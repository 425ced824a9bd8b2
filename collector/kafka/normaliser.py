"""Normaliser: OTLP requests from Kafka (any partitioning) to canonical items keyed by trace.

Reads ``topics.spans`` and ``topics.logs`` (``otlp_proto``, as tracesieve's receivers or the
OpenTelemetry Collector's Kafka exporter write them, one request or one resource per record,
keyed or not) and ``topics.feedback``; normalises each request with the same code as embedded
mode; publishes every span, GenAI log event and piece of feedback to ``topics.traces`` keyed by
trace id (feedback with no trace goes straight to ``topics.canonical``, keyed by its session or
target), packed many per record (:mod:`.records`). Offsets are committed once every record the
batch produced is acknowledged. A record
that is not a valid request is logged with its coordinates and skipped: it cannot be refused to a
client any more, and one bad record must not stop the partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent
from tracesieve.collector.receivers.otlp_http.feedback import decode_feedback_record
from tracesieve.processors.normalise import (
    NormaliseConfig,
    extract_feedback,
    normalise_logs,
    normalise_traces,
)

from .clients import acknowledged
from .config import KafkaTransportConfig
from .records import Item
from .routing import Partitions, feedback_key, send_grouped
from .stage import Batch, ConsumerStage, Offsets

__all__ = ["NormaliserStage"]

_log = logging.getLogger(__name__)


class NormaliserStage(ConsumerStage):
    name = "normaliser"

    def __init__(
        self,
        cfg: KafkaTransportConfig,
        normalise: NormaliseConfig,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        topics = cfg.topics
        super().__init__(cfg, [topics.spans, topics.logs, topics.feedback], on_fatal)
        self._normalise = normalise
        self._partitions = Partitions()
        self.items_out = 0
        self.rejected_items = 0
        self.bad_records = 0

    async def handle(self, batch: Batch) -> Offsets:
        assert self._producer is not None
        topics = self.cfg.topics
        to_traces: list[tuple[bytes, Item]] = []
        to_canonical: list[tuple[bytes, Item]] = []
        offsets: Offsets = {}
        for tp, records in batch.items():
            for record in records:
                try:
                    items = self._decode(tp.topic, record.value)
                except (DecodeError, ValueError) as exc:
                    self.bad_records += 1
                    _log.error(
                        "skipping record %s[%d]@%d: not a valid %s record: %s",
                        tp.topic, tp.partition, record.offset, tp.topic, exc,
                    )  # fmt: skip
                    continue
                for item in items:
                    if isinstance(item, Feedback) and not item.trace_id:
                        to_canonical.append((feedback_key(item), item))
                    else:
                        to_traces.append((item.trace_id.encode(), item))
            offsets[tp] = records[-1].offset + 1
        sends = await send_grouped(self._producer, self._partitions, topics.traces, to_traces)
        sends += await send_grouped(self._producer, self._partitions, topics.canonical, to_canonical)
        await acknowledged(sends, self._producer)  # every record acknowledged (acks=all) before the commit
        self.items_out += len(to_traces) + len(to_canonical)
        return offsets

    def _decode(self, topic: str, value: bytes | None) -> list[CanonicalSpan | LogEvent | Feedback]:
        topics = self.cfg.topics
        raw = value or b""
        if topic == topics.spans:
            spans, rejected, message = normalise_traces(
                ExportTraceServiceRequest.FromString(raw), self._normalise
            )
            self._count_rejected(rejected, message)
            return [*spans, *extract_feedback(spans)]
        if topic == topics.logs:
            request = ExportLogsServiceRequest.FromString(raw)
            events, feedback, rejected, message = normalise_logs(request, self._normalise)
            self._count_rejected(rejected, message)
            return [*events, *feedback]
        return list(decode_feedback_record(raw))

    def _count_rejected(self, rejected: int, message: str) -> None:
        if rejected:
            self.rejected_items += rejected
            _log.warning("normaliser rejected %d items: %s", rejected, message)
