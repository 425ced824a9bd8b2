"""In-memory test doubles for collector components.

``MemoryConsumer`` implements :class:`~tracesieve.collector.contracts.OtlpConsumer`::

    consumer = MemoryConsumer()
    receiver = OtlpHttpReceiver(OtlpHttpConfig(endpoint="127.0.0.1:0"), consumer)
    consumer.fail_with(OverloadedError("full", retry_after_s=2))  # next calls raise
    consumer.block()                                              # next calls wait ...
    await consumer.wait_inflight(1)
    consumer.unblock()                                            # ... until released
"""

from __future__ import annotations

import asyncio

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from tracesieve.collector.contracts import Feedback, PartialResult

__all__ = ["MemoryConsumer"]


class MemoryConsumer:
    """Records every request it accepts; can be told to fail, to block, or what to answer."""

    def __init__(self) -> None:
        self.traces: list[tuple[ExportTraceServiceRequest, bytes]] = []
        self.logs: list[tuple[ExportLogsServiceRequest, bytes]] = []
        self.feedback: list[tuple[list[Feedback], bytes]] = []
        self.result = PartialResult()
        self.error: BaseException | None = None
        self.failures_left: int | None = None  # None: every call fails while ``error`` is set
        self.inflight = 0
        self.calls = 0  # every call, failed ones included
        self._gate = asyncio.Event()
        self._gate.set()
        self._changed = asyncio.Condition()

    def fail_with(self, error: BaseException | None, times: int | None = None) -> None:
        """Raise ``error`` from the following calls, or only the next ``times`` (None: stop failing)."""
        self.error = error
        self.failures_left = times

    def answer(self, result: PartialResult) -> None:
        """Return ``result`` from the following successful calls."""
        self.result = result

    def block(self) -> None:
        """Make the following calls wait until :meth:`unblock`."""
        self._gate.clear()

    def unblock(self) -> None:
        self._gate.set()

    async def wait_inflight(self, count: int, timeout_s: float = 5.0) -> None:
        """Wait until ``count`` calls are inside the consumer (e.g. blocked)."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: self.inflight >= count)

    @property
    def spans(self) -> list[Span]:
        """Every span received, in order."""
        return [
            span
            for request, _ in self.traces
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    @property
    def log_records(self) -> list[LogRecord]:
        """Every log record received, in order."""
        return [
            record
            for request, _ in self.logs
            for resource_logs in request.resource_logs
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]

    @property
    def feedback_items(self) -> list[Feedback]:
        """Every piece of feedback received, in order."""
        return [item for items, _ in self.feedback for item in items]

    async def _call(self) -> PartialResult:
        self.calls += 1
        self.inflight += 1
        async with self._changed:
            self._changed.notify_all()
        try:
            await self._gate.wait()
            if self.error is not None and self.failures_left != 0:
                if self.failures_left is not None:
                    self.failures_left -= 1
                raise self.error
            return self.result
        finally:
            self.inflight -= 1

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        result = await self._call()
        self.traces.append((request, raw))
        return result

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        result = await self._call()
        self.logs.append((request, raw))
        return result

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        result = await self._call()
        self.feedback.append((items, raw))
        return result
