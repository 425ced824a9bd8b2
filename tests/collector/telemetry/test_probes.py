"""``/healthz`` and ``/readyz`` on a running service: what they check, and that they flip.

Readiness needs the store *or* the spool. To take both away for real: the store is made to
refuse span INSERTs the way a ClickHouse under merge pressure does (``parts_to_throw_insert``
on the spans table with merges stopped: every INSERT fails with TOO_MANY_PARTS, which is
retryable), so acknowledged requests pile up in the ingest log, whose ``max_bytes`` is tiny,
until it refuses them (429, reason spool_full). Then neither can take data: 503, and the body
names both checks. Given back its setting, the store takes the spool's backlog and readiness
returns.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import aiohttp
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tracesieve.collector.service import Service

from .conftest import Samples, Scrape


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def llm_spans(count: int) -> list[ReadableSpan]:
    """``count`` LLM spans of one session (each its own trace), finished."""
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "probe-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("opentelemetry.util.genai.handler")
    for i in range(count):
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "session.id": f"s{i}"}
        with tracer.start_as_current_span("chat m", kind=SpanKind.CLIENT, attributes=attributes):
            pass
    provider.shutdown()
    return list(spans.get_finished_spans())


async def probe(service: Service, path: str) -> tuple[int, dict[str, Any]]:
    assert service.admin is not None
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{service.admin.port}{path}") as response,
    ):
        return response.status, await response.json()


async def probe_until(service: Service, path: str, status: int, timeout_s: float = 15) -> dict[str, Any]:
    end = time.monotonic() + timeout_s
    while True:
        got, body = await probe(service, path)
        if got == status or time.monotonic() > end:
            assert got == status, body
            return body
        await asyncio.sleep(0.1)


async def test_ready_while_the_store_or_the_spool_takes_data_and_not_when_neither_does(
    service_factory: Any, database_name: str, scrape: Scrape
) -> None:
    service: Service = await service_factory(
        "ready",
        database_name,
        **{"service.ingest_log.max_bytes": 6_000, "processors.sessions.enabled": False},
    )
    assert service.http is not None and service.sink is not None
    body = await probe_until(service, "/readyz", 200)
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["store"]["ok"] and body["checks"]["spool"]["ok"]
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{service.http.port}/v1/traces", timeout=1)
    assert (await asyncio.to_thread(exporter.export, llm_spans(1))).name == "SUCCESS"
    assert await service.wait_stored()

    # The store refuses every span INSERT (retryable): requests are acknowledged from the spool…
    table = f"{database_name}.spans"
    await service.sink.query(f"SYSTEM STOP MERGES {table}", readonly=False)
    await service.sink.query(f"ALTER TABLE {table} MODIFY SETTING parts_to_throw_insert = 1", readonly=False)
    before = await scrape(service)
    acked = 0
    for _ in range(20):
        result = await asyncio.to_thread(exporter.export, llm_spans(5))
        if result.name != "SUCCESS":
            break
        acked += 5
    # …until it is full: the last export was refused (429, retried by the SDK until its timeout).
    assert 0 < acked < 100
    after = await scrape(service)
    refused = "tracesieve_receiver_refused_requests_total"
    assert value(after, refused, protocol="http", signal="traces", reason="spool_full") > value(
        before, refused, protocol="http", signal="traces", reason="spool_full"
    )
    assert value(after, "tracesieve_spool_unstored_bytes") > 0
    body = await probe_until(service, "/readyz", 503)
    assert body["status"] == "not ready"
    assert sorted(body["failed"]) == ["spool", "store"]
    assert "refuses span INSERTs" in body["checks"]["store"]["detail"]
    assert "ingest log full" in body["checks"]["spool"]["detail"]
    assert (await probe(service, "/healthz"))[0] == 200  # alive: nothing to restart
    assert value(await scrape(service), "tracesieve_ready") == 0

    # The store takes writes again: the spool drains in order and readiness comes back.
    await service.sink.query(
        f"ALTER TABLE {table} MODIFY SETTING parts_to_throw_insert = 3000", readonly=False
    )
    await service.sink.query(f"SYSTEM START MERGES {table}", readonly=False)
    body = await probe_until(service, "/readyz", 200, timeout_s=40)
    assert body["checks"]["spool"]["ok"]
    assert await service.wait_stored(40)
    _, rows = await service.sink.query(f"SELECT count() FROM {table} FINAL")
    assert rows[0][0] == 1 + acked  # nothing acknowledged was lost
    exporter.shutdown()


async def test_healthz_and_readyz_fail_when_the_analysis_worker_dies(
    service_factory: Any, database_name: str
) -> None:
    service: Service = await service_factory("worker", database_name)
    body = await probe_until(service, "/healthz", 200)
    assert body["checks"]["analysis_worker"]["ok"] and body["checks"]["event_loop"]["ok"]
    assert service.pipeline is not None
    pid = service.pipeline.analysis.host.pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGKILL)
    body = await probe_until(service, "/healthz", 503)
    assert body["status"] == "unhealthy" and body["failed"] == ["analysis_worker"]
    body = await probe_until(service, "/readyz", 503)
    assert "service" in body["failed"]
    assert "analysis worker" in body["checks"]["service"]["detail"]
