"""The OTLP/HTTP receiver against every class of request in the OTLP spec (conventions §7c)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import io
import json
import os
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from tracesieve.collector.contracts import PartialResult
from tracesieve.collector.errors import OverloadedError, PermanentError, RetryableError
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer

# shared/ sits beside the repository, in CI as here.
CAPTURES = Path(
    os.environ.get(
        "TRACESIEVE_CAPTURES", Path(__file__).resolve().parents[3].parent / "shared/reference/captures"
    )
)
PB = "application/x-protobuf"
JSON = "application/json"
MakeHttp = Callable[..., Awaitable[OtlpHttpReceiver]]


def url(receiver: OtlpHttpReceiver, path: str = "/v1/traces") -> str:
    return f"http://127.0.0.1:{receiver.port}{path}"


def small_request(spans: int = 2) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                scope_spans=[
                    ScopeSpans(
                        spans=[
                            Span(trace_id=bytes(range(16)), span_id=bytes([i + 1] * 8), name=f"span-{i}")
                            for i in range(spans)
                        ]
                    )
                ]
            )
        ]
    )


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON: as proto3 JSON, but with hex ids (json_format would write base64)."""
    as_dict = json_format.MessageToDict(request)
    for resource_spans in as_dict.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(as_dict).encode()


async def post(
    session: aiohttp.ClientSession,
    target: str,
    body: bytes,
    content_type: str = PB,
    **headers: str,
) -> tuple[int, str, bytes, dict[str, str]]:
    data = io.BytesIO(body) if len(body) > 512 * 1024 else body  # aiohttp warns on large bytes
    async with session.post(target, data=data, headers={"Content-Type": content_type, **headers}) as resp:
        return resp.status, resp.content_type, await resp.read(), dict(resp.headers)


def status_body(body: bytes, content_type: str) -> status_pb2.Status:
    status = status_pb2.Status()
    if content_type == JSON:
        json_format.Parse(body, status)
    else:
        status.ParseFromString(body)
    return status


# --- success ----------------------------------------------------------------------------------


async def test_protobuf_traces_are_consumed_with_their_raw_bytes(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    pb = (CAPTURES / "openinference" / "0001_traces.pb").read_bytes()
    status, ctype, body, _ = await post(session, url(http_receiver), pb)
    assert (status, ctype) == (200, PB)
    assert not ExportTraceServiceResponse.FromString(body).HasField("partial_success")
    request, raw = consumer.traces[0]
    assert raw == pb
    assert request == ExportTraceServiceRequest.FromString(pb)


async def test_langfuse_gzip_capture_on_its_own_path(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    gz = (CAPTURES / "langfuse" / "0001_traces.pb.gz").read_bytes()
    path = "/api/public/otel/v1/traces"
    status, _, _, _ = await post(session, url(http_receiver, path), gz, **{"Content-Encoding": "gzip"})
    assert status == 200
    assert consumer.traces[0][1] == (CAPTURES / "langfuse" / "0001_traces.pb").read_bytes()


async def test_json_request_gets_a_json_response(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    capture = CAPTURES / "traceloop" / "0001_traces.otlp.json"
    status, ctype, body, _ = await post(session, url(http_receiver), capture.read_bytes(), JSON)
    assert (status, ctype, json.loads(body)) == (200, JSON, {})
    assert consumer.traces[0][1] == (CAPTURES / "traceloop" / "0001_traces.pb").read_bytes()


async def test_logs_are_consumed(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    pb = (CAPTURES / "otel_openai_v2__span_and_event" / "0002_logs.pb").read_bytes()
    status, _, _, _ = await post(
        session, url(http_receiver, "/v1/logs"), gzip.compress(pb), **{"Content-Encoding": "gzip"}
    )
    assert status == 200
    assert consumer.logs[0][1] == pb
    assert len(consumer.log_records) > 0


async def test_metrics_are_validated_and_dropped(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    pb = (CAPTURES / "traceloop" / "0002_metrics.pb").read_bytes()
    assert (await post(session, url(http_receiver, "/v1/metrics"), pb))[0] == 200
    assert (await post(session, url(http_receiver, "/v1/metrics"), b"\xff\xff"))[0] == 400
    assert consumer.traces == [] and consumer.logs == []


async def test_empty_request_succeeds_with_partial_success_unset(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession
) -> None:
    status, _, body, _ = await post(session, url(http_receiver), b"")
    assert status == 200
    assert not ExportTraceServiceResponse.FromString(body).HasField("partial_success")
    assert (await post(session, url(http_receiver), b"{}", JSON))[2] == b"{}"


@pytest.mark.parametrize("content_type", [PB, JSON])
async def test_partial_success_is_reported(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    content_type: str,
) -> None:
    consumer.answer(PartialResult(2, "2 spans had no trace id"))
    request = small_request()
    body = request.SerializeToString() if content_type == PB else otlp_json(request)
    status, ctype, answer, _ = await post(session, url(http_receiver), body, content_type)
    assert (status, ctype) == (200, content_type)
    response = ExportTraceServiceResponse()
    if content_type == PB:
        response.ParseFromString(answer)
    else:
        json_format.Parse(answer, response)
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "2 spans had no trace id"


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "expected", "message"),
    [
        (b"\xff\xff\xff\xff", PB, {}, 400, "malformed protobuf"),
        (b'{"resourceSpans": [', JSON, {}, 400, "malformed JSON"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSON, {}, 400, "hex"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{}]}]}).encode(), PB, {}, 400, "malformed protobuf"),
        (gzip.compress(b"x")[:-3], PB, {"Content-Encoding": "gzip"}, 400, "truncated gzip"),
        (b"x", PB, {"Content-Encoding": "br"}, 415, "Content-Encoding"),
        (b"x", "text/plain", {}, 415, "Content-Type"),
        (b"x", "application/grpc", {}, 415, "Content-Type"),
    ],
    ids=["bad-protobuf", "bad-json", "bad-hex", "json-as-protobuf", "bad-gzip", "encoding", "text", "grpc"],
)
async def test_bad_input_gets_a_status_body(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    expected: int,
    message: str,
) -> None:
    status, ctype, answer, answer_headers = await post(
        session, url(http_receiver), body, content_type, **headers
    )
    assert status == expected
    assert ctype == (content_type if content_type in (PB, JSON) else JSON)  # same type, else readable
    rich = status_body(answer, ctype)
    assert rich.code == 3  # INVALID_ARGUMENT
    assert message in rich.message
    assert rich.details[0].Is(error_details_pb2.BadRequest.DESCRIPTOR)
    assert "Retry-After" not in answer_headers
    assert consumer.traces == []


async def test_body_over_the_cap_is_413(make_http: MakeHttp, session: aiohttp.ClientSession) -> None:
    receiver = await make_http(max_request_body_bytes=1000)
    status, ctype, answer, _ = await post(session, url(receiver), bytes(1001))
    assert (status, ctype) == (413, PB)
    assert "exceeds 1000 bytes" in status_body(answer, PB).message

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: caught while streaming
        for _ in range(5):
            yield bytes(300)

    async with session.post(url(receiver), data=chunked(), headers={"Content-Type": PB}) as resp:
        assert resp.status == 413
    gz = gzip.compress(bytes(1001))
    assert len(gz) < 1000
    status, _, answer, _ = await post(session, url(receiver), gz, **{"Content-Encoding": "gzip"})
    assert status == 413
    assert "after decompression" in status_body(answer, PB).message


async def test_gzip_bomb_is_413_quickly(
    make_http: MakeHttp, session: aiohttp.ClientSession, gzip_bomb_1gib: bytes
) -> None:
    # A 1 GiB bomb compresses to about 1.04 MB (deflate tops out near 1:1032), so the cap must be
    # above that for the bomb to get past the compressed-size check and reach the inflater.
    receiver = await make_http(max_request_body_bytes=2 << 20)
    tracemalloc.start()
    try:
        status, _, answer, _ = await post(
            session, url(receiver), gzip_bomb_1gib, **{"Content-Encoding": "gzip"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert "after decompression" in status_body(answer, PB).message
    assert peak < 16 << 20  # client and server together, nowhere near the bomb's 1 GiB


async def test_other_methods_are_405_and_other_paths_404(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession
) -> None:
    async with session.get(url(http_receiver)) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST"
        assert resp.content_type == JSON
        assert "not allowed" in status_body(await resp.read(), JSON).message
    async with session.put(url(http_receiver, "/v1/logs"), data=b"", headers={"Content-Type": PB}) as resp:
        assert (resp.status, resp.content_type) == (405, PB)
    status, ctype, answer, _ = await post(session, url(http_receiver, "/v1/spans"), b"")
    assert (status, ctype) == (404, PB)
    assert status_body(answer, PB).code == 5  # NOT_FOUND


# --- failures downstream ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected", "retry_after"),
    [
        (OverloadedError("queue full", retry_after_s=4), 429, "4"),
        (RetryableError("store unreachable"), 503, "1"),
        (RuntimeError("bug"), 503, "1"),
        (PermanentError("never"), 500, None),
    ],
)
async def test_consumer_errors_are_translated(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    error: BaseException,
    expected: int,
    retry_after: str | None,
) -> None:
    consumer.fail_with(error)
    status, ctype, answer, headers = await post(
        session, url(http_receiver), small_request().SerializeToString()
    )
    assert (status, ctype, headers.get("Retry-After")) == (expected, PB, retry_after)
    rich = status_body(answer, PB)
    assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in rich.details) is (
        retry_after is not None
    )


async def _raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
        await writer.wait_closed()


def _head(length: int, path: str = "/v1/traces") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


async def test_overload_is_refused_before_the_body_is_read(
    make_http: MakeHttp, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    receiver = await make_http(max_inflight_requests=1, retry_after_s=2)
    consumer.block()
    first = asyncio.create_task(post(session, url(receiver), small_request().SerializeToString()))
    await consumer.wait_inflight(1)
    # Headers only: the body is never sent, yet the answer comes at once.
    answer = await _raw_request(receiver.port, _head(10_000_000))
    assert answer.startswith(b"HTTP/1.1 429")
    assert b"Retry-After: 2" in answer
    consumer.unblock()
    assert (await first)[0] == 200
    assert (await post(session, url(receiver), small_request().SerializeToString()))[0] == 200


async def test_inflight_bytes_are_bounded(
    make_http: MakeHttp, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    body = small_request(50).SerializeToString()
    receiver = await make_http(max_request_body_bytes=len(body), max_inflight_bytes=len(body) + 10)
    consumer.block()
    first = asyncio.create_task(post(session, url(receiver), body))
    await consumer.wait_inflight(1)
    assert (await post(session, url(receiver), body))[0] == 429
    consumer.unblock()
    assert (await first)[0] == 200


async def test_slow_body_gets_503(make_http: MakeHttp) -> None:
    receiver = await make_http(body_read_timeout_s=0.2)
    answer = await _raw_request(receiver.port, _head(100), b"only part")
    assert answer.startswith(b"HTTP/1.1 503")
    assert b"Retry-After" in answer


async def test_garbage_on_the_socket_does_not_hurt(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession
) -> None:
    junks = [b"\x16\x03\x01\x02\x00\x01\xfc\x03\x03" * 10, b"GET / HTTP/9.9\r\n\r\n", b"\x00" * 10_000]
    junks.append(_head(5).replace(b"Content-Length: 5", b"Content-Length: -5"))
    junks.append(_head(5).replace(b"Content-Length: 5", b"Transfer-Encoding: chunked") + b"zz\r\n")
    for junk in junks:
        with contextlib.suppress(ConnectionError):
            answer = await _raw_request(http_receiver.port, junk)
            assert answer == b"" or answer.startswith(b"HTTP/1.")
    assert (await post(session, url(http_receiver), small_request().SerializeToString()))[0] == 200


# --- life cycle -------------------------------------------------------------------------------


async def test_aclose_lets_requests_in_flight_finish(
    make_http: MakeHttp, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    receiver = await make_http()
    consumer.block()
    request = asyncio.create_task(post(session, url(receiver), small_request().SerializeToString()))
    await consumer.wait_inflight(1)
    closing = asyncio.create_task(receiver.aclose(time.monotonic() + 5))
    await asyncio.sleep(0.05)
    with pytest.raises(aiohttp.ClientConnectionError):  # no new connections
        async with aiohttp.ClientSession() as fresh:
            await post(fresh, url(receiver), b"")
    consumer.unblock()
    assert (await request)[0] == 200
    await closing
    await receiver.aclose(time.monotonic())  # idempotent


async def test_aclose_cancels_what_outlives_the_deadline(
    make_http: MakeHttp, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    receiver = await make_http()
    consumer.block()
    request = asyncio.create_task(post(session, url(receiver), small_request().SerializeToString()))
    await consumer.wait_inflight(1)
    # Bounded by the deadline: wait_for only turns a hang into a failure.
    await asyncio.wait_for(receiver.aclose(time.monotonic() + 0.2), timeout=30)
    with pytest.raises(aiohttp.ClientError):
        await request
    consumer.unblock()


async def test_aclose_before_start_and_port_before_start() -> None:
    receiver = OtlpHttpReceiver(OtlpHttpConfig(endpoint="127.0.0.1:0"), MemoryConsumer())
    with pytest.raises(RuntimeError):
        _ = receiver.port
    await receiver.aclose(time.monotonic())


async def test_taken_port_fails_to_start(http_receiver: OtlpHttpReceiver) -> None:
    other = OtlpHttpReceiver(OtlpHttpConfig(endpoint=f"127.0.0.1:{http_receiver.port}"), MemoryConsumer())
    with pytest.raises(OSError):
        await other.start()
    await other.aclose(time.monotonic())


async def test_routes_can_be_added_before_start(
    consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    receiver = OtlpHttpReceiver(OtlpHttpConfig(endpoint="127.0.0.1:0"), consumer)

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json()})

    # /v1/feedback is the receiver's own route (test_feedback_route.py); any other path works.
    receiver.add_route("POST", "/v1/echo", echo)
    await receiver.start()
    try:
        async with session.post(url(receiver, "/v1/echo"), json={"score": -1}) as resp:
            assert (resp.status, await resp.json()) == (200, {"got": {"score": -1}})
        with pytest.raises(RuntimeError):
            receiver.add_route("GET", "/late", echo)
    finally:
        await receiver.aclose(time.monotonic() + 5)
