"""The embedded pipeline: receivers → normalise → ingest log (ack) → trace assembly → ClickHouse,
and beside the store, the session state → detectors → scorer (:mod:`.analysis`).

The only module that knows every stage. A request is acknowledged once its valid items are
in the fsynced ingest log; the assembler then holds LLM spans until their context is known,
released spans go through the session processor, and a pool of writers stores them through
the sink, which group-commits across requests. The ingest log's checkpoint advances as
records are fully stored (spans and the findings they produced), and records past it are
replayed on start, so ``kill -9`` at any point loses nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.analysis import Analysis, AnalysisStopped, FindingsStore
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent, PartialResult
from tracesieve.collector.errors import PermanentError, RetryableError, retry_delay_s
from tracesieve.collector.ingest_log import (
    KIND_FEEDBACK,
    KIND_LOGS,
    KIND_TRACES,
    RECORD_OVERHEAD_BYTES,
    IngestLog,
)
from tracesieve.collector.receivers.otlp_http.feedback import decode_feedback_record
from tracesieve.collector.stored_watermark import StoredWatermark
from tracesieve.collector.telemetry.metrics import tagged
from tracesieve.processors.assembly import Released, TraceAssembler
from tracesieve.processors.normalise import (
    apply_log_event,
    extract_feedback,
    normalise_logs,
    normalise_traces,
)

if TYPE_CHECKING:
    from tracesieve.collector.config import Config

__all__ = ["Pipeline", "SpanStore"]

_log = logging.getLogger(__name__)


class SpanStore(FindingsStore, Protocol):
    """What the pipeline needs of a sink: a life cycle, a ``consume`` that returns once durable,
    and the findings writes and lookups of :class:`~tracesieve.collector.analysis.FindingsStore`."""

    async def start(self) -> None: ...

    async def consume(self, spans: list[CanonicalSpan]) -> None: ...

    async def aclose(self, deadline: float) -> None: ...


class Pipeline:
    """Implements :class:`~tracesieve.collector.contracts.OtlpConsumer` for the receivers."""

    def __init__(
        self,
        config: Config,
        sink: SpanStore,
        data_dir: Path,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        self._config = config
        self._sink = sink
        cfg = config.service
        self._normalise_cfg = config.processors.normalise
        self._log = IngestLog(
            data_dir / "ingest-log",
            max_bytes=cfg.ingest_log.max_bytes,
            segment_bytes=cfg.ingest_log.segment_bytes,
            fsync=cfg.ingest_log.fsync,
            on_abandoned=self._on_abandoned,
        )
        self._assembler = TraceAssembler(config.processors.assembly, apply_log_event)
        self._watermark: StoredWatermark | None = None
        self.analysis = Analysis(
            config,
            sink,
            data_dir,
            lambda: self._watermark.mark if self._watermark else 0,
            self._log.limit_checkpoint,
            lambda: set(self._write_tasks),
            on_fatal,
        )
        self._feedback_tasks: set[asyncio.Task[None]] = set()
        self._writers = asyncio.Semaphore(cfg.writers)
        self._write_tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False
        self.stored_spans = 0
        self.dropped_spans = 0

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._sink.start()
        replay = self._log.open()
        self._watermark = StoredWatermark(self._log.checkpoint, self._log.mark_stored)
        await self.analysis.start(self._log.checkpoint)
        await self._log.start()
        if replay:
            _log.info("replaying %d ingest-log records past checkpoint %d", len(replay), self._log.checkpoint)
        for entry in replay:
            if entry.kind == KIND_TRACES:
                request = ExportTraceServiceRequest.FromString(entry.payload)
                spans, _rejected, _msg = normalise_traces(request, self._normalise_cfg, entry.seq)
                self._admit_spans(entry.seq, len(entry.payload), spans, extract_feedback(spans))
            elif entry.kind == KIND_LOGS:
                logs_request = ExportLogsServiceRequest.FromString(entry.payload)
                events, feedback, _rejected, _msg = normalise_logs(
                    logs_request, self._normalise_cfg, entry.seq
                )
                self._admit_logs(entry.seq, len(entry.payload), events, feedback)
            elif entry.kind == KIND_FEEDBACK:
                self._admit_feedback(entry.seq, len(entry.payload), decode_feedback_record(entry.payload))
            else:
                self._watermark.skip(entry.seq)
        self._pump_task = asyncio.create_task(self._pump(), name="pipeline-pump")

    async def aclose(self, deadline: float) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        # Shutting down: release what waits for context now rather than at the next start.
        self._dispatch(*self._assembler.flush())
        pending = self._write_tasks | self._feedback_tasks
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        for task in pending:
            task.cancel()
        await self.analysis.aclose(deadline)
        await self._log.aclose(deadline)
        await self._sink.aclose(deadline)

    async def wait_stored(self, timeout_s: float = 30.0) -> bool:
        """Release every span still waiting and wait until all released spans are stored.

        For the demo, tests and benchmarks; the running service never needs it. Context spans
        and log records that wait for a span stay in the ingest log as usual.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while loop.time() < end:
            self._dispatch(*self._assembler.flush())
            await self.analysis.settle()
            if (
                self._assembler.held_spans == 0
                and not self._write_tasks
                and not self._feedback_tasks
                and not self.analysis.writing
            ):
                return True
            await asyncio.sleep(0.01)
        return False

    # -- what /metrics and /readyz read ------------------------------------------------------------

    @property
    def ingest_log(self) -> IngestLog:
        return self._log

    @property
    def assembler(self) -> TraceAssembler:
        return self._assembler

    @property
    def write_batches_in_flight(self) -> int:
        return len(self._write_tasks)

    # -- OtlpConsumer --------------------------------------------------------------------------

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        spans, rejected, message = normalise_traces(request, self._normalise_cfg)
        if spans:
            feedback = extract_feedback(spans)
            # Shielded: a client that hangs up must not leave a written record un-admitted.
            await asyncio.shield(
                self._ingest(KIND_TRACES, raw, lambda seq: self._admit_spans(seq, len(raw), spans, feedback))
            )
        return PartialResult(rejected, message)

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        events, feedback, rejected, message = normalise_logs(request, self._normalise_cfg)
        if events or feedback:
            await asyncio.shield(
                self._ingest(KIND_LOGS, raw, lambda seq: self._admit_logs(seq, len(raw), events, feedback))
            )
        return PartialResult(rejected, message)

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        if items:
            await asyncio.shield(
                self._ingest(KIND_FEEDBACK, raw, lambda seq: self._admit_feedback(seq, len(raw), items))
            )
        return PartialResult()

    async def _ingest(self, kind: int, raw: bytes, admit: Callable[[int], None]) -> None:
        if self._closed:
            raise tagged(RetryableError("tracesieve is shutting down", retry_after_s=1.0), "shutting_down")
        seq = await self._log.append(kind, raw)
        admit(seq)

    def _admit_spans(self, seq: int, size: int, spans: list[CanonicalSpan], feedback: list[Feedback]) -> None:
        assert self._watermark is not None
        for span in spans:
            span.seq = seq
        self._watermark.begin(seq, size + RECORD_OVERHEAD_BYTES, len(spans) + (1 if feedback else 0))
        self.analysis.observe(spans)
        self._assembler.add_spans(spans)
        self._start_feedback(seq, feedback)
        self._wake.set()

    def _admit_logs(self, seq: int, size: int, events: list[LogEvent], feedback: list[Feedback]) -> None:
        assert self._watermark is not None
        for event in events:
            event.seq = seq
        self._watermark.begin(seq, size + RECORD_OVERHEAD_BYTES, len(events) + (1 if feedback else 0))
        self._assembler.add_logs(events)
        self._start_feedback(seq, feedback)
        self._wake.set()

    def _admit_feedback(self, seq: int, size: int, items: list[Feedback]) -> None:
        assert self._watermark is not None
        self._watermark.begin(seq, size + RECORD_OVERHEAD_BYTES, 1 if items else 0)
        self._start_feedback(seq, items)

    def _start_feedback(self, seq: int, items: list[Feedback]) -> None:
        """Handle ``items`` in the background; the record's hold is released once they are stored."""
        if not items:
            return
        for item in items:
            item.seq = seq

        async def handle() -> None:
            try:
                await self.analysis.handle_feedback(items)
            except AnalysisStopped:
                return  # not released: a restart replays it
            assert self._watermark is not None
            self._watermark.release(seq)

        task = asyncio.create_task(handle(), name=f"feedback-{seq}")
        self._feedback_tasks.add(task)
        task.add_done_callback(self._feedback_tasks.discard)

    def _on_abandoned(self, seq: int) -> None:
        if self._watermark is not None:
            self._watermark.skip(seq)

    # -- assembly → store ----------------------------------------------------------------------

    async def _pump(self) -> None:
        interval = self._config.service.poll_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            self._dispatch(*self._assembler.poll())
            self.analysis.tick()

    def _dispatch(self, released: list[Released], finished: list[int]) -> None:
        assert self._watermark is not None
        # Take the holds of what released spans carry before letting finished items go.
        for item in released:
            for seq in item.extra_seqs:
                self._watermark.hold(seq)
        for seq in finished:
            self._watermark.release(seq)
        if not released:
            return
        findings = self.analysis.process([item.span for item in released])
        max_items = self._config.service.write_batch_max_items
        for start in range(0, len(released), max_items):
            chunk = released[start : start + max_items]
            task = asyncio.create_task(self._write(chunk, findings))
            self._write_tasks.add(task)
            task.add_done_callback(self._write_tasks.discard)

    async def _write(self, released: list[Released], findings: asyncio.Future[None] | None) -> None:
        async with self._writers:
            await self._store_with_retry([item.span for item in released], _retry_forever)
        if findings is not None:
            # The records go only once what their spans triggered is written too.
            try:
                await asyncio.shield(findings)
            except AnalysisStopped:
                return  # not released: a restart replays them through a restored state
        assert self._watermark is not None
        for item in released:
            self._watermark.release(item.span.seq)
            for seq in item.extra_seqs:
                self._watermark.release(seq)

    async def _store_with_retry(
        self,
        spans: list[CanonicalSpan],
        backoff: Callable[[int, RetryableError | Exception], Awaitable[None]],
    ) -> None:
        attempt = 0
        while True:
            try:
                await self._sink.consume(spans)
                self.stored_spans += len(spans)
                return
            except PermanentError as exc:
                if len(spans) == 1:
                    # One bad span must not poison the rest of its batch: it alone is dropped.
                    _log.error("dropping span %s/%s: %s", spans[0].trace_id, spans[0].span_id, exc.reason)
                    self.dropped_spans += 1
                    return
                half = len(spans) // 2
                await self._store_with_retry(spans[:half], backoff)
                await self._store_with_retry(spans[half:], backoff)
                return
            except Exception as exc:  # unknown errors are retryable; the ingest log keeps the data
                attempt += 1
                await backoff(attempt, exc)


async def _retry_forever(attempt: int, exc: RetryableError | Exception) -> None:
    delay = retry_delay_s(attempt, exc)
    _log.warning("store write failed (attempt %d), retrying in %.1fs: %s", attempt, delay, exc)
    await asyncio.sleep(delay)
