"""OTLP wire codec shared by both receivers: bodies in, responses and error bodies out.

Decoding follows opentelemetry-proto ``docs/specification.md`` (conventions §7c):
``application/x-protobuf`` or ``application/json`` (OTLP/JSON: hex ids, integer enums,
int64 as strings or numbers, unknown fields ignored); ``Content-Encoding: gzip`` or ``deflate``
inflated under a cap that applies *after* decompression, streaming, so that a compression bomb
never allocates past the cap. Every failure raises a
:class:`~tracesieve.collector.errors.BadInputError` subclass with a message meant for the client.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass
from typing import Any, Final

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from tracesieve.collector.contracts import PartialResult
from tracesieve.collector.errors import BadInputError, PayloadTooLargeError, UnsupportedMediaError

__all__ = [
    "JSON",
    "LOGS",
    "METRICS",
    "PROTOBUF",
    "TRACES",
    "Decompressor",
    "Signal",
    "decode_request",
    "encode_response",
    "encode_status",
    "media_type",
]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
_MEDIA_TYPES: Final = frozenset({PROTOBUF, JSON})


@dataclass(frozen=True, slots=True)
class Signal:
    """One OTLP signal: its request and response messages and its gRPC service."""

    name: str
    request_type: type[Message]
    response_type: type[Message]
    rejected_field: str  # field of the response's partial_success counting rejected items
    grpc_service: str


TRACES: Final = Signal(
    "traces",
    trace_service_pb2.ExportTraceServiceRequest,
    trace_service_pb2.ExportTraceServiceResponse,
    "rejected_spans",
    "opentelemetry.proto.collector.trace.v1.TraceService",
)
LOGS: Final = Signal(
    "logs",
    logs_service_pb2.ExportLogsServiceRequest,
    logs_service_pb2.ExportLogsServiceResponse,
    "rejected_log_records",
    "opentelemetry.proto.collector.logs.v1.LogsService",
)
METRICS: Final = Signal(
    "metrics",
    metrics_service_pb2.ExportMetricsServiceRequest,
    metrics_service_pb2.ExportMetricsServiceResponse,
    "rejected_data_points",
    "opentelemetry.proto.collector.metrics.v1.MetricsService",
)


def media_type(content_type: str | None) -> str:
    """The OTLP media type named by a ``Content-Type`` header value (parameters ignored).

    Raises UnsupportedMediaError for anything but protobuf or JSON.
    """
    value = (content_type or "").split(";", 1)[0].strip().lower()
    if value not in _MEDIA_TYPES:
        shown = value or "none"
        raise UnsupportedMediaError(f"unsupported Content-Type {shown!r}; use {PROTOBUF!r} or {JSON!r}")
    return value


# --- decompression ----------------------------------------------------------------------------

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ZLIB_WBITS: Final = zlib.MAX_WBITS


class Decompressor:
    """Inflates a body fed in chunks, refusing to produce more than ``max_bytes``.

    Each ``zlib`` call is limited to the bytes still allowed (``max_length``), so a gzip bomb
    stops at ``max_bytes + 1`` output bytes whatever its ratio. ``encoding`` is the
    ``Content-Encoding`` value: ``""``/``identity``, ``gzip`` (concatenated members allowed)
    or ``deflate`` (zlib format, RFC 9110 §8.4.1.2). Raises UnsupportedMediaError for other
    encodings, PayloadTooLargeError past the cap and BadInputError for corrupt data.
    """

    __slots__ = ("_chunks", "_encoding", "_inflater", "_max_bytes", "_size", "_wbits")

    def __init__(self, encoding: str | None, max_bytes: int) -> None:
        name = (encoding or "").strip().lower()
        if name in ("", "identity"):
            self._wbits = 0
        elif name in ("gzip", "x-gzip"):
            self._wbits = _GZIP_WBITS
        elif name == "deflate":
            self._wbits = _ZLIB_WBITS
        else:
            raise UnsupportedMediaError(
                f"unsupported Content-Encoding {name!r}; use 'gzip', 'deflate' or none"
            )
        self._encoding = name or "identity"
        self._max_bytes = max_bytes
        self._size = 0
        self._chunks: list[bytes] = []
        self._inflater = zlib.decompressobj(self._wbits) if self._wbits else None

    @property
    def size(self) -> int:
        """Decompressed bytes produced so far."""
        return self._size

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max_bytes:
            self._chunks.clear()
            raise PayloadTooLargeError(f"request body exceeds {self._max_bytes} bytes after decompression")
        if data:
            self._chunks.append(data)

    def feed(self, data: bytes) -> None:
        inflater = self._inflater
        if inflater is None:
            self._keep(data)
            return
        try:
            while data:
                if inflater.eof:
                    if self._wbits != _GZIP_WBITS:
                        raise BadInputError(f"data after the end of the {self._encoding} stream")
                    if not data.strip(b"\0"):  # zero padding after the last member, as gzip(1) allows
                        return
                    inflater = self._inflater = zlib.decompressobj(self._wbits)
                # max_length is never 0 (which would mean unlimited): _keep raised first.
                self._keep(inflater.decompress(data, self._max_bytes - self._size + 1))
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        except zlib.error as exc:
            raise BadInputError(f"corrupt {self._encoding} body: {exc}") from None

    def finish(self) -> bytes:
        """The whole decompressed body; BadInputError if the compressed stream was cut short."""
        if self._inflater is not None and not self._inflater.eof:
            raise BadInputError(f"truncated {self._encoding} body")
        chunks, self._chunks = self._chunks, []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# --- requests ---------------------------------------------------------------------------------

_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
# Every message holding trace/span ids, by the path of JSON keys from the request down to it,
# with its id fields. Both spellings are handled: json_format accepts snake_case keys too, and
# a hex id it base64-decoded would be silently wrong.
_ID_FIELDS: Final = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))
_SPAN_PATH: Final = (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",))
_LOG_PATH: Final = (
    ("resourceLogs", "resource_logs"),
    ("scopeLogs", "scope_logs"),
    ("logRecords", "log_records"),
)
_METRIC_PATH: Final = (
    ("resourceMetrics", "resource_metrics"),
    ("scopeMetrics", "scope_metrics"),
    ("metrics",),
)
_POINT_KINDS: Final = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram")


def _items(obj: Any, keys: tuple[str, ...]) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    found: list[Any] = []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            found.extend(value)
    return found


def _walk(roots: list[Any], path: tuple[tuple[str, ...], ...]) -> list[Any]:
    for keys in path:
        roots = [child for root in roots for child in _items(root, keys)]
    return roots


def _hex_ids_to_base64(obj: dict[str, Any], where: str) -> None:
    for spellings in _ID_FIELDS:
        for key in spellings:
            value = obj.get(key)
            if not isinstance(value, str):
                continue  # null, absent, or a wrong type json_format will reject
            if not _HEX.fullmatch(value):
                raise BadInputError(f"{where}.{key} is not a hex string: {value[:80]!r}")
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _convert_ids(root: dict[str, Any], signal: Signal) -> None:
    holders: list[tuple[str, Any]] = []
    if signal is TRACES:
        for span in _walk([root], _SPAN_PATH):
            holders.append(("span", span))
            holders.extend(("span.links[]", link) for link in _items(span, ("links",)))
    elif signal is LOGS:
        holders.extend(("logRecord", record) for record in _walk([root], _LOG_PATH))
    else:
        for metric in _walk([root], _METRIC_PATH):
            kinds = [metric[k] for k in _POINT_KINDS if isinstance(metric, dict) and k in metric]
            for point in _walk(kinds, (("dataPoints", "data_points"),)):
                holders.extend(("exemplar", ex) for ex in _items(point, ("exemplars",)))
    for where, holder in holders:
        if isinstance(holder, dict):
            _hex_ids_to_base64(holder, where)


def _decode_json(signal: Signal, body: bytes) -> Message:
    try:
        root = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInputError(f"malformed JSON: {exc}") from None
    if not isinstance(root, dict):
        raise BadInputError(f"OTLP/JSON body must be a JSON object, got {type(root).__name__}")
    _convert_ids(root, signal)
    message = signal.request_type()
    try:
        json_format.ParseDict(root, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BadInputError(f"invalid OTLP/JSON {signal.name} request: {exc}") from None
    return message


def decode_request(signal: Signal, body: bytes, media: str) -> tuple[Message, bytes]:
    """Parse a decompressed body; returns the request and its protobuf encoding.

    The encoding is ``body`` itself for protobuf and the re-serialised request for JSON.
    Raises BadInputError with a message naming what was wrong.
    """
    if media == JSON:
        message = _decode_json(signal, body)
        return message, message.SerializeToString()
    message = signal.request_type()
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise BadInputError(f"malformed protobuf {signal.name} request: {exc}") from None
    return message, body


# --- responses --------------------------------------------------------------------------------


def _encode(message: Message, media: str) -> bytes:
    if media == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()


def encode_response(signal: Signal, result: PartialResult, media: str) -> bytes:
    """The ``Export*ServiceResponse`` for ``result``; ``partial_success`` unset on full success."""
    response = signal.response_type()
    if result.rejected or result.message:
        partial = getattr(response, "partial_success")  # noqa: B009 - field differs per signal
        setattr(partial, signal.rejected_field, result.rejected)
        partial.error_message = result.message
    return _encode(response, media)


def encode_status(status: status_pb2.Status, media: str) -> bytes:
    """A ``google.rpc.Status`` error body in the request's encoding."""
    return _encode(status, media)
