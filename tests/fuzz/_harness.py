"""What the fuzz targets share: the oracle's failures, the server-log watch, the background event
loop the receivers run on, and a consumer that puts every accepted request through the rest of
the in-process path (normalise, feedback, the ClickHouse row encoding).

A target signals a finding by raising :class:`FuzzCrash` or :class:`FuzzHang`; atheris stops on
the uncaught exception and ``scripts/fuzz.py`` tells the two apart by the class name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import traceback
from collections.abc import Coroutine
from typing import Any, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent, PartialResult
from tracesieve.collector.receivers.otlp_http.feedback import decode_feedback_record, encode_feedback_record
from tracesieve.processors.normalise import (
    NormaliseConfig,
    apply_log_event,
    extract_feedback,
    normalise_logs,
    normalise_traces,
)
from tracesieve.sinks.clickhouse.rows import build_rows

__all__ = [
    "BackgroundLoop",
    "CheckingConsumer",
    "ErrorLogWatch",
    "FuzzCrash",
    "FuzzHang",
    "check_logs",
    "check_traces",
]

T = TypeVar("T")

CONFIG = NormaliseConfig()


class FuzzCrash(AssertionError):
    """The oracle failed: a wrong status, an unexpected exception, a broken invariant."""


class FuzzHang(AssertionError):
    """An input was not answered within its deadline."""


class ErrorLogWatch(logging.Handler):
    """Collects ERROR (and worse) records from every logger, and normalisation's warnings.

    An unhandled exception in a server is logged there (the receivers' "failed unexpectedly",
    aiohttp's "Error handling request", asyncio's "Exception in callback"), never swallowed.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._lock_records = threading.Lock()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Normalisation's warnings are caught bugs too (a span only partly normalised, a log
        # event left out of its span): the product survives them, the fuzzer reports them.
        if record.levelno < logging.ERROR and not record.name.startswith("tracesieve.processors"):
            return
        with self._lock_records:
            self.records.append(record)

    def install(self) -> ErrorLogWatch:
        logging.getLogger().addHandler(self)
        return self

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)

    def raise_if_any(self) -> None:
        with self._lock_records:
            records, self.records = self.records, []
        if records:
            lines = []
            for record in records:
                lines.append(f"{record.name}: {record.getMessage()}")
                if record.exc_info and record.exc_info[1] is not None:
                    lines.extend(traceback.format_exception(record.exc_info[1]))
            raise FuzzCrash("error logged by the server:\n" + "\n".join(lines))


class BackgroundLoop:
    """An event loop on a daemon thread, for servers the (synchronous) fuzz target talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


def check_traces(request: ExportTraceServiceRequest) -> tuple[int, str]:
    """Normalise ``request`` as the pipeline does and encode its rows; any exception is a bug."""
    spans, rejected, message = normalise_traces(request, CONFIG)
    if "partly normalised" in message:
        raise FuzzCrash(f"normalise_traces caught an exception of its own: {message}")
    feedback = extract_feedback(spans)
    _check_rows(spans)
    _check_feedback(feedback)
    return rejected, message


def check_logs(request: ExportLogsServiceRequest) -> tuple[int, str]:
    """Normalise ``request``, join each event to a span of its ids, encode the rows."""
    events, feedback, rejected, message = normalise_logs(request, CONFIG)
    spans = [_joined(event) for event in events]
    _check_rows(spans)
    _check_feedback(feedback)
    return rejected, message


def _joined(event: LogEvent) -> CanonicalSpan:
    span = CanonicalSpan(event.trace_id, event.span_id, "", "chat", 1, 2)
    apply_log_event(span, event)
    return span


def _check_rows(spans: list[CanonicalSpan]) -> None:
    if spans:
        # What the sink would INSERT: a ValueError here means an acknowledged span is dropped.
        build_rows(spans, 1_700_000_000_000)


def _check_feedback(items: list[Feedback]) -> None:
    if items:
        back = decode_feedback_record(encode_feedback_record(items))
        if [dataclasses.replace(f, seq=0) for f in items] != back:
            raise FuzzCrash("feedback does not survive the ingest-log record")


class CheckingConsumer:
    """An ``OtlpConsumer`` that accepts everything after :func:`check_traces`/:func:`check_logs`.

    An exception in there reaches the receiver, which logs it and answers 503 / UNAVAILABLE: the
    log watch reports it as a crash. ``accepted`` counts the requests that got through.
    """

    def __init__(self) -> None:
        self.accepted = 0

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        rejected, message = check_traces(request)
        self.accepted += 1
        return PartialResult(rejected, message)

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        rejected, message = check_logs(request)
        self.accepted += 1
        return PartialResult(rejected, message)

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        if decode_feedback_record(raw) != items:
            raise FuzzCrash("the feedback record does not decode to the items")
        self.accepted += 1
        return PartialResult()
