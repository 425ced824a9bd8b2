"""The fuzz targets: ``http`` (the OTLP/HTTP receiver and ``/v1/feedback``), ``grpc`` (the
OTLP/gRPC receiver, raw bytes through a generic channel) and ``decoder`` (``_codec`` and
everything after it in-process).

Each input starts with a header of selector bytes (route, content type, encoding; or signal and
compression), the rest is the body. The oracles:

- receivers: every answer is an OTLP status for client errors (HTTP 200/400/413/415, gRPC OK or
  INVALID_ARGUMENT; 429/503 and the other codes cannot happen to one client sending one request
  at a time, so they are findings too), its body decodes as the status or response message, no
  ERROR is logged by any server (nor a warning by normalisation, which means it caught a bug of
  its own), no input goes unanswered past :data:`DEADLINE_S`, and a valid request succeeds
  after every :data:`LIVENESS_EVERY` inputs;
- decoder: only ``BadInputError`` (the ``PermanentError`` family) escapes; what it accepts
  re-decodes from the protobuf bytes the ingest log would keep, normalises, joins and encodes
  as ClickHouse rows without an exception or a warning.
"""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import grpc
import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.receivers._codec import (
    JSON,
    LOGS,
    METRICS,
    PROTOBUF,
    TRACES,
    Signal,
    decode_request,
)
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver

from ._corpus import capture_bodies, compress, mutate_json, mutate_request, odd_requests
from ._harness import (
    BackgroundLoop,
    CheckingConsumer,
    ErrorLogWatch,
    FuzzCrash,
    FuzzHang,
    check_logs,
    check_traces,
)

__all__ = ["DEADLINE_S", "LIVENESS_EVERY", "TARGETS", "DecoderTarget", "GrpcTarget", "HttpTarget", "Target"]

DEADLINE_S: Final = 10.0
LIVENESS_EVERY: Final = 200
SIGNALS: Final[tuple[Signal, ...]] = (TRACES, LOGS, METRICS)
_MIB: Final = 1 << 20

Mutator = Callable[[bytes, int], bytes]  # atheris.Mutate


def _valid_trace_request() -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(1, 17))
    span.span_id = bytes(range(1, 9))
    span.name = "liveness"
    span.start_time_unix_nano = 1_700_000_000_000_000_000
    span.end_time_unix_nano = 1_700_000_001_000_000_000
    return request.SerializeToString()


VALID_TRACES: Final = _valid_trace_request()


def _structured(header: bytes, body: bytes, signal: Signal, media: str, seed: int) -> bytes | None:
    """``header + body`` with one structural bend of the body, or None when it does not decode."""
    rng = random.Random(seed)
    try:
        if media == JSON:
            return header + orjson.dumps(mutate_json(orjson.loads(body), rng))
        request = signal.request_type()
        request.ParseFromString(body)
        mutate_request(request, rng)
        return header + request.SerializeToString()
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, DecodeError, RecursionError, ValueError):
        return None


class Target:
    """One fuzz target: its seeds, its set-up, the per-input oracle and its mutator."""

    name: str = ""
    header_len: int = 1

    def seeds(self) -> Iterator[bytes]:
        raise NotImplementedError

    def setup(self) -> None:
        """Start whatever the target talks to (called once per process, before any input)."""

    def close(self) -> None:
        """Stop what :meth:`setup` started (tests; a fuzzing process just exits)."""

    def one_input(self, data: bytes) -> None:
        raise NotImplementedError

    def body_kind(self, header: bytes) -> tuple[Signal, str] | None:
        """The signal and media type the body of an input with ``header`` is read as."""
        return None

    def mutate(self, data: bytes, max_size: int, seed: int, mutate: Mutator) -> bytes:
        """libFuzzer's byte mutation, or (one time in four) a structural bend of the body."""
        if seed % 4 == 0 and len(data) > self.header_len:
            header, body = data[: self.header_len], data[self.header_len :]
            kind = self.body_kind(header)
            if kind is not None:
                bent = _structured(header, body, kind[0], kind[1], seed)
                if bent is not None and len(bent) <= max_size:
                    return bent
        return mutate(data, max_size)


class DecoderTarget(Target):
    """``decode_request`` and the rest of the in-process path; header: signal × media type."""

    name = "decoder"

    def __init__(self) -> None:
        self.watch = ErrorLogWatch()

    def setup(self) -> None:
        self.watch.install()

    def close(self) -> None:
        self.watch.uninstall()

    def body_kind(self, header: bytes) -> tuple[Signal, str]:
        return SIGNALS[header[0] % 3], (JSON if (header[0] // 3) % 2 else PROTOBUF)

    @staticmethod
    def header(signal: Signal, media: str) -> bytes:
        return bytes([SIGNALS.index(signal) + (3 if media == JSON else 0)])

    def seeds(self) -> Iterator[bytes]:
        for name, media, body in capture_bodies():
            signal = {"traces": TRACES, "logs": LOGS, "metrics": METRICS}[name]
            yield self.header(signal, JSON if media == "json" else PROTOBUF) + body
        for name, body in odd_requests():
            yield self.header(TRACES if name == "traces" else LOGS, PROTOBUF) + body

    def one_input(self, data: bytes) -> None:
        if not data:
            return
        signal, media = self.body_kind(data[:1])
        body = data[1:]
        try:
            message, raw = decode_request(signal, body, media)
        except PermanentError:  # BadInputError and its subclasses
            return
        except Exception as exc:
            raise FuzzCrash(f"decode_request({signal.name}, {media}) raised {exc!r}") from exc
        try:
            again, _ = decode_request(signal, raw, PROTOBUF)
        except Exception as exc:
            raise FuzzCrash(f"the accepted request's protobuf bytes do not decode: {exc!r}") from exc
        if again != message:
            raise FuzzCrash("the accepted request does not survive its protobuf encoding")
        try:
            if signal is TRACES:
                check_traces(message)  # type: ignore[arg-type]
            elif signal is LOGS:
                check_logs(message)  # type: ignore[arg-type]
        except Exception as exc:
            raise FuzzCrash(f"normalising an accepted {signal.name} request raised {exc!r}") from exc
        self.watch.raise_if_any()


# --- OTLP/HTTP ----------------------------------------------------------------------------------

_ROUTES: Final[tuple[tuple[str, Signal | None], ...]] = (
    ("/v1/traces", TRACES),
    ("/v1/logs", LOGS),
    ("/v1/metrics", METRICS),
    ("/v1/feedback", None),
    ("/api/public/otel/v1/traces", TRACES),
)
_CONTENT_TYPES: Final[tuple[str | None, ...]] = (
    PROTOBUF,
    JSON,
    "application/json; charset=utf-8",
    "APPLICATION/X-PROTOBUF ; q=1",
    "text/plain",
    None,
    "application/grpc",
    'application/json;;charset="x"',
)
# (Content-Encoding header, how the harness encodes the body)
_ENCODINGS: Final[tuple[tuple[str | None, str], ...]] = (
    (None, ""),
    ("gzip", "gzip"),
    ("deflate", "deflate"),
    ("gzip", ""),  # claims gzip, is not
    ("identity", ""),
    ("br", ""),
    ("x-gzip", "gzip"),
    ("GZIP ", "gzip"),
    ("deflate", "gzip"),  # the wrong one
)
_FEEDBACK_SEEDS: Final = (
    {"trace_id": "0af7651916cd43dd8448eb211c80319c", "thumbs": "down", "comment": "'); DROP TABLE spans; --"},
    [
        {"span_id": "b7ad6b7169203331", "score": 0.5, "label": "{x:String}"},
        {"session_id": "s\\1", "thumbs": "up"},
    ],
    {"feedback": [{"response_id": "chatcmpl-1", "score": 1, "timestamp": "2026-01-01T00:00:00Z"}]},
    {"traceId": "0af7651916cd43dd8448eb211c80319c", "name": "quality", "value": 3, "dataType": "NUMERIC"},
)


def _media_of(content_type: str | None) -> str:
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return value if value in (PROTOBUF, JSON) else JSON


class HttpTarget(Target):
    """The OTLP/HTTP receiver on a loopback port; header: route, content type, encoding."""

    name = "http"
    header_len = 3

    def __init__(self) -> None:
        self._conn: http.client.HTTPConnection | None = None
        self._inputs = 0

    def body_kind(self, header: bytes) -> tuple[Signal, str] | None:
        signal = _ROUTES[header[0] % len(_ROUTES)][1]
        if signal is None:
            return TRACES, JSON  # feedback: any JSON tree bends the same way
        return signal, _media_of(_CONTENT_TYPES[header[1] % len(_CONTENT_TYPES)])

    def seeds(self) -> Iterator[bytes]:
        routes = {"traces": (0, 4), "logs": (1,), "metrics": (2,)}
        for name, media, body in capture_bodies():
            content_types = (0, 3) if media == "pb" else (1, 2)
            for route in routes[name]:
                for ct in content_types:
                    for encoding in (0, 1, 2):
                        yield bytes([route, ct, encoding]) + body
        for name, body in odd_requests():
            yield bytes([0 if name == "traces" else 1, 0, 0]) + body
        for item in _FEEDBACK_SEEDS:
            yield bytes([3, 1, 0]) + orjson.dumps(item)
            yield bytes([3, 2, 1]) + orjson.dumps(item)

    def setup(self) -> None:
        self.watch = ErrorLogWatch().install()
        self.loop = BackgroundLoop()
        self.consumer = CheckingConsumer()
        config = OtlpHttpConfig(
            endpoint="127.0.0.1:0",
            max_request_body_bytes=8 * _MIB,
            max_inflight_bytes=16 * _MIB,
            body_read_timeout_s=DEADLINE_S,
        )

        async def start() -> OtlpHttpReceiver:
            receiver = OtlpHttpReceiver(config, self.consumer)
            await receiver.start()
            return receiver

        self.receiver = self.loop.run(start())
        self.check_liveness()

    def _post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        for attempt in (1, 2):
            conn = self._conn
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.receiver.port, timeout=DEADLINE_S)
            self._conn = None  # kept only when the answer leaves the connection open
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError as exc:
                conn.close()
                raise FuzzHang(f"POST {path}: no answer within {DEADLINE_S} s") from exc
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                # A kept-alive connection the server closed between requests is retried once;
                # hanging up on a request twice is a finding.
                conn.close()
                if attempt == 2:
                    raise FuzzCrash(f"POST {path}: the server hung up without answering: {exc!r}") from exc
                continue
            if response.will_close:
                conn.close()
            else:
                self._conn = conn
            return response.status, response.getheader("Content-Type") or "", data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.loop.run(self.receiver.aclose(time.monotonic() + 5))
        self.loop.close()
        self.watch.uninstall()

    def check_liveness(self) -> None:
        status, _, body = self._post("/v1/traces", {"Content-Type": PROTOBUF}, VALID_TRACES)
        if status != 200:
            raise FuzzCrash(f"a valid request got {status} after the inputs so far: {body[:300]!r}")
        self.watch.raise_if_any()

    def one_input(self, data: bytes) -> None:
        if len(data) < self.header_len:
            return
        path, signal = _ROUTES[data[0] % len(_ROUTES)]
        content_type = _CONTENT_TYPES[data[1] % len(_CONTENT_TYPES)]
        encoding, how = _ENCODINGS[data[2] % len(_ENCODINGS)]
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        status, answered_type, body = self._post(path, headers, compress(data[3:], how))
        self.watch.raise_if_any()
        if signal is None:
            _check_feedback_answer(status, answered_type, body)
        else:
            _check_otlp_answer(signal, _media_of(content_type), status, answered_type, body)
        self._inputs += 1
        if self._inputs % LIVENESS_EVERY == 0:
            self.check_liveness()


def _check_otlp_answer(signal: Signal, media: str, status: int, answered_type: str, body: bytes) -> None:
    if status not in (200, 400, 413, 415):
        raise FuzzCrash(f"HTTP {status} for a {signal.name} request: {body[:500]!r}")
    if answered_type.split(";")[0] != media:
        raise FuzzCrash(f"answered in {answered_type!r}, asked in {media!r}")
    message: Message = signal.response_type() if status == 200 else status_pb2.Status()
    try:
        if media == JSON:
            json_format.Parse(body, message)
        else:
            message.ParseFromString(body)
    except (json_format.ParseError, DecodeError) as exc:
        raise FuzzCrash(f"HTTP {status} body is not a {message.DESCRIPTOR.name}: {body[:300]!r}") from exc
    if status != 200 and not isinstance(message, status_pb2.Status):
        raise AssertionError("unreachable")
    if isinstance(message, status_pb2.Status) and message.code != grpc.StatusCode.INVALID_ARGUMENT.value[0]:
        raise FuzzCrash(f"HTTP {status} with google.rpc.Status code {message.code}")


def _check_feedback_answer(status: int, answered_type: str, body: bytes) -> None:
    if status not in (200, 400, 413, 415):
        raise FuzzCrash(f"HTTP {status} for a feedback request: {body[:500]!r}")
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FuzzCrash(f"feedback answer is not JSON: {body[:300]!r}") from exc
    if not isinstance(answer, dict) or ("accepted" if status == 200 else "error") not in answer:
        raise FuzzCrash(f"feedback answer {answer!r} for HTTP {status}")


# --- OTLP/gRPC ----------------------------------------------------------------------------------


class GrpcTarget(Target):
    """The OTLP/gRPC receiver on a loopback port; header: signal × gzip or not."""

    name = "grpc"

    def __init__(self) -> None:
        self._inputs = 0

    def body_kind(self, header: bytes) -> tuple[Signal, str]:
        return SIGNALS[header[0] % 3], PROTOBUF

    def seeds(self) -> Iterator[bytes]:
        for name, media, body in capture_bodies():
            if media == "pb":
                index = ("traces", "logs", "metrics").index(name)
                yield bytes([index]) + body
                yield bytes([index + 3]) + body
        for name, body in odd_requests():
            yield bytes([0 if name == "traces" else 1]) + body

    def setup(self) -> None:
        self.watch = ErrorLogWatch().install()
        self.loop = BackgroundLoop()
        self.consumer = CheckingConsumer()
        config = OtlpGrpcConfig(endpoint="127.0.0.1:0")

        async def start() -> OtlpGrpcReceiver:
            receiver = OtlpGrpcReceiver(config, self.consumer)
            await receiver.start()
            return receiver

        self.receiver = self.loop.run(start())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.receiver.port}")
        self.methods = {
            signal.name: self.channel.unary_unary(f"/{signal.grpc_service}/Export") for signal in SIGNALS
        }
        self.check_liveness()

    def _call(self, signal: Signal, body: bytes, gzip: bool) -> tuple[grpc.StatusCode, bytes, str]:
        compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        try:
            answer: bytes = self.methods[signal.name](body, timeout=DEADLINE_S, compression=compression)
        except grpc.RpcError as exc:
            call: Any = exc
            return call.code(), b"", call.details() or ""
        return grpc.StatusCode.OK, answer, ""

    def close(self) -> None:
        self.channel.close()
        self.loop.run(self.receiver.aclose(time.monotonic() + 5))
        self.loop.close()
        self.watch.uninstall()

    def check_liveness(self) -> None:
        code, _, details = self._call(TRACES, VALID_TRACES, False)
        if code != grpc.StatusCode.OK:
            raise FuzzCrash(f"a valid call got {code.name} after the inputs so far: {details}")
        self.watch.raise_if_any()

    def one_input(self, data: bytes) -> None:
        if not data:
            return
        signal = SIGNALS[data[0] % 3]
        code, answer, details = self._call(signal, data[1:], (data[0] // 3) % 2 == 1)
        self.watch.raise_if_any()
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise FuzzHang(f"{signal.name} Export: no answer within {DEADLINE_S} s")
        if code not in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT):
            raise FuzzCrash(f"{signal.name} Export answered {code.name}: {details}")
        if code == grpc.StatusCode.OK:
            try:
                signal.response_type().ParseFromString(answer)
            except DecodeError as exc:
                raise FuzzCrash(f"the OK answer is not a {signal.name} response: {answer[:200]!r}") from exc
        self._inputs += 1
        if self._inputs % LIVENESS_EVERY == 0:
            self.check_liveness()


TARGETS: Final[dict[str, Callable[[], Target]]] = {
    "http": HttpTarget,
    "grpc": GrpcTarget,
    "decoder": DecoderTarget,
}
