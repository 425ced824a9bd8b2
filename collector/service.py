"""The running service: builds the pipeline from a Config, starts and stops it in order.

With ``transport.kind: embedded`` that is the one-process pipeline; with ``kafka`` it is the
stages ``service.role`` names (receivers publishing to Kafka, the normaliser and assembler, the
processor replicas; all of them for ``all``), see :mod:`tracesieve.collector.kafka`.

Start order is downstream-first (store, pipeline, admin, then receivers) and stop order the
reverse, as in the OTel Collector's service graph, so no receiver ever accepts data that has
nowhere to go. While it runs, ``<data_dir>/collector.json`` tells ``tracesieve query`` where the
admin API is (the embedded store admits one process at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from tracesieve.collector.admin import AdminServer
from tracesieve.collector.config import Config
from tracesieve.collector.contracts import OtlpConsumer
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.kafka.assembly_stage import AssemblyStage
from tracesieve.collector.kafka.clients import ensure_topics
from tracesieve.collector.kafka.normaliser import NormaliserStage
from tracesieve.collector.kafka.processor_stage import ProcessorStage
from tracesieve.collector.kafka.publisher import KafkaPublisher
from tracesieve.collector.kafka.stage import ConsumerStage
from tracesieve.collector.pipeline import Pipeline
from tracesieve.collector.receivers._auth import read_token_file
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpReceiver
from tracesieve.collector.receivers.otlp_http.feedback import encode_feedback_record
from tracesieve.collector.telemetry.metrics import render_metrics
from tracesieve.collector.telemetry.service_checks import ServiceTelemetry
from tracesieve.collector.tls import server_ssl_context
from tracesieve.evals.sampling.schedule import WeeklySampler
from tracesieve.evals.store import SinkEvalStore
from tracesieve.processors.memory_limiter import MemoryLimitedConsumer, MemoryLimiter
from tracesieve.processors.redaction import RedactingConsumer
from tracesieve.processors.redaction import factory as redaction
from tracesieve.sinks.clickhouse import ClickHouseSink

__all__ = ["RUN_FILE", "Service", "read_run_file"]

_log = logging.getLogger(__name__)

RUN_FILE = "collector.json"


class Service:
    """One tracesieve process: ``async with Service(config) as svc: ...`` or start/aclose."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir = config.service.data_dir.resolve()
        role = config.service.role
        scaled = config.transport.kind == "kafka"
        self.pipeline: Pipeline | None = None
        self.publisher: KafkaPublisher | None = None
        self.stages: list[ConsumerStage] = []
        # Every role but the Kafka receiver and normaliser stores something.
        self.sink: ClickHouseSink | None = None
        if not scaled or role in ("all", "processor"):
            self.sink = ClickHouseSink(config.sinks.clickhouse)
        consumer: OtlpConsumer | None = None
        if not scaled:
            assert self.sink is not None
            self.pipeline = Pipeline(config, self.sink, self.data_dir, self._fail)
            consumer = self.pipeline
        else:
            kafka = config.transport.kafka
            if role in ("all", "receiver"):
                consumer = self.publisher = KafkaPublisher(kafka)
            if role in ("all", "normaliser"):
                self.stages.append(NormaliserStage(kafka, config.processors.normalise, self._fail))
                self.stages.append(AssemblyStage(kafka, config.processors.assembly, self._fail))
            if role in ("all", "processor"):
                assert self.sink is not None
                self.stages.append(ProcessorStage(kafka, config.processors, self.sink, self._fail))
        # Redaction before anything is logged (embedded) or published (receiver role); absent when off.
        if consumer is not None:
            normalise = config.processors.normalise
            consumer = redaction(
                config.processors.redaction,
                consumer,
                encode_feedback_record,
                (*normalise.session_id_keys, *normalise.user_id_keys),
            )
        self.redacting = consumer if isinstance(consumer, RedactingConsumer) else None
        # First in front of the receivers, as the OTel Collector's memory_limiter: refusals
        # cost a request neither its body read nor its decoding.
        self.memory_limiter: MemoryLimiter | None = None
        if consumer is not None and config.processors.memory_limiter.enabled:
            self.memory_limiter = MemoryLimiter(config.processors.memory_limiter, self._worker_pids)
            consumer = MemoryLimitedConsumer(self.memory_limiter, consumer)
        protocols = config.receivers.otlp.protocols
        self.grpc = OtlpGrpcReceiver(protocols.grpc, consumer) if protocols.grpc and consumer else None
        self.http = OtlpHttpReceiver(protocols.http, consumer) if protocols.http and consumer else None
        # The review loop's way into the store while this process holds it (tracesieve.evals).
        self.eval_store = SinkEvalStore(self.sink) if self.sink is not None else None
        # The weekly review batch, fed the flagged rows the analysis writes (tracesieve.evals.sampling);
        # in scaled mode it reads them from the store when the week is due.
        self.sampler: WeeklySampler | None = None
        if config.evals.sampling.schedule and self.eval_store is not None:
            live = config.processors.sessions.enabled and self.pipeline is not None
            self.sampler = WeeklySampler(config.evals.sampling, self.eval_store, self.data_dir, live=live)
            if self.pipeline is not None:
                self.pipeline.analysis.flagged_observer = self.sampler.observe
        self.telemetry = ServiceTelemetry(self, lambda: self._started)
        self.admin: AdminServer | None = None
        if config.admin.endpoint:
            host, port = _split_endpoint(config.admin.endpoint)
            store = self.eval_store
            self.admin = AdminServer(
                host,
                port,
                self._readonly_query,
                token=_admin_token(config),
                ssl_context=server_ssl_context(config.admin.tls, "admin.tls") if config.admin.tls else None,
                ready=lambda: self._started,
                health=self.telemetry.liveness.run,
                readiness=self.telemetry.readiness.run,
                metrics=render_metrics,
                insert=store.insert_for_client if store is not None else None,
                op=store.call if store is not None else None,
            )
            if config.evals.review.enabled and store is not None:
                from tracesieve.evals.review.routes import mount as mount_review

                mount_review(self.admin, store, config.evals.review)
        self._started = False
        self._closed = False
        self.failure: str | None = None
        self.failed = asyncio.Event()
        self._gc_threshold: tuple[int, int, int] | None = None

    def _worker_pids(self) -> list[int]:
        host = self.pipeline.analysis.host if self.pipeline is not None else None
        pid = getattr(host, "pid", None)
        return [pid] if isinstance(pid, int) else []

    def _fail(self, reason: str) -> None:
        """A part the service cannot run without has died: whoever runs the service stops it
        (``tracesieve run`` exits non-zero, for its supervisor to restart it)."""
        self.failure = reason
        self._started = False  # not ready any more
        self.failed.set()

    async def _readonly_query(self, sql: str, params: dict[str, Any] | None) -> tuple[list[str], Any]:
        if self.sink is None:
            raise PermanentError(f"the {self.config.service.role} role has no store to query")
        return await self.sink.query(sql, params, readonly=True)

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.telemetry.start()
        if self.pipeline is not None:
            await self.pipeline.start()
        self._tune_gc()
        try:
            if self.config.transport.kind == "kafka":
                await ensure_topics(self.config.transport.kafka)
            if self.sink is not None and self.pipeline is None:
                await self.sink.start()
            # Downstream first: processors, then the normaliser, then the publisher and receivers.
            for stage in reversed(self.stages):
                await stage.start()
            if self.publisher is not None:
                await self.publisher.start()
            if self.sampler is not None:
                await self.sampler.start()
            if self.admin is not None:
                await self.admin.start()
            if self.memory_limiter is not None:
                await self.memory_limiter.start()
            if self.grpc is not None:
                await self.grpc.start()
            if self.http is not None:
                await self.http.start()
        except BaseException:
            await self.aclose()
            raise
        self._started = True
        self._write_run_file()
        _log.info(
            "tracesieve running (%s, %s): otlp grpc %s, http %s, admin %s, store %s",
            self.config.transport.kind,
            self.config.service.role,
            self.grpc and self.grpc.port,
            self.http and self.http.port,
            self.admin and self.admin.port,
            self.sink and self.config.sinks.clickhouse.dsn,
        )

    async def wait_stored(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything received so far is stored and analysed (tests, benchmarks, the
        demo): the embedded pipeline drains; over Kafka, every stage of this process has
        committed all its partitions hold. False on timeout."""
        if self.pipeline is not None:
            return await self.pipeline.wait_stored(timeout_s)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while loop.time() < end:
            # Upstream first, so that what a stage passed on is seen by the next one.
            if all([await stage.caught_up() for stage in self.stages]):
                return True
            await asyncio.sleep(0.05)
        return False

    def _tune_gc(self) -> None:
        # Spans are acyclic and die young; what lives long is start-up state. Freezing it and
        # collecting the young generation less often keeps the collector off the hot path.
        threshold = self.config.service.gc_gen0_threshold
        if threshold:
            self._gc_threshold = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(threshold, *self._gc_threshold[1:])

    def _restore_gc(self) -> None:
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            gc.unfreeze()
            self._gc_threshold = None

    async def aclose(self, timeout_s: float | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self._started = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout_s or self.config.service.shutdown_timeout_s)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / RUN_FILE).unlink()
        for receiver in (self.http, self.grpc):
            if receiver is not None:
                await receiver.aclose(deadline)
        if self.memory_limiter is not None:
            await self.memory_limiter.aclose(deadline)
        if self.admin is not None:
            await self.admin.aclose(deadline)
        if self.sampler is not None:
            await self.sampler.aclose(deadline)
        if self.publisher is not None:
            await self.publisher.aclose(deadline)
        for stage in self.stages:
            await stage.aclose(deadline)
        if self.pipeline is not None:
            await self.pipeline.aclose(deadline)
        elif self.sink is not None:
            await self.sink.aclose(deadline)
        self._restore_gc()
        self.telemetry.close()

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _write_run_file(self) -> None:
        info = {
            "pid": os.getpid(),
            "admin": f"{'https' if self.config.admin.tls else 'http'}://"
            f"{_connect_host(self.config.admin.endpoint)}:{self.admin.port}"
            if self.admin
            else None,
            "admin_token_required": bool(self.config.admin.token or self.config.admin.token_file),
            "grpc_port": self.grpc.port if self.grpc else None,
            "http_port": self.http.port if self.http else None,
            "store": self.config.sinks.clickhouse.dsn if self.sink is not None else None,
            "database": self.config.sinks.clickhouse.database,
        }
        tmp = self.data_dir / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.data_dir / RUN_FILE)


def read_run_file(data_dir: Path) -> dict[str, Any] | None:
    """The run file of a collector that is alive on this data folder, if any."""
    try:
        info: dict[str, Any] = json.loads((data_dir / RUN_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left behind by a killed collector
    except PermissionError:
        pass
    return info


def _admin_token(config: Config) -> str | None:
    path = config.admin.token_file
    if path is None:
        return config.admin.token
    return read_token_file(path, "admin.token_file")


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def _connect_host(endpoint: str | None) -> str:
    host = _split_endpoint(endpoint or "127.0.0.1:0")[0]
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
