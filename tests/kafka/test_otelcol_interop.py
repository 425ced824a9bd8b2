"""The official OpenTelemetry Collector in front of tracesieve's Kafka transport: spans from the
OpenTelemetry SDK go through ``otelcol-tracesieve`` (OTLP receiver → Kafka exporter, otlp_proto)
to the broker, tracesieve's normaliser and processors consume them, and the rows are the ones the
same spans give when the SDK exports them to tracesieve directly (embedded mode)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracesieve.collector.service import Service

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(1800)]

# (session, question, answer, failed): a weak answer then a rephrase, a refusal, a failure, and a
# clean exchange.
TURNS = [
    ("s-rephrase", "How do I reset my password?", "Please see our help pages.", False),
    ("s-rephrase", "What are the steps to change my password?", "Open Settings, then Security.", False),
    ("s-refusal", "Can you cancel my neighbour's order?", "I'm sorry, but I can't help with that.", False),
    ("s-error", "Where is my parcel?", "", True),
    ("s-clean", "When do you open?", "We open at 9 am.", False),
    ("s-clean", "And on Sundays?", "On Sundays we open at 11 am.", False),
]


def sdk_spans() -> list[ReadableSpan]:
    """The turns as an openai-v2-instrumented app makes them: a chat span per call, in a trace
    whose root carries the session."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "interop-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    for session, question, answer, failed in TURNS:
        with (
            tracer.start_as_current_span("turn", attributes={"session.id": session}),
            tracer.start_as_current_span("chat gpt-4o-mini", kind=trace.SpanKind.CLIENT) as span,
        ):
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.input.messages": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                    ),
                }
            )
            if failed:
                span.set_status(trace.Status(trace.StatusCode.ERROR, "Error code: 500"))
                span.set_attribute("error.type", "500")
            else:
                span.set_attribute(
                    "gen_ai.output.messages",
                    json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
                )
    provider.shutdown()
    return list(exporter.get_finished_spans())


async def export(port: int, spans: list[ReadableSpan]) -> None:
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
    try:
        assert (await asyncio.to_thread(exporter.export, spans)).name == "SUCCESS"
    finally:
        await asyncio.to_thread(exporter.shutdown)


async def rows(service: Service, sql: str) -> list[tuple[Any, ...]]:
    assert service.sink is not None
    _, result = await service.sink.query(sql, None)
    return sorted(tuple(row) for row in result)


@pytest.mark.parametrize("by_trace_id", [False, True], ids=["unkeyed", "partition_traces_by_id"])
async def test_spans_through_the_official_collector_and_kafka_give_the_same_rows(
    service_factory: Any,
    collectors: Any,
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_transport: Any,
    database_name: str,
    by_trace_id: bool,
    otelcol_helpers: Any,
) -> None:
    spans = await asyncio.to_thread(sdk_spans)
    direct = await service_factory(
        "direct", database_name + "_d", **{"processors.assembly.context_wait_s": 0.5}
    )
    scaled = await service_factory(
        "scaled", database_name + "_k", **kafka_transport(), **{"processors.assembly.context_wait_s": 0.5}
    )
    env = otelcol_helpers.forward_kafka_env(kafka_bootstrap, topic_prefix, by_trace_id=by_trace_id)
    # The collector publishes to the topics tracesieve reads (created by it, with its partitions).
    env["OTELCOL_SPANS_TOPIC"] = scaled.config.transport.kafka.topics.spans
    env["OTELCOL_LOGS_TOPIC"] = scaled.config.transport.kafka.topics.logs
    await collectors.start("forward-kafka.yaml", env)
    collector_port = int(env["OTELCOL_OTLP_GRPC_ENDPOINT"].rpartition(":")[2])

    assert direct.grpc is not None
    await export(direct.grpc.port, spans)
    await export(collector_port, spans)
    assert await direct.wait_stored()
    for _ in range(300):  # the collector's batch processor and the stages, bounded
        if len(await rows(scaled, "SELECT SpanId FROM spans")) == len(TURNS) and await scaled.wait_stored(1):
            break
        await asyncio.sleep(0.1)

    for sql in (
        "SELECT TraceId, SpanId, SessionId, Kind, OutputText, InputMessages, StatusCode, ServiceName "
        "FROM spans",
        "SELECT SessionId, TraceId, SpanId, Signal, Category, round(Score, 3) FROM signals FINAL",
        "SELECT SessionId, SpanId, round(FlagScore, 3), Signals FROM flagged_spans FINAL",
    ):
        assert await rows(scaled, sql) == await rows(direct, sql), sql
    signals = {
        (session, signal) for session, signal in await rows(scaled, "SELECT SessionId, Signal FROM signals")
    }
    assert {("s-rephrase", "rephrase"), ("s-refusal", "refusal"), ("s-error", "error")} <= signals
    assert len(await rows(scaled, "SELECT SpanId FROM spans")) == len(TURNS)
