"""The receivers' counters: requests as they arrive, items and accepted/rejected items once the
consumer answers, and refusals by reason when :func:`~tracesieve.collector.receivers.status.translate`
answers a failure.

Each receiver calls :func:`request_received` once per request, which also records the
request's protocol and signal in a context variable; ``translate`` (the one error → status
table) then counts the refusal under those labels with :func:`count_refusal`, wherever in the
request the error was raised. Items are counted by :class:`CountingConsumer`, which the
receivers put in front of their consumer: one count per request, never one per span.
"""

from __future__ import annotations

import contextvars
from typing import Final

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import Feedback, OtlpConsumer, PartialResult

from .metrics import (
    RECEIVER_ACCEPTED_ITEMS,
    RECEIVER_ITEMS,
    RECEIVER_REFUSED,
    RECEIVER_REJECTED_ITEMS,
    RECEIVER_REQUESTS,
    Protocol,
    SignalName,
    refusal_reason,
)

__all__ = ["CountingConsumer", "count_refusal", "request_received"]

_request: Final = contextvars.ContextVar[tuple[Protocol, str]]("tracesieve_request")


def request_received(protocol: Protocol, signal: str | None) -> None:
    """Count one request and remember its labels for the refusal count (this task's context);
    ``None``: not an OTLP or feedback request (another route on the port), not counted."""
    if signal is None:
        return
    _request.set((protocol, signal))
    RECEIVER_REQUESTS.labels(protocol, signal).inc()


def count_refusal(exc: BaseException) -> None:
    """Count the request being answered with ``exc`` (labels "unknown" outside a request)."""
    protocol, signal = _request.get(("unknown", "unknown"))
    RECEIVER_REFUSED.labels(protocol, signal, refusal_reason(exc)).inc()


class CountingConsumer:
    """An :class:`OtlpConsumer` that counts items in front of ``inner``."""

    def __init__(self, inner: OtlpConsumer, protocol: Protocol) -> None:
        self._inner = inner
        labels = (protocol,)
        self._traces = _Counters(*labels, "traces")
        self._logs = _Counters(*labels, "logs")
        self._feedback = _Counters(*labels, "feedback")

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        items = sum(len(scope.spans) for res in request.resource_spans for scope in res.scope_spans)
        self._traces.items.inc(items)
        result = await self._inner.consume_traces(request, raw)
        self._traces.answered(items, result)
        return result

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        items = sum(len(scope.log_records) for res in request.resource_logs for scope in res.scope_logs)
        self._logs.items.inc(items)
        result = await self._inner.consume_logs(request, raw)
        self._logs.answered(items, result)
        return result

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        self._feedback.items.inc(len(items))
        result = await self._inner.consume_feedback(items, raw)
        self._feedback.answered(len(items), result)
        return result


class _Counters:
    """The label-bound children of one (protocol, signal): looked up once, not per request."""

    __slots__ = ("accepted", "items", "rejected")

    def __init__(self, protocol: Protocol, signal: SignalName) -> None:
        self.items = RECEIVER_ITEMS.labels(protocol, signal)
        self.accepted = RECEIVER_ACCEPTED_ITEMS.labels(protocol, signal)
        self.rejected = RECEIVER_REJECTED_ITEMS.labels(protocol, signal)

    def answered(self, items: int, result: PartialResult) -> None:
        rejected = min(items, max(0, result.rejected))
        self.accepted.inc(items - rejected)
        if rejected:
            self.rejected.inc(rejected)
