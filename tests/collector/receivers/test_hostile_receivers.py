"""Hostile input at the receivers (issue 6): compression bombs, AnyValues nested 10,000 deep,
invalid UTF-8, times no fixed64 holds, header bytes HTTP forbids.

Each class gets its status (README, "Hostile input"): a client error (HTTP 400/413, gRPC
INVALID_ARGUMENT or gRPC's own RESOURCE_EXHAUSTED without RetryInfo, so that no exporter retries
it), nothing reaches the consumer, nothing is logged as an error, and the receiver answers the
next valid request. Through real aiohttp and gRPC clients (the SDK exporters cannot send these).
"""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import grpc
import grpc.aio
import orjson
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = "application/x-protobuf"
DEPTH = 10_000
HttpFactory = Callable[..., Awaitable[OtlpHttpReceiver]]
GrpcFactory = Callable[..., Awaitable[OtlpGrpcReceiver]]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (the runtime refuses to build these)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _nested_any_value(depth: int, kind: str) -> bytes:
    value = _field(1, b"bottom")  # AnyValue.string_value
    for _ in range(depth):
        if kind == "kvlist":  # AnyValue.kvlist_value → KeyValueList.values → KeyValue.value
            value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
        else:  # AnyValue.array_value → ArrayValue.values
            value = _field(5, _field(1, value))
    return value


def _request_with(span_fields: bytes) -> bytes:
    """ExportTraceServiceRequest bytes: one span with valid ids plus ``span_fields``."""
    span = _field(1, bytes(range(1, 17))) + _field(2, bytes(range(1, 9))) + span_fields
    return _field(1, _field(2, _field(2, span)))  # resource_spans → scope_spans → spans


def _valid() -> bytes:
    return _request_with(_field(5, b"ok"))


async def _post(
    session: aiohttp.ClientSession,
    receiver: OtlpHttpReceiver,
    body: bytes,
    path: str = "/v1/traces",
    **headers: str,
) -> tuple[int, bytes]:
    data = io.BytesIO(body) if len(body) > 512 * 1024 else body  # aiohttp warns on large bytes
    async with session.post(
        f"http://127.0.0.1:{receiver.port}{path}", data=data, headers={"Content-Type": PROTOBUF, **headers}
    ) as answer:
        return answer.status, await answer.read()


@pytest.fixture
async def channel(grpc_receiver: OtlpGrpcReceiver) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_receiver.port}") as chan:
        yield chan


async def _call(
    channel: grpc.aio.Channel, body: bytes, compression: grpc.Compression | None = None
) -> tuple[grpc.StatusCode, str]:
    try:
        await channel.unary_unary(TRACE_EXPORT)(body, timeout=60, compression=compression)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.fixture(autouse=True)
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here also asserts that the servers logged nothing at ERROR."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# --- compression bombs ------------------------------------------------------------------------


def _deflate_bomb(decompressed_bytes: int) -> bytes:
    """A zlib-format (``Content-Encoding: deflate``) body of ``decompressed_bytes`` zeros."""
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressor.compress(chunk)
    compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(decompressed_bytes >> 20):
        adler = zlib.adler32(chunk, adler)
    return b"\x78\xda" + block * (decompressed_bytes >> 20) + compressor.flush() + struct.pack(">I", adler)


@pytest.mark.parametrize("path", ["/v1/logs", "/v1/metrics", "/v1/feedback"])
async def test_gzip_bombs_are_413_on_every_route(
    make_http: HttpFactory,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    gzip_bomb_1gib: bytes,
    path: str,
) -> None:
    receiver = await make_http(max_request_body_bytes=2 << 20)
    content_type = "application/json" if path == "/v1/feedback" else PROTOBUF
    status, answer = await _post(
        session, receiver, gzip_bomb_1gib, path, **{"Content-Encoding": "gzip", "Content-Type": content_type}
    )
    assert status == 413
    assert b"after decompression" in answer
    assert consumer.calls == 0
    assert (await _post(session, receiver, _valid()))[0] == 200


async def test_deflate_bomb_is_413(make_http: HttpFactory, session: aiohttp.ClientSession) -> None:
    receiver = await make_http(max_request_body_bytes=2 << 20)
    status, answer = await _post(session, receiver, _deflate_bomb(1 << 30), **{"Content-Encoding": "deflate"})
    assert status == 413
    assert b"after decompression" in answer


async def test_grpc_gzip_bomb_is_refused_by_size_without_retry_info(
    make_grpc: GrpcFactory, consumer: MemoryConsumer
) -> None:
    # The client compresses 16 MiB of zeros to about 16 KB; gRPC inflates under
    # max_recv_msg_size_bytes and refuses past it, with a code no exporter retries without RetryInfo.
    receiver = await make_grpc(max_recv_msg_size_bytes=1 << 20, max_inflight_bytes=1 << 20)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as channel:
        try:
            await channel.unary_unary(TRACE_EXPORT)(
                bytes(16 << 20), timeout=60, compression=grpc.Compression.Gzip
            )
        except grpc.aio.AioRpcError as exc:
            code, trailers = exc.code(), dict(exc.trailing_metadata() or ())
        else:
            raise AssertionError("the bomb was accepted")
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "google.rpc.retryinfo-bin" not in trailers
        assert consumer.calls == 0
        assert await _call(channel, _valid(), grpc.Compression.Gzip) == (grpc.StatusCode.OK, "")


_BOMB_SERVER = """
import asyncio
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.testing import MemoryConsumer

async def main():
    config = OtlpGrpcConfig(endpoint="127.0.0.1:0", max_recv_msg_size_bytes=4 << 20)
    receiver = OtlpGrpcReceiver(config, MemoryConsumer())
    await receiver.start()
    print(receiver.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, input)  # until stdin closes

asyncio.run(main())
"""


def _peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def test_grpc_gzip_bomb_is_not_inflated_past_the_cap() -> None:
    # The server runs in a process of its own so that its peak memory is its alone.
    server = subprocess.Popen(
        [sys.executable, "-c", _BOMB_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        before = _peak_rss_bytes(server.pid)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(TRACE_EXPORT)
            with pytest.raises(grpc.RpcError) as refused:
                export(bytes(256 << 20), timeout=120, compression=grpc.Compression.Gzip)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert export(_valid(), timeout=60) == b""
        assert _peak_rss_bytes(server.pid) - before < 32 << 20  # a 256 MiB bomb, a 4 MiB cap
    finally:
        server.kill()
        server.wait()
        for stream in (server.stdin, server.stdout):
            if stream is not None:
                stream.close()


# --- nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kvlist", "array"])
async def test_anyvalues_nested_10000_deep_are_400_over_http(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession, kind: str
) -> None:
    attribute = _field(9, _field(1, b"deep") + _field(2, _nested_any_value(DEPTH, kind)))
    status, answer = await _post(session, http_receiver, _request_with(attribute))
    assert status == 400
    assert "malformed protobuf traces request" in status_pb2.Status.FromString(answer).message
    assert consumer.calls == 0
    assert (await _post(session, http_receiver, _valid()))[0] == 200


@pytest.mark.parametrize("kind", ["kvlist", "array"])
async def test_anyvalues_nested_10000_deep_are_invalid_argument_over_grpc(
    channel: grpc.aio.Channel, consumer: MemoryConsumer, kind: str
) -> None:
    attribute = _field(9, _field(1, b"deep") + _field(2, _nested_any_value(DEPTH, kind)))
    code, details = await _call(channel, _request_with(attribute))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed protobuf traces request" in details
    assert consumer.calls == 0
    assert (await _call(channel, _valid()))[0] == grpc.StatusCode.OK


@pytest.mark.parametrize("depth", [60, DEPTH])
async def test_json_anyvalues_nested_deep_are_400(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession, depth: int
) -> None:
    # 60 levels: within JSON decoders' limits, past protobuf's (100 messages), so that what is
    # accepted as JSON can always be decoded again from the ingest log's protobuf bytes.
    value = b'{"stringValue":"bottom"}'
    for _ in range(depth):
        value = b'{"kvlistValue":{"values":[{"key":"k","value":' + value + b"}]}}"
    span = b'{"traceId":"' + b"ab" * 16 + b'","spanId":"' + b"cd" * 8 + b'","attributes":[{"key":"d","value":'
    body = b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + span + value + b"}]}]}]}]}"
    status, answer = await _post(session, http_receiver, body, **{"Content-Type": "application/json"})
    assert status == 400
    assert "JSON" in orjson.loads(answer)["message"]
    assert consumer.calls == 0


async def test_nesting_within_the_limit_is_accepted(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    attribute = _field(9, _field(1, b"deep") + _field(2, _nested_any_value(25, "kvlist")))
    assert (await _post(session, http_receiver, _request_with(attribute)))[0] == 200
    request, _ = consumer.traces[0]
    assert request.resource_spans[0].scope_spans[0].spans[0].attributes[0].key == "deep"


# --- invalid UTF-8 --------------------------------------------------------------------------------

BAD_UTF8 = [b"\xff\xfe", b"ok\xc3", b"\xed\xa0\x80", b"\xc0\xaf"]  # stray, cut, surrogate, overlong


@pytest.mark.parametrize("bad", BAD_UTF8)
async def test_invalid_utf8_in_protobuf_strings_is_400_and_invalid_argument(
    http_receiver: OtlpHttpReceiver, channel: grpc.aio.Channel, session: aiohttp.ClientSession, bad: bytes
) -> None:
    for fields in (
        _field(5, bad),
        _field(9, _field(1, b"k") + _field(2, _field(1, bad))),
        _field(9, _field(1, bad)),
    ):
        status, answer = await _post(session, http_receiver, _request_with(fields))
        assert status == 400, fields
        assert "malformed protobuf" in status_pb2.Status.FromString(answer).message
        assert (await _call(channel, _request_with(fields)))[0] == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "text", [b'"\xff\xfe"', b'"ok\xc3"', b'"\xed\xa0\x80"', b'"\\ud800"', b'"\\udc00x"', b'"\\ud800\\u0041"']
)
async def test_invalid_utf8_in_json_is_400(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession, text: bytes
) -> None:
    span = b'{"traceId":"' + b"ab" * 16 + b'","spanId":"' + b"cd" * 8 + b'","name":' + text + b"}"
    body = b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + span + b"]}]}]}"
    status, answer = await _post(session, http_receiver, body, **{"Content-Type": "application/json"})
    assert status == 400
    assert json_format.Parse(answer, status_pb2.Status()).message
    assert consumer.calls == 0


async def test_invalid_utf8_feedback_is_400(make_http: HttpFactory, session: aiohttp.ClientSession) -> None:
    receiver = await make_http()
    status, _ = await _post(
        session,
        receiver,
        b'{"session_id":"s\xff","thumbs":"up"}',
        "/v1/feedback",
        **{"Content-Type": "application/json"},
    )
    assert status == 400


# --- times and headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("ns", ["32503680000000000000", "18446744073709551616", "-1", "1e30", "soon"])
async def test_json_times_no_fixed64_holds_are_400(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession, ns: str
) -> None:
    # 32503680000000000000 is the year 3000 in ns: past 2**64, so no OTLP request can carry it.
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "t", "startTimeUnixNano": ns}
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    status, _ = await _post(session, http_receiver, body, **{"Content-Type": "application/json"})
    assert status == 400
    assert consumer.calls == 0


async def test_header_bytes_http_forbids_are_400_and_only_a_warning(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression (fuzz, http): aiohttp logged these at ERROR with a traceback; a client's mistake
    # must not let it fill the log with tracebacks.
    reader, writer = await asyncio.open_connection("127.0.0.1", http_receiver.port)
    writer.write(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\x7f\r\nContent-Length: 0\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    warnings = [r for r in caplog.records if "malformed HTTP request" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING and warnings[0].exc_info is None
    assert (await _post(session, http_receiver, _valid()))[0] == 200


def test_the_hand_encoded_valid_request_is_valid() -> None:
    request = ExportTraceServiceRequest.FromString(_valid())
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "ok"
