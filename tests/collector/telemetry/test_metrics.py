"""``GET /metrics`` on a running service: real SDK exporters and malformed requests in, the
counters, histograms and gauges they should have moved read back from the admin port."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import grpc
import grpc.aio as grpc_aio
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tracesieve.collector.service import Service

from .conftest import Samples, Scrape

REFUSAL = "I'm sorry, but I can't help with that."


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def turn(session: str, question: str, answer: str) -> list[ReadableSpan]:
    """One openai-v2 style turn (a root and its chat span), finished, for an exporter to send."""
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "telemetry-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("chat_app")
    genai = provider.get_tracer("opentelemetry.util.genai.handler")
    messages = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": question}]}]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
        ),
    }
    with (
        tracer.start_as_current_span("chat_turn", attributes={"session.id": session}),
        genai.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=messages),
    ):
        pass
    provider.shutdown()
    return list(spans.get_finished_spans())


def json_traces(*trace_ids: str) -> bytes:
    """An OTLP/JSON traces request with one span per trace id (wrong lengths get rejected)."""
    now = time.time_ns()
    spans = [
        {
            "traceId": trace_id,
            "spanId": f"{i + 1:016x}",
            "name": "step",
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 1000),
        }
        for i, trace_id in enumerate(trace_ids)
    ]
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


async def post(service: Service, path: str, body: bytes, content_type: str) -> int:
    assert service.http is not None
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{service.http.port}{path}", data=body, headers={"Content-Type": content_type}
        ) as response,
    ):
        await response.read()
        return response.status


async def eventually(scrape: Scrape, service: Service, ok: Any, timeout_s: float = 20) -> Samples:
    end = time.monotonic() + timeout_s
    while True:
        samples = await scrape(service)
        if ok(samples) or time.monotonic() > end:
            return samples
        await asyncio.sleep(0.2)


async def test_metrics_move_by_what_was_received_refused_stored_and_flagged(
    service_factory: Any, database_name: str, scrape: Scrape
) -> None:
    overrides = {
        "receivers.otlp.protocols.http.max_request_body_bytes": 64 * 1024,
        # Context spans keep their request in the spool until their trace goes idle.
        "processors.assembly.trace_idle_s": 1.0,
        "processors.assembly.log_wait_s": 0.5,
    }
    service: Service = await service_factory("metrics", database_name, **overrides)
    assert service.grpc is not None and service.http is not None
    before = await scrape(service)

    to_grpc = GrpcSpanExporter(endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True)
    to_http = HttpSpanExporter(endpoint=f"http://127.0.0.1:{service.http.port}/v1/traces")
    refused_turn = turn("s-grpc", "How do I cancel?", REFUSAL)
    assert (await asyncio.to_thread(to_grpc.export, refused_turn)).name == "SUCCESS"
    assert (await asyncio.to_thread(to_http.export, turn("s-http", "What is 2+2?", "4."))).name == "SUCCESS"
    to_grpc.shutdown()
    to_http.shutdown()
    # Malformed requests, one per refusal reason a client can cause, and a partial success.
    assert await post(service, "/v1/traces", b"\xff not protobuf", "application/x-protobuf") == 400
    assert await post(service, "/v1/traces", b"{}", "text/plain") == 415
    assert await post(service, "/v1/traces", b"\0" * (65 * 1024), "application/x-protobuf") == 413
    partial = json_traces("ab" * 16, "abcd")  # the second trace id is 2 bytes long
    assert await post(service, "/v1/traces", partial, "application/json") == 200
    async with grpc_aio.insecure_channel(f"127.0.0.1:{service.grpc.port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc_aio.AioRpcError) as refused_call:
            await export(b"\xff not protobuf")
        assert refused_call.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await service.wait_stored()

    after = await eventually(
        scrape,
        service,
        lambda s: (
            value(s, "tracesieve_detector_seconds_total", detector="refusal") > 0
            and value(s, "tracesieve_spool_unstored_bytes") == 0
            and delta(before, s, "tracesieve_flagged_spans_total") >= 1
        ),
    )
    d = lambda name, **labels: delta(before, after, name, **labels)  # noqa: E731

    assert d("tracesieve_receiver_requests_total", protocol="grpc", signal="traces") == 2
    assert d("tracesieve_receiver_requests_total", protocol="http", signal="traces") == 5
    assert d("tracesieve_receiver_items_total", protocol="grpc", signal="traces") == 2
    assert d("tracesieve_receiver_items_total", protocol="http", signal="traces") == 4
    assert d("tracesieve_receiver_accepted_items_total", protocol="grpc", signal="traces") == 2
    assert d("tracesieve_receiver_accepted_items_total", protocol="http", signal="traces") == 3
    assert d("tracesieve_receiver_rejected_items_total", protocol="http", signal="traces") == 1
    refused = "tracesieve_receiver_refused_requests_total"
    assert d(refused, protocol="http", signal="traces", reason="bad_input") == 1
    assert d(refused, protocol="http", signal="traces", reason="unsupported_media") == 1
    assert d(refused, protocol="http", signal="traces", reason="too_large") == 1
    assert d(refused, protocol="grpc", signal="traces", reason="bad_input") == 1
    assert d(refused, protocol="grpc", signal="traces", reason="too_large") == 0

    # Stored: the sink's counters and the INSERT and fsync histograms moved; the spool is empty.
    # The two LLM spans: context spans lend them their attributes and are not rows of their own.
    assert d("tracesieve_sink_rows_written_total") == 2
    assert d("tracesieve_sink_insert_duration_seconds_count", table="spans") > 0
    assert d("tracesieve_sink_insert_duration_seconds_sum", table="spans") > 0
    assert d("tracesieve_spool_fsync_duration_seconds_count") > 0
    assert value(after, "tracesieve_spool_unstored_bytes") == 0
    assert value(after, "tracesieve_spool_capacity_bytes") == service.config.service.ingest_log.max_bytes
    assert value(after, "tracesieve_spool_segment_files") >= 1
    assert value(after, "tracesieve_assembler_held_spans") == 0
    assert value(after, "tracesieve_write_batches_in_flight") == 0

    # Flagged: the refusal's signal and its flagged turn, and the time its detector took.
    assert d("tracesieve_signals_total", signal="refusal") >= 1
    assert d("tracesieve_flagged_spans_total") >= 1
    assert d("tracesieve_sink_insert_duration_seconds_count", table="signals") >= 1
    assert value(after, "tracesieve_detector_seconds_total", detector="refusal") > 0
    assert value(after, "tracesieve_detector_calls_total", detector="refusal") >= 1

    # The process and the build.
    assert value(after, "process_resident_memory_bytes") > 0
    assert value(after, "process_open_fds") > 0
    assert any(name == "tracesieve_build_info" for name, _ in after)
    assert any(name == "python_gc_collections_total" for name, _ in after)


async def test_metrics_need_the_admin_token_and_healthz_does_not(
    service_factory: Any, database_name: str, scrape: Scrape
) -> None:
    service: Service = await service_factory("token", database_name, **{"admin.token": "s3cret"})
    assert service.admin is not None
    base = f"http://127.0.0.1:{service.admin.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 401
        async with http.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
        headers = {"Authorization": "Bearer s3cret"}
        async with http.get(f"{base}/readyz", headers=headers) as response:
            assert response.status == 200
    samples = await scrape(service)  # with the token
    assert value(samples, "tracesieve_ready") == 1


async def test_the_memory_limiter_shows_in_the_metrics(
    service_factory: Any, database_name: str, scrape: Scrape
) -> None:
    service: Service = await service_factory(
        "metrics-memory", database_name, **{"processors.memory_limiter.limit_mib": 1}
    )
    samples = await scrape(service)
    # 1 MiB is far below what any Python process holds: the limiter refuses from the start.
    assert value(samples, "tracesieve_memory_refusing") == 1.0
    assert value(samples, "tracesieve_memory_hard_limit_bytes") == 1 << 20
    assert value(samples, "tracesieve_memory_resident_bytes") > 1 << 20
    assert await post(service, "/v1/traces", b"", "application/x-protobuf") == 429
    after = await scrape(service)
    refused = {"protocol": "http", "signal": "traces", "reason": "memory_limit"}
    assert delta(samples, after, "tracesieve_receiver_refused_requests_total", **refused) == 1


async def test_redactions_show_in_the_metrics(
    service_factory: Any, database_name: str, scrape: Scrape
) -> None:
    service: Service = await service_factory(
        "metrics-redaction", database_name, **{"processors.redaction.enabled": True}
    )
    assert service.http is not None
    exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{service.http.port}/v1/traces")
    sent = await asyncio.to_thread(exporter.export, turn("s-redact", "mail me at ada@example.com", "Done."))
    exporter.shutdown()
    assert sent.name == "SUCCESS"
    samples = await scrape(service)
    assert value(samples, "tracesieve_redactions_total", kind="email") == 1
    assert value(samples, "tracesieve_redacted_requests_total") == 1
