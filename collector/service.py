"""The running service: builds the pipeline from a Config, starts and stops it in order.

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
from tracesieve.collector.pipeline import Pipeline
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpReceiver
from tracesieve.evals.sampling.schedule import WeeklySampler
from tracesieve.evals.store import SinkEvalStore
from tracesieve.sinks.clickhouse import ClickHouseSink

__all__ = ["RUN_FILE", "Service", "read_run_file"]

_log = logging.getLogger(__name__)

RUN_FILE = "collector.json"


class Service:
    """One tracesieve process: ``async with Service(config) as svc: ...`` or start/aclose."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir = config.service.data_dir.resolve()
        self.sink = ClickHouseSink(config.sinks.clickhouse)
        self.pipeline = Pipeline(config, self.sink, self.data_dir, self._fail)
        protocols = config.receivers.otlp.protocols
        self.grpc = OtlpGrpcReceiver(protocols.grpc, self.pipeline) if protocols.grpc else None
        self.http = OtlpHttpReceiver(protocols.http, self.pipeline) if protocols.http else None
        # The review loop's way into the store while this process holds it (tracesieve.evals).
        self.eval_store = SinkEvalStore(self.sink)
        # The weekly review batch, fed the flagged rows the analysis writes (tracesieve.evals.sampling).
        self.sampler: WeeklySampler | None = None
        if config.evals.sampling.schedule:
            self.sampler = WeeklySampler(
                config.evals.sampling, self.eval_store, self.data_dir, live=config.processors.sessions.enabled
            )
            self.pipeline.analysis.flagged_observer = self.sampler.observe
        self.admin: AdminServer | None = None
        if config.admin.endpoint:
            host, port = _split_endpoint(config.admin.endpoint)
            self.admin = AdminServer(
                host,
                port,
                self._readonly_query,
                token=config.admin.token,
                ready=lambda: self._started,
                insert=self.eval_store.insert_for_client,
                op=self.eval_store.call,
            )
            if config.evals.review.enabled:
                from tracesieve.evals.review.routes import mount as mount_review

                mount_review(self.admin, self.eval_store, config.evals.review)
        self._started = False
        self._closed = False
        self.failure: str | None = None
        self.failed = asyncio.Event()
        self._gc_threshold: tuple[int, int, int] | None = None

    def _fail(self, reason: str) -> None:
        """A part the service cannot run without has died: whoever runs the service stops it
        (``tracesieve run`` exits non-zero, for its supervisor to restart it)."""
        self.failure = reason
        self._started = False  # not ready any more
        self.failed.set()

    async def _readonly_query(self, sql: str, params: dict[str, Any] | None) -> tuple[list[str], Any]:
        return await self.sink.query(sql, params, readonly=True)

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self.pipeline.start()
        self._tune_gc()
        try:
            if self.sampler is not None:
                await self.sampler.start()
            if self.admin is not None:
                await self.admin.start()
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
            "tracesieve running: otlp grpc %s, http %s, admin %s, store %s",
            self.grpc and self.grpc.port,
            self.http and self.http.port,
            self.admin and self.admin.port,
            self.config.sinks.clickhouse.dsn,
        )

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
        if self.admin is not None:
            await self.admin.aclose(deadline)
        if self.sampler is not None:
            await self.sampler.aclose(deadline)
        await self.pipeline.aclose(deadline)
        self._restore_gc()

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
            "admin": f"http://{_connect_host(self.config.admin.endpoint)}:{self.admin.port}"
            if self.admin
            else None,
            "admin_token_required": bool(self.config.admin.token),
            "grpc_port": self.grpc.port if self.grpc else None,
            "http_port": self.http.port if self.http else None,
            "store": self.config.sinks.clickhouse.dsn,
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


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def _connect_host(endpoint: str | None) -> str:
    host = _split_endpoint(endpoint or "127.0.0.1:0")[0]
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
