"""The redaction step in front of whatever stores or publishes a request.

:class:`RedactingConsumer` is an :class:`~tracesieve.collector.contracts.OtlpConsumer` that
redacts each decoded request in place and hands it on with ``raw`` re-serialised from it, so
the ingest log (embedded mode) and the Kafka topics (receiver role) never see the original
text. ``raw`` is re-serialised only when something changed; a request the prefilter finds
nothing in is not even walked. Everything else (results, errors, backpressure) is the next
consumer's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tracesieve.collector.contracts import Feedback, OtlpConsumer, PartialResult

from .redactor import Redactor

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["RedactingConsumer"]


class RedactingConsumer:
    """Redacts, then calls ``next``. ``encode_feedback`` re-encodes changed feedback for ``raw``
    (the receiver's ``encode_feedback_record``: the wiring passes it in, processors import no
    receiver)."""

    def __init__(
        self, next: OtlpConsumer, redactor: Redactor, encode_feedback: Callable[[list[Feedback]], bytes]
    ) -> None:
        self.next = next
        self.redactor = redactor
        self._encode_feedback = encode_feedback
        self.requests_changed = 0
        self.requests_skipped = 0
        """Requests the prefilter let through unread."""

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        if not self.redactor.might_change(raw):
            self.requests_skipped += 1
        elif self.redactor.redact_traces(request, raw):
            self.requests_changed += 1
            raw = request.SerializeToString()
        return await self.next.consume_traces(request, raw)

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        if not self.redactor.might_change(raw):
            self.requests_skipped += 1
        elif self.redactor.redact_logs(request, raw):
            self.requests_changed += 1
            raw = request.SerializeToString()
        return await self.next.consume_logs(request, raw)

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        if self.redactor.redact_feedback(items):
            self.requests_changed += 1
            raw = self._encode_feedback(items)
        return await self.next.consume_feedback(items, raw)
