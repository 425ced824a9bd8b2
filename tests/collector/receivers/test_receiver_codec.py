"""The shared OTLP codec: media types, capped decompression, JSON quirks, responses."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from tracesieve.collector.contracts import PartialResult
from tracesieve.collector.errors import BadInputError, PayloadTooLargeError, UnsupportedMediaError
from tracesieve.collector.receivers._codec import (
    JSON,
    LOGS,
    METRICS,
    PROTOBUF,
    TRACES,
    Decompressor,
    decode_request,
    encode_response,
    encode_status,
    media_type,
)

TRACE_ID = "5B8EFFF798038103D269B633813FC60C"
SPAN_ID = "EEE19B7EC3C1B174"


def _inflate(encoding: str | None, body: bytes, cap: int = 1 << 20, chunk: int = 7) -> bytes:
    decompressor = Decompressor(encoding, cap)
    for start in range(0, len(body), chunk):
        decompressor.feed(body[start : start + chunk])
    return decompressor.finish()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", PROTOBUF),
        ("Application/X-Protobuf", PROTOBUF),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
    ],
)
def test_media_type_accepts_the_two_otlp_types(header: str, expected: str) -> None:
    assert media_type(header) == expected


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/protobuf", "application/grpc"])
def test_media_type_rejects_others(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaError, match="Content-Type"):
        media_type(header)


PAYLOAD = b"otlp payload " * 1000


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (None, PAYLOAD),
        ("identity", PAYLOAD),
        ("gzip", gzip.compress(PAYLOAD)),
        ("GZIP", gzip.compress(PAYLOAD)),
        ("x-gzip", gzip.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
    ],
)
def test_decompressor_inflates_in_chunks(encoding: str | None, body: bytes) -> None:
    assert _inflate(encoding, body) == PAYLOAD


def test_decompressor_joins_concatenated_gzip_members() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second") + b"\0\0"
    assert _inflate("gzip", body, chunk=5) == b"first second"


@pytest.mark.parametrize("encoding", ["br", "zstd", "snappy", "gzip, gzip"])
def test_decompressor_refuses_unknown_encodings(encoding: str) -> None:
    with pytest.raises(UnsupportedMediaError, match="Content-Encoding"):
        Decompressor(encoding, 100)


@pytest.mark.parametrize(
    ("encoding", "body", "match"),
    [
        ("gzip", b"not gzip at all", "corrupt gzip"),
        ("gzip", gzip.compress(PAYLOAD)[:-20], "truncated gzip"),
        ("deflate", b"\x00\x01garbage", "corrupt deflate"),
        ("deflate", zlib.compress(PAYLOAD) + b"extra", "after the end"),
    ],
)
def test_decompressor_reports_corrupt_bodies(encoding: str, body: bytes, match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        _inflate(encoding, body)


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
def test_decompressor_caps_the_decompressed_size(encoding: str | None) -> None:
    body = {None: PAYLOAD, "gzip": gzip.compress(PAYLOAD), "deflate": zlib.compress(PAYLOAD)}[encoding]
    assert _inflate(encoding, body, cap=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(PayloadTooLargeError, match=str(len(PAYLOAD) - 1)):
        _inflate(encoding, body, cap=len(PAYLOAD) - 1)


def test_gzip_bomb_stops_at_the_cap_without_allocating_past_it(gzip_bomb_1gib: bytes) -> None:
    cap = 1 << 20
    tracemalloc.start()
    try:
        decompressor = Decompressor("gzip", cap)
        with pytest.raises(PayloadTooLargeError, match="after decompression"):
            for start in range(0, len(gzip_bomb_1gib), 64 * 1024):
                decompressor.feed(gzip_bomb_1gib[start : start + 64 * 1024])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decompressor.size <= cap + 1
    assert peak < 4 * cap


def _trace_json(**span_extra: object) -> dict[str, object]:
    span = {
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "parentSpanId": "",
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": 1700000001000000000,
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}}],
        "links": [{"traceId": TRACE_ID.lower(), "spanId": SPAN_ID}],
        "status": {"code": 2, "message": "boom"},
        **span_extra,
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span], "futureScopeField": 1}]}], "future": True}


def test_json_trace_request_with_otlp_quirks() -> None:
    message, raw = decode_request(TRACES, json.dumps(_trace_json(unknownField={"a": 1})).encode(), JSON)
    assert isinstance(message, ExportTraceServiceRequest)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(TRACE_ID)
    assert span.span_id == bytes.fromhex(SPAN_ID)
    assert span.parent_span_id == b""
    assert span.links[0].trace_id == bytes.fromhex(TRACE_ID)
    assert span.kind == 3
    assert span.status.code == 2
    assert span.start_time_unix_nano == 1700000000000000000
    assert span.end_time_unix_nano == 1700000001000000000
    assert span.attributes[0].value.int_value == 42
    assert raw == message.SerializeToString()


def test_json_snake_case_ids_are_hex_too() -> None:
    body = {"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": TRACE_ID, "span_id": SPAN_ID}]}]}]}
    message, _ = decode_request(TRACES, json.dumps(body).encode(), JSON)
    assert message.resource_spans[0].scope_spans[0].spans[0].trace_id == bytes.fromhex(TRACE_ID)  # type: ignore[attr-defined]


def test_json_log_record_and_exemplar_ids_are_hex() -> None:
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": TRACE_ID, "spanId": SPAN_ID}]}]}]}
    message, _ = decode_request(LOGS, json.dumps(logs).encode(), JSON)
    assert message.resource_logs[0].scope_logs[0].log_records[0].span_id == bytes.fromhex(SPAN_ID)  # type: ignore[attr-defined]
    point = {"asDouble": 1.5, "exemplars": [{"traceId": TRACE_ID, "spanId": SPAN_ID, "asInt": "3"}]}
    metrics = {
        "resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "sum": {"dataPoints": [point]}}]}]}]
    }
    decoded, _ = decode_request(METRICS, json.dumps(metrics).encode(), JSON)
    assert isinstance(decoded, ExportMetricsServiceRequest)
    exemplar = decoded.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].exemplars[0]
    assert exemplar.trace_id == bytes.fromhex(TRACE_ID)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe{}", "malformed JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps(_trace_json(traceId="xyz")).encode(), "not a hex string"),
        (json.dumps(_trace_json(spanId="abc")).encode(), "not a hex string"),
        (json.dumps(_trace_json(name=["not", "a", "string"])).encode(), "invalid OTLP/JSON traces"),
        (json.dumps(_trace_json(startTimeUnixNano="soon")).encode(), "invalid OTLP/JSON traces"),
        (json.dumps({"resourceSpans": {"not": "a list"}}).encode(), "invalid OTLP/JSON traces"),
        (b'{"resourceSpans": [' * 5000 + b"]}" * 5000, "JSON"),
    ],
)
def test_malformed_json_is_bad_input(body: bytes, match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        decode_request(TRACES, body, JSON)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff", b"\x0a\x05abc", json.dumps(_trace_json()).encode(), b"\x0a" * 200],
    ids=["garbage", "truncated", "json-as-protobuf", "deep"],
)
def test_malformed_protobuf_is_bad_input(body: bytes) -> None:
    with pytest.raises(BadInputError, match="malformed protobuf traces request"):
        decode_request(TRACES, body, PROTOBUF)


def test_empty_body_is_an_empty_request() -> None:
    message, raw = decode_request(TRACES, b"", PROTOBUF)
    assert message == ExportTraceServiceRequest()
    assert raw == b""
    assert decode_request(TRACES, b"{}", JSON)[0] == ExportTraceServiceRequest()


def test_full_success_leaves_partial_success_unset() -> None:
    response = ExportTraceServiceResponse.FromString(encode_response(TRACES, PartialResult(), PROTOBUF))
    assert not response.HasField("partial_success")
    assert encode_response(TRACES, PartialResult(), JSON) == b"{}"


def test_partial_success_and_warnings_are_reported() -> None:
    response = ExportTraceServiceResponse.FromString(
        encode_response(TRACES, PartialResult(2, "2 spans without ids"), PROTOBUF)
    )
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "2 spans without ids"
    warning = ExportLogsServiceResponse.FromString(
        encode_response(LOGS, PartialResult(0, "heads up"), PROTOBUF)
    )
    assert warning.HasField("partial_success")
    assert warning.partial_success.rejected_log_records == 0
    as_json = json.loads(encode_response(TRACES, PartialResult(2, "x"), JSON))
    assert as_json == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "x"}}


def test_status_bodies_in_both_encodings() -> None:
    status = status_pb2.Status(code=3, message="bad")
    assert status_pb2.Status.FromString(encode_status(status, PROTOBUF)) == status
    parsed = status_pb2.Status()
    json_format.Parse(encode_status(status, JSON), parsed)
    assert parsed == status
