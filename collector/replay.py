"""``tracesieve replay``: send captured OTLP requests to a collector, for backfills and tests.

Reads ``.pb`` (protobuf, optionally ``.pb.gz``) and ``.otlp.json`` files — one export request
each, as written by ``tracesieve``'s captures or any OTLP file exporter — and posts them, in file
name order, over OTLP/HTTP (``http://host:4318``) or OTLP/gRPC (``grpc://host:4317``). The
signal comes from the file name (``traces``, ``logs``, ``metrics``) or the ``--signal`` option.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# The receivers' own codec: replayed JSON is decoded exactly as the collector decodes it.
from tracesieve.collector.receivers._codec import (
    JSON,
    LOGS,
    METRICS,
    PROTOBUF,
    TRACES,
    Signal,
    decode_request,
)

__all__ = ["ReplayFile", "ReplayResult", "discover", "replay"]

_SIGNALS: dict[str, Signal] = {signal.name: signal for signal in (TRACES, LOGS, METRICS)}
SIGNALS = tuple(_SIGNALS)


@dataclass(frozen=True, slots=True)
class ReplayFile:
    path: Path
    signal: str
    encoding: str  # "protobuf" | "json"


@dataclass(slots=True)
class ReplayResult:
    sent: int = 0
    items: int = 0
    rejected: int = 0
    failures: list[str] = field(default_factory=list)


def discover(paths: Iterable[Path], signal: str | None = None) -> list[ReplayFile]:
    """The replayable files under ``paths`` in name order, one per request.

    A capture often holds one request in several encodings (``.pb``, ``.pb.gz``,
    ``.otlp.json``); the protobuf body is preferred and the others skipped.
    """
    preference = {".pb": 0, ".pb.gz": 1, ".otlp.json": 2}
    chosen: dict[tuple[Path, str], tuple[int, ReplayFile]] = {}
    for root in paths:
        candidates = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in candidates:
            suffix = next((s for s in preference if path.name.endswith(s)), None)
            if suffix is None or not path.is_file():
                continue
            stem = path.name[: -len(suffix)]
            sig = signal or next((s for s in SIGNALS if s in stem), None)
            if sig is None:
                raise ValueError(f"{path}: cannot tell the signal from the name; pass --signal")
            item = ReplayFile(path, sig, "json" if suffix == ".otlp.json" else "protobuf")
            key = (path.parent, stem)
            if key not in chosen or preference[suffix] < chosen[key][0]:
                chosen[key] = (preference[suffix], item)
    return sorted((item for _, item in chosen.values()), key=lambda f: (str(f.path.parent), f.path.name))


def _load(item: ReplayFile) -> Message:
    data = item.path.read_bytes()
    if item.path.name.endswith(".gz"):
        data = gzip.decompress(data)
    message, _raw = decode_request(_SIGNALS[item.signal], data, JSON if item.encoding == "json" else PROTOBUF)
    return message


def _count(message: Message) -> int:
    if isinstance(message, ExportTraceServiceRequest):
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    if isinstance(message, ExportLogsServiceRequest):
        return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
    return 0


def _rejected(response: Message, signal: Signal) -> int:
    return int(getattr(response.partial_success, signal.rejected_field))  # type: ignore[attr-defined]


async def replay(
    files: list[ReplayFile],
    endpoint: str,
    *,
    headers: dict[str, str] | None = None,
    gzip_body: bool = False,
    on_sent: object = None,
) -> ReplayResult:
    """Send every file as one export request; return counts and per-file failures."""
    result = ReplayResult()
    url = urlparse(endpoint)
    callback = on_sent if callable(on_sent) else None
    if url.scheme == "grpc":
        target = url.netloc
        metadata = tuple((k.lower(), v) for k, v in (headers or {}).items())
        async with grpc.aio.insecure_channel(target) as channel:
            for item in files:
                message = _load(item)
                signal = _SIGNALS[item.signal]
                call = channel.unary_unary(
                    f"/{signal.grpc_service}/Export",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=signal.response_type.FromString,
                )
                try:
                    response = await call(
                        message,
                        metadata=metadata,
                        compression=grpc.Compression.Gzip if gzip_body else None,
                        timeout=60,
                    )
                except grpc.aio.AioRpcError as exc:
                    result.failures.append(f"{item.path}: {exc.code().name} {exc.details()}")
                else:
                    result.rejected += _rejected(response, signal)
                result.sent += 1
                result.items += _count(message)
                if callback:
                    callback(item)
        return result
    if url.scheme not in ("http", "https"):
        raise ValueError(f"endpoint must be http(s)://host:port or grpc://host:port, got {endpoint!r}")
    base = endpoint.rstrip("/")
    async with aiohttp.ClientSession() as session:
        for item in files:
            message = _load(item)
            body = message.SerializeToString()
            request_headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
            if gzip_body:
                body = gzip.compress(body)
                request_headers["Content-Encoding"] = "gzip"
            async with session.post(f"{base}/v1/{item.signal}", data=body, headers=request_headers) as resp:
                payload = await resp.read()
                if resp.status != 200:
                    result.failures.append(f"{item.path}: HTTP {resp.status} {payload[:200]!r}")
                else:
                    signal = _SIGNALS[item.signal]
                    result.rejected += _rejected(signal.response_type.FromString(payload), signal)
            result.sent += 1
            result.items += _count(message)
            if callback:
                callback(item)
    return result
