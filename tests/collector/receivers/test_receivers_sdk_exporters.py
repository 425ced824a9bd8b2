"""The real OpenTelemetry SDK exporters (gRPC and HTTP) against running receivers.

The exporters block, so each export runs in a thread while the receivers serve on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracesieve.collector.errors import BadInputError, OverloadedError, RetryableError
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer

RESOURCE = Resource.create({"service.name": "chat-app", "deployment.environment.name": "test"})


@pytest.fixture(scope="module")
def sdk_data() -> tuple[list[ReadableSpan], list[ReadableLogRecord]]:
    """Spans and GenAI log records made by the SDK as an instrumented app would."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("tests.receivers", "1.0")
    logger = logger_provider.get_logger("tests.receivers")
    with tracer.start_as_current_span("chat_turn", attributes={"app.scenario": "a_normal_chat"}) as root:
        link = trace.Link(root.get_span_context(), {"link.kind": "follows"})
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=trace.SpanKind.CLIENT,
            links=[link],
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 42,
                "gen_ai.request.temperature": 0.2,
                "gen_ai.response.finish_reasons": ["stop"],
                "app.flagged": False,
            },
        ) as span:
            span.add_event("gen_ai.choice", {"index": 0})
            span.set_status(trace.Status(trace.StatusCode.ERROR, "provider said no"))
            logger.emit(
                event_name="gen_ai.client.inference.operation.details",
                body={"messages": [{"role": "user", "content": "hi"}]},
                attributes={"gen_ai.operation.name": "chat"},
            )
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return list(spans.get_finished_spans()), list(logs.get_finished_logs())


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes(pairs: Sequence[KeyValue]) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in pairs}


def sdk_attributes(attrs: Any) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in dict(attrs or {}).items()
    }


def assert_spans_intact(consumer: MemoryConsumer, sent: list[ReadableSpan]) -> None:
    received = {span.name: span for span in consumer.spans}
    assert sorted(received) == sorted(span.name for span in sent)
    for original in sent:
        span = received[original.name]
        context = original.get_span_context()
        assert context is not None
        assert span.trace_id == context.trace_id.to_bytes(16, "big")
        assert span.span_id == context.span_id.to_bytes(8, "big")
        parent = original.parent.span_id.to_bytes(8, "big") if original.parent else b""
        assert span.parent_span_id == parent
        assert attributes(span.attributes) == sdk_attributes(original.attributes)
        assert [event.name for event in span.events] == [event.name for event in original.events]
        assert [link.span_id for link in span.links] == [
            link.context.span_id.to_bytes(8, "big") for link in original.links
        ]
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
            original.start_time,
            original.end_time,
        )
    chat = received["chat gpt-4o"]
    assert chat.kind == 3  # CLIENT
    assert (chat.status.code, chat.status.message) == (2, "provider said no")
    resource = consumer.traces[0][0].resource_spans[0].resource
    assert attributes(resource.attributes)["service.name"] == "chat-app"


def assert_logs_intact(
    consumer: MemoryConsumer, sent: list[ReadableLogRecord], spans: list[ReadableSpan]
) -> None:
    (record,) = consumer.log_records
    original = sent[0].log_record
    chat = next(span for span in spans if span.name == "chat gpt-4o").get_span_context()
    assert chat is not None
    assert record.event_name == "gen_ai.client.inference.operation.details"
    assert record.trace_id == chat.trace_id.to_bytes(16, "big")
    assert record.span_id == chat.span_id.to_bytes(8, "big")
    assert plain(record.body) == original.body
    assert attributes(record.attributes) == {"gen_ai.operation.name": "chat"}


async def run(exporter: Any, data: Sequence[Any]) -> Any:
    """Export from a thread (the exporters block) and shut the exporter down."""
    try:
        return await asyncio.to_thread(exporter.export, data)
    finally:
        await asyncio.to_thread(exporter.shutdown)


def grpc_exporter(kind: str, port: int, **kwargs: Any) -> Any:
    cls = GrpcSpanExporter if kind == "traces" else GrpcLogExporter
    return cls(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10, **kwargs)


def http_exporter(kind: str, port: int, path: str | None = None, **kwargs: Any) -> Any:
    cls = HttpSpanExporter if kind == "traces" else HttpLogExporter
    return cls(endpoint=f"http://127.0.0.1:{port}{path or '/v1/' + kind}", timeout=10, **kwargs)


def success(result: Any) -> bool:
    return getattr(result, "name", "") == "SUCCESS"


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip])
async def test_grpc_exporters(
    grpc_receiver: OtlpGrpcReceiver, consumer: MemoryConsumer, sdk_data: Any, compression: Any
) -> None:
    spans, logs = sdk_data
    assert success(await run(grpc_exporter("traces", grpc_receiver.port, compression=compression), spans))
    assert success(await run(grpc_exporter("logs", grpc_receiver.port, compression=compression), logs))
    assert_spans_intact(consumer, spans)
    assert_logs_intact(consumer, logs, spans)


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
async def test_http_exporters(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, sdk_data: Any, compression: Compression
) -> None:
    spans, logs = sdk_data
    assert success(await run(http_exporter("traces", http_receiver.port, compression=compression), spans))
    assert success(await run(http_exporter("logs", http_receiver.port, compression=compression), logs))
    assert_spans_intact(consumer, spans)
    assert_logs_intact(consumer, logs, spans)


async def test_http_exporter_on_the_langfuse_path(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, sdk_data: Any
) -> None:
    exporter = http_exporter(
        "traces", http_receiver.port, "/api/public/otel/v1/traces", compression=Compression.Gzip
    )
    assert success(await run(exporter, sdk_data[0]))
    assert_spans_intact(consumer, sdk_data[0])


async def test_grpc_exporter_honours_retry_info(
    grpc_receiver: OtlpGrpcReceiver, consumer: MemoryConsumer, sdk_data: Any
) -> None:
    consumer.fail_with(OverloadedError("queue full", retry_after_s=0.05), times=2)
    assert success(await run(grpc_exporter("traces", grpc_receiver.port), sdk_data[0]))
    assert consumer.calls == 3
    assert_spans_intact(consumer, sdk_data[0])


async def test_http_exporter_retries_after_503(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, sdk_data: Any
) -> None:
    consumer.fail_with(RetryableError("store unreachable", retry_after_s=0.01), times=1)
    assert success(await run(http_exporter("traces", http_receiver.port), sdk_data[0]))
    assert consumer.calls == 2


async def test_exporters_do_not_retry_permanent_errors(
    grpc_receiver: OtlpGrpcReceiver, http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, sdk_data: Any
) -> None:
    consumer.fail_with(BadInputError("never valid"))
    assert not success(await run(grpc_exporter("traces", grpc_receiver.port), sdk_data[0]))
    assert not success(await run(http_exporter("traces", http_receiver.port), sdk_data[0]))
    assert consumer.calls == 2


# --- a good client keeps being served while bad ones hammer the receiver ----------------------


@contextlib.asynccontextmanager
async def hammering(send_one: Any) -> AsyncIterator[list[int]]:
    """Send bad requests in a loop in the background; yields the list of their outcomes."""
    outcomes: list[int] = []
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            outcomes.append(await send_one(len(outcomes)))

    tasks = [asyncio.create_task(loop()) for _ in range(4)]
    try:
        yield outcomes
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def _bad_http_bodies() -> Iterator[tuple[bytes, dict[str, str]]]:
    pb = {"Content-Type": "application/x-protobuf"}
    while True:
        yield b"\xff\xff\xff", pb
        yield b'{"resourceSpans": [', {"Content-Type": "application/json"}
        yield b"hello", {"Content-Type": "text/plain"}
        yield b"not gzip", {**pb, "Content-Encoding": "gzip"}
        yield b"x", {**pb, "Content-Encoding": "zstd"}
        yield bytes(30_000), pb  # over the 20 000-byte cap below


async def test_good_http_client_is_served_during_a_stream_of_bad_requests(
    make_http: Any, consumer: MemoryConsumer, sdk_data: Any
) -> None:
    receiver = await make_http(max_request_body_bytes=20_000)
    bodies = _bad_http_bodies()
    async with aiohttp.ClientSession() as session:

        async def send_bad(_: int) -> int:
            body, headers = next(bodies)
            async with session.post(
                f"http://127.0.0.1:{receiver.port}/v1/traces", data=body, headers=headers
            ) as r:
                await r.read()
                return r.status

        async with hammering(send_bad) as outcomes:
            for _ in range(15):
                exporter = http_exporter("traces", receiver.port, compression=Compression.Gzip)
                assert success(await run(exporter, sdk_data[0]))
        assert len(outcomes) > 30
        assert set(outcomes) <= {400, 413, 415}
    assert len(consumer.traces) == 15


async def test_good_grpc_client_is_served_during_a_stream_of_bad_calls(
    grpc_receiver: OtlpGrpcReceiver, consumer: MemoryConsumer, sdk_data: Any
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_receiver.port}") as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")

        async def send_bad(n: int) -> int:
            try:
                await call(b"\xff\xff" if n % 2 else b"\x0a\x05abc", timeout=5)
            except grpc.aio.AioRpcError as error:
                return int(error.code().value[0])
            return 0

        async with hammering(send_bad) as outcomes:
            for _ in range(15):
                assert success(await run(grpc_exporter("traces", grpc_receiver.port), sdk_data[0]))
        assert len(outcomes) > 30
        assert set(outcomes) == {grpc.StatusCode.INVALID_ARGUMENT.value[0]}
    assert len(consumer.traces) == 15
