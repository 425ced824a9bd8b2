"""The memory limiter: its limits, its refusals, and how both receivers answer them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import ValidationError
from tracesieve.collector.errors import MemoryLimitError
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver
from tracesieve.collector.receivers.status import RETRY_INFO_METADATA_KEY
from tracesieve.collector.testing import MemoryConsumer
from tracesieve.processors.memory_limiter import (
    MemoryLimitedConsumer,
    MemoryLimiter,
    MemoryLimiterConfig,
    resident_bytes,
)

TRACE_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_MIB = 1 << 20


def _request() -> bytes:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat", start_time_unix_nano=1, end_time_unix_nano=2
    )
    return request.SerializeToString()


def test_soft_limit_is_the_hard_limit_less_the_spike() -> None:
    limiter = MemoryLimiter(MemoryLimiterConfig(limit_mib=1000, spike_limit_mib=250))
    assert (limiter.hard_limit_bytes, limiter.soft_limit_bytes) == (1000 * _MIB, 750 * _MIB)
    by_share = MemoryLimiter(MemoryLimiterConfig(limit_mib=1000, spike_limit_percentage=10))
    assert by_share.soft_limit_bytes == 900 * _MIB


def test_without_a_limit_the_share_of_available_memory_is_used() -> None:
    limiter = MemoryLimiter(MemoryLimiterConfig(limit_percentage=50), available_bytes=lambda: 8000 * _MIB)
    assert limiter.hard_limit_bytes == 4000 * _MIB
    assert limiter.soft_limit_bytes == 2800 * _MIB  # 30% spike allowance by default


def test_spike_must_be_below_the_limit() -> None:
    with pytest.raises(ValidationError, match="spike_limit_mib` must be < `limit_mib`"):
        MemoryLimiterConfig(limit_mib=100, spike_limit_mib=100)


def test_resident_bytes_reads_this_process_and_is_zero_for_the_gone() -> None:
    assert resident_bytes() > 10 * _MIB
    assert resident_bytes(2**22 + 12345) == 0


def test_admit_refuses_over_the_soft_limit_and_accepts_again_under_it() -> None:
    limiter = MemoryLimiter(MemoryLimiterConfig(limit_mib=1))  # far under what Python itself uses
    limiter.check()
    assert limiter.refusing
    with pytest.raises(MemoryLimitError, match="over the soft limit") as refused:
        limiter.admit()
    assert refused.value.retry_after_s == 1.0
    roomy = MemoryLimiter(MemoryLimiterConfig(limit_mib=1 << 20))
    roomy.check()
    roomy.admit()
    assert not roomy.refusing and roomy.resident == roomy.peak_resident > 0


def test_the_analysis_worker_counts_towards_the_limit() -> None:
    own = resident_bytes()
    # As much again in "another process" (this one, named twice) crosses a limit set between.
    limit_mib = int(own * 1.5) // _MIB + 1
    config = MemoryLimiterConfig(limit_mib=limit_mib, spike_limit_mib=0)
    alone = MemoryLimiter(config)
    alone.check()
    assert not alone.refusing
    with_worker = MemoryLimiter(config, extra_pids=lambda: [__import__("os").getpid()])
    with_worker.check()
    assert with_worker.refusing


async def test_the_timer_follows_memory() -> None:
    limiter = MemoryLimiter(MemoryLimiterConfig(limit_mib=1, check_interval_s=0.01))
    await limiter.start()
    try:
        limiter.refusing = False
        for _ in range(200):
            if limiter.refusing:
                break
            await asyncio.sleep(0.01)
        assert limiter.refusing
    finally:
        await limiter.aclose(time.monotonic() + 1)


async def test_consumer_refuses_every_signal_and_passes_through_when_under() -> None:
    inner = MemoryConsumer()
    refusing = MemoryLimiter(MemoryLimiterConfig(limit_mib=1))
    refusing.check()
    limited = MemoryLimitedConsumer(refusing, inner)
    request = ExportTraceServiceRequest.FromString(_request())
    with pytest.raises(MemoryLimitError):
        await limited.consume_traces(request, _request())
    with pytest.raises(MemoryLimitError):
        await limited.consume_feedback([], b"[]")
    with pytest.raises(MemoryLimitError):
        limited.admit()
    assert inner.traces == []
    roomy = MemoryLimiter(MemoryLimiterConfig(limit_mib=1 << 20))
    roomy.check()
    await MemoryLimitedConsumer(roomy, inner).consume_traces(request, _request())
    assert len(inner.traces) == 1


@pytest.fixture
async def refusing_consumer() -> AsyncIterator[tuple[MemoryLimitedConsumer, MemoryConsumer]]:
    inner = MemoryConsumer()
    limiter = MemoryLimiter(MemoryLimiterConfig(limit_mib=1))
    limiter.check()
    yield MemoryLimitedConsumer(limiter, inner), inner


async def test_http_answers_429_with_retry_after_before_reading_the_body(
    refusing_consumer: tuple[MemoryLimitedConsumer, MemoryConsumer],
) -> None:
    limited, inner = refusing_consumer
    receiver = OtlpHttpReceiver(OtlpHttpConfig(endpoint="127.0.0.1:0"), limited)
    await receiver.start()
    try:
        async with aiohttp.ClientSession() as session:
            # The declared body never comes: the answer cannot wait for it.
            reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
            writer.write(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                b"Content-Length: 1000000\r\n\r\n"
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.close()
            assert head.startswith(b"HTTP/1.1 429")
            assert b"Retry-After: 1" in head
            async with session.post(
                f"http://127.0.0.1:{receiver.port}/v1/traces",
                data=_request(),
                headers={"Content-Type": "application/x-protobuf"},
            ) as response:
                assert response.status == 429
            async with session.post(
                f"http://127.0.0.1:{receiver.port}/v1/feedback",
                json={"trace_id": "01" * 16, "score": 0},
            ) as response:
                assert response.status == 429
    finally:
        await receiver.aclose(time.monotonic() + 5)
    assert inner.traces == [] and inner.feedback == []


async def test_grpc_answers_resource_exhausted_with_retry_info(
    refusing_consumer: tuple[MemoryLimitedConsumer, MemoryConsumer],
) -> None:
    limited, inner = refusing_consumer
    receiver = OtlpGrpcReceiver(OtlpGrpcConfig(endpoint="127.0.0.1:0"), limited)
    await receiver.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as channel:
            call = channel.unary_unary(TRACE_METHOD, request_serializer=None, response_deserializer=None)
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await call(_request(), timeout=10)
        assert failed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(failed.value.trailing_metadata() or ())
        assert RETRY_INFO_METADATA_KEY in trailers
    finally:
        await receiver.aclose(time.monotonic() + 5)
    assert inner.traces == []
