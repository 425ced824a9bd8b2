"""The OTLP/gRPC receiver: raw-bytes handlers, the status table on the wire, limits, shutdown."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from tracesieve.collector.contracts import PartialResult
from tracesieve.collector.errors import OverloadedError, PermanentError, RetryableError
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.testing import MemoryConsumer

# shared/ sits beside the repository, in CI as here.
CAPTURES = Path(
    os.environ.get(
        "TRACESIEVE_CAPTURES", Path(__file__).resolve().parents[3].parent / "shared/reference/captures"
    )
)
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
MakeGrpc = Callable[..., Awaitable[OtlpGrpcReceiver]]
Export = Callable[..., Awaitable[bytes]]


def small_request(spans: int = 2) -> bytes:
    spans_pb = [
        Span(trace_id=bytes(range(16)), span_id=bytes([i + 1] * 8), name=f"s{i}") for i in range(spans)
    ]
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans_pb)])]
    )
    return request.SerializeToString()


@pytest.fixture
async def channel(grpc_receiver: OtlpGrpcReceiver) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_receiver.port}") as chan:
        yield chan


def export(channel: grpc.aio.Channel, method: str = TRACES) -> Export:
    call: Export = channel.unary_unary(method)  # no (de)serializers: bytes in, bytes out
    return call


async def failed(call: Awaitable[bytes]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def retry_info(error: grpc.aio.AioRpcError) -> error_details_pb2.RetryInfo | None:
    status = rpc_status.from_call(error)
    assert status is not None, "no google.rpc.Status in the trailers"
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            trailer = dict(error.trailing_metadata() or ())["google.rpc.retryinfo-bin"]
            assert error_details_pb2.RetryInfo.FromString(trailer) == info
            return info
    return None


async def test_traces_are_consumed_with_their_raw_bytes(
    channel: grpc.aio.Channel, consumer: MemoryConsumer
) -> None:
    pb = (CAPTURES / "openinference" / "0001_traces.pb").read_bytes()
    response = ExportTraceServiceResponse.FromString(await export(channel)(pb))
    assert not response.HasField("partial_success")
    request, raw = consumer.traces[0]
    assert raw == pb
    assert request == ExportTraceServiceRequest.FromString(pb)


async def test_gzip_compressed_calls(channel: grpc.aio.Channel, consumer: MemoryConsumer) -> None:
    pb = (CAPTURES / "langfuse" / "0001_traces.pb").read_bytes()
    await export(channel)(pb, compression=grpc.Compression.Gzip)
    assert consumer.traces[0][1] == pb


async def test_logs_are_consumed_and_metrics_dropped(
    channel: grpc.aio.Channel, consumer: MemoryConsumer
) -> None:
    logs = (CAPTURES / "otel_openai_v2__span_and_event" / "0002_logs.pb").read_bytes()
    assert not ExportLogsServiceResponse.FromString(await export(channel, LOGS)(logs)).HasField(
        "partial_success"
    )
    assert consumer.logs[0][1] == logs
    metrics = (CAPTURES / "traceloop" / "0002_metrics.pb").read_bytes()
    assert ExportMetricsServiceResponse.FromString(await export(channel, METRICS)(metrics)) == (
        ExportMetricsServiceResponse()
    )
    assert len(consumer.traces) == 0 and len(consumer.logs) == 1


async def test_empty_request_succeeds(channel: grpc.aio.Channel, consumer: MemoryConsumer) -> None:
    assert not ExportTraceServiceResponse.FromString(await export(channel)(b"")).HasField("partial_success")
    assert consumer.traces[0][0] == ExportTraceServiceRequest()


async def test_partial_success_in_the_response(channel: grpc.aio.Channel, consumer: MemoryConsumer) -> None:
    consumer.answer(PartialResult(2, "2 spans had no trace id"))
    response = ExportTraceServiceResponse.FromString(await export(channel)(small_request()))
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "2 spans had no trace id"


@pytest.mark.parametrize("method", [TRACES, LOGS, METRICS])
async def test_malformed_bytes_are_invalid_argument(
    channel: grpc.aio.Channel, consumer: MemoryConsumer, method: str
) -> None:
    error = await failed(export(channel, method)(b"\xff\xff\xff\xff"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed protobuf" in (error.details() or "")
    assert retry_info(error) is None
    status = rpc_status.from_call(error)
    assert status is not None and status.details[0].Is(error_details_pb2.BadRequest.DESCRIPTOR)
    assert consumer.calls == 0


@pytest.mark.parametrize(
    ("error", "code", "delay_ns"),
    [
        (OverloadedError("queue full", retry_after_s=0.25), grpc.StatusCode.RESOURCE_EXHAUSTED, 250_000_000),
        (RetryableError("store down"), grpc.StatusCode.UNAVAILABLE, 1_000_000_000),
        (RuntimeError("bug"), grpc.StatusCode.UNAVAILABLE, 1_000_000_000),
        (PermanentError("never"), grpc.StatusCode.INTERNAL, None),
    ],
)
async def test_consumer_errors_are_translated(
    channel: grpc.aio.Channel,
    consumer: MemoryConsumer,
    error: BaseException,
    code: grpc.StatusCode,
    delay_ns: int | None,
) -> None:
    consumer.fail_with(error)
    answer = await failed(export(channel)(small_request()))
    assert answer.code() == code
    info = retry_info(answer)
    assert (info.retry_delay.ToNanoseconds() if info else None) == delay_ns


async def test_overload_is_resource_exhausted_with_retry_info(
    make_grpc: MakeGrpc, consumer: MemoryConsumer
) -> None:
    receiver = await make_grpc(max_inflight_requests=1, retry_after_s=3)
    consumer.block()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as chan:
        first = asyncio.ensure_future(export(chan)(small_request()))
        await consumer.wait_inflight(1)
        error = await failed(export(chan)(small_request()))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = retry_info(error)
        assert info is not None and info.retry_delay.seconds == 3
        consumer.unblock()
        await first
        await export(chan)(small_request())
    assert consumer.calls == 2


async def test_oversized_message_is_refused_by_grpc(make_grpc: MakeGrpc, consumer: MemoryConsumer) -> None:
    receiver = await make_grpc(max_recv_msg_size_bytes=1000, max_inflight_bytes=10_000)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as chan:
        error = await failed(export(chan)(small_request(100)))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert rpc_status.from_call(error) is None  # no RetryInfo: not retryable per the spec
        await export(chan)(small_request(2))
    assert consumer.calls == 1


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    error = await failed(
        export(channel, "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export")(b"")
    )
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_aclose_lets_calls_in_flight_finish(make_grpc: MakeGrpc, consumer: MemoryConsumer) -> None:
    receiver = await make_grpc()
    consumer.block()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as chan:
        call = asyncio.ensure_future(export(chan)(small_request()))
        await consumer.wait_inflight(1)
        closing = asyncio.create_task(receiver.aclose(time.monotonic() + 5))
        await asyncio.sleep(0.05)
        consumer.unblock()
        ExportTraceServiceResponse.FromString(await call)
        await closing
        error = await failed(export(chan)(small_request(), timeout=2))
        assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    await receiver.aclose(time.monotonic())  # idempotent


async def test_aclose_cancels_what_outlives_the_deadline(
    make_grpc: MakeGrpc, consumer: MemoryConsumer
) -> None:
    receiver = await make_grpc()
    consumer.block()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as chan:
        call = asyncio.ensure_future(export(chan)(small_request()))
        await consumer.wait_inflight(1)
        # Bounded by the deadline: wait_for only turns a hang into a failure.
        await asyncio.wait_for(receiver.aclose(time.monotonic() + 0.2), timeout=30)
        error = await failed(call)
        assert error.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)  # both retryable
    consumer.unblock()


async def test_port_before_start_and_taken_port() -> None:
    first = OtlpGrpcReceiver(OtlpGrpcConfig(endpoint="127.0.0.1:0"), MemoryConsumer())
    with pytest.raises(RuntimeError):
        _ = first.port
    await first.aclose(time.monotonic())  # before start: nothing to do
    second = OtlpGrpcReceiver(OtlpGrpcConfig(endpoint="127.0.0.1:0"), MemoryConsumer())
    await second.start()
    try:
        taken = OtlpGrpcReceiver(OtlpGrpcConfig(endpoint=f"127.0.0.1:{second.port}"), MemoryConsumer())
        with pytest.raises(OSError):
            await taken.start()
        await taken.aclose(time.monotonic())
    finally:
        await second.aclose(time.monotonic() + 5)
