"""A running service's metrics source and its ``/healthz`` and ``/readyz`` checks, by role.

Reads the service's parts (pipeline, sink, Kafka stages and publisher, analysis host) through
the read-only properties they expose for it; see :mod:`.health` for what each check means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tracesieve.collector.kafka.assembly_stage import AssemblyStage

from . import detector_time
from .health import STORE_TIMEOUT_S, Check, Checker, CheckFn, cached, folder_writable
from .metrics import set_build_info
from .state import Sample, register_source

if TYPE_CHECKING:
    from tracesieve.collector.service import Service
    from tracesieve.sinks.clickhouse import ClickHouseSink

__all__ = ["ServiceTelemetry"]


class ServiceTelemetry:
    """Built by the service; :meth:`start` adds its metrics to ``/metrics``, :meth:`close`
    takes them away. ``running()`` says whether the service started and did not fail."""

    def __init__(self, service: Service, running: Callable[[], bool]) -> None:
        self._service = service
        self._running = running
        self._remove: Callable[[], None] | None = None
        self._store = _StoreProbe(service.sink) if service.sink is not None else None
        self.liveness = Checker({"event_loop": _answers, "analysis_worker": self._worker_alive})
        required: dict[str, CheckFn] = {"service": self._started}
        any_of: dict[str, CheckFn] = {}
        if service.pipeline is not None:
            if self._store is not None:
                any_of["store"] = cached(self._store.check)
            any_of["spool"] = cached(self._spool_writable)
        else:
            if service.publisher is not None:
                required["kafka_producer"] = self._producer_connected
            for stage in service.stages:
                required[f"kafka_{stage.name}"] = self._stage_check(stage.name)
        self.readiness = Checker(required, any_of)

    def start(self) -> None:
        config = self._service.config
        set_build_info(config.transport.kind, config.service.role)
        if self._remove is None:
            self._remove = register_source(self._samples)

    def close(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None

    # -- checks -------------------------------------------------------------------------------

    async def _started(self) -> Check:
        failure = self._service.failure
        if failure is not None:
            return Check(False, f"stopped: {failure}")
        if not self._running():
            return Check(False, "not started yet, or shutting down")
        return Check(True, "running")

    async def _worker_alive(self) -> Check:
        pipeline = self._service.pipeline
        host = pipeline.analysis.host if pipeline is not None else None
        alive = getattr(host, "alive", None)
        if alive is None:
            return Check(True, "no analysis worker in this process")
        if not alive:
            return Check(False, f"analysis worker is gone: {getattr(host, 'failed', None) or 'not running'}")
        return Check(True, f"analysis worker {getattr(host, 'pid', '?')} running")

    async def _spool_writable(self) -> Check:
        assert self._service.pipeline is not None
        log = self._service.pipeline.ingest_log
        if not log.has_room():
            return Check(
                False,
                f"ingest log full: {log.size_bytes} of {log.max_bytes} bytes await storage",
            )
        folder = await asyncio.to_thread(folder_writable, log.directory)
        if not folder.ok:
            return folder
        return Check(True, f"ingest log has room ({log.size_bytes} of {log.max_bytes} bytes used)")

    async def _producer_connected(self) -> Check:
        publisher = self._service.publisher
        if publisher is not None and publisher.connected:
            return Check(True, "Kafka producer connected")
        return Check(False, "Kafka producer not connected")

    def _stage_check(self, name: str) -> CheckFn:
        async def check() -> Check:
            stage = next(s for s in self._service.stages if s.name == name)
            if stage.connected:
                return Check(True, f"Kafka consumer of the {name} stage in its group")
            return Check(False, stage.failure or f"Kafka consumer of the {name} stage not connected")

        return check

    # -- metrics ------------------------------------------------------------------------------

    def _samples(self) -> Iterator[Sample]:
        service = self._service
        pipeline = service.pipeline
        if pipeline is not None:
            log = pipeline.ingest_log
            yield "tracesieve_spool_unstored_bytes", (), log.size_bytes
            yield "tracesieve_spool_capacity_bytes", (), log.max_bytes
            yield "tracesieve_spool_segment_files", (), log.segment_files
            yield "tracesieve_assembler_held_spans", (), pipeline.assembler.held_spans
            yield "tracesieve_assembler_pending_logs", (), pipeline.assembler.pending_logs
            yield "tracesieve_write_batches_in_flight", (), pipeline.write_batches_in_flight
            yield "tracesieve_analysis_backlog_requests", (), pipeline.analysis.host.backlog
            yield "tracesieve_analysis_pending_writes", (), pipeline.analysis.pending_writes
            yield "tracesieve_store_refused_spans", (), pipeline.dropped_spans
        sink = service.sink
        if sink is not None:
            stats = sink.stats
            yield "tracesieve_sink_queued_spans", (), sink.queued_spans
            yield "tracesieve_sink_inserts", (), stats.inserts
            yield "tracesieve_sink_insert_failures", (), stats.insert_failures
            yield "tracesieve_sink_rows_written", (), stats.rows_written
            yield "tracesieve_sink_duplicates_dropped", (), stats.duplicates_dropped
        if service.publisher is not None:
            yield "tracesieve_kafka_published_requests", (), service.publisher.published
        for stage in service.stages:
            yield "tracesieve_kafka_consumer_lag_records", (("stage", stage.name),), stage.lag_records()
            if isinstance(stage, AssemblyStage):
                yield "tracesieve_assembler_held_spans", (), stage.held_spans
                yield "tracesieve_assembler_pending_logs", (), stage.pending_logs
        limiter = service.memory_limiter
        if limiter is not None:
            yield "tracesieve_memory_resident_bytes", (), limiter.resident
            yield "tracesieve_memory_soft_limit_bytes", (), limiter.soft_limit_bytes
            yield "tracesieve_memory_hard_limit_bytes", (), limiter.hard_limit_bytes
            yield "tracesieve_memory_refusing", (), 1.0 if limiter.refusing else 0.0
        if service.redacting is not None:
            for kind, count in service.redacting.redactor.redactions.items():
                yield "tracesieve_redactions", (("kind", kind),), count
            yield "tracesieve_redacted_requests", (), service.redacting.requests_changed
        if self.readiness.last_ok is not None:
            yield "tracesieve_ready", (), 1.0 if self.readiness.last_ok else 0.0


# Detector time is the process's (and its worker's), whichever service runs the detectors.
register_source(detector_time.samples)


async def _answers() -> Check:
    return Check(True, "event loop answers")  # this runs on it


class _StoreProbe:
    """``SELECT 1`` within :data:`STORE_TIMEOUT_S` (one at a time: a hung store gets no pile of
    queries), and whether the span INSERTs since the last look all failed."""

    def __init__(self, sink: ClickHouseSink) -> None:
        self._sink = sink
        self._query: asyncio.Task[object] | None = None
        self._seen = (sink.stats.inserts, sink.stats.insert_failures)
        self._writes_failing = False

    async def check(self) -> Check:
        if self._query is None or self._query.done():
            self._query = asyncio.ensure_future(self._sink.query("SELECT 1"))
            # Retrieved here too: a query that outlives its timeout must not log "never retrieved".
            self._query.add_done_callback(lambda task: task.cancelled() or task.exception())
        query = self._query
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                await asyncio.shield(query)
        except TimeoutError:
            return Check(False, f"store did not answer SELECT 1 within {STORE_TIMEOUT_S:g} s")
        except Exception as exc:
            return Check(False, f"store not reachable: {exc}")
        inserts, failures = self._sink.stats.inserts, self._sink.stats.insert_failures
        if inserts > self._seen[0]:
            self._writes_failing = False
        elif failures > self._seen[1]:
            self._writes_failing = True
        self._seen = (inserts, failures)
        if self._writes_failing:
            return Check(False, "store answers queries but refuses span INSERTs (see the log)")
        return Check(True, "store reachable")
