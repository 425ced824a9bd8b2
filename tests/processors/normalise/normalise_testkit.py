"""Small builders for OTLP requests, and the reference captures, for the normaliser's tests."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from tracesieve.collector.contracts import CanonicalSpan, LogEvent
from tracesieve.processors.normalise import NormaliseConfig, normalise_logs, normalise_traces

# shared/ sits beside the repository, in CI as here.
CAPTURES = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "captures"
CONFIG = NormaliseConfig()
TRACE_ID = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
_span_ids = itertools.count(1)


def any_value(value: Any) -> AnyValue:
    """A Python value as an OTLP ``AnyValue`` (dict → kvlist, list → array)."""
    v = AnyValue()
    if isinstance(value, str):
        v.string_value = value
    elif isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    elif isinstance(value, bytes):
        v.bytes_value = value
    elif isinstance(value, dict):
        v.kvlist_value.values.extend(KeyValue(key=k, value=any_value(x)) for k, x in value.items())
    elif isinstance(value, list):
        v.array_value.values.extend(any_value(x) for x in value)
    elif value is not None:
        raise TypeError(value)
    return v


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def new_span_id() -> bytes:
    return next(_span_ids).to_bytes(8, "big")


def trace_request(
    *spans: dict[str, Any], resource: dict[str, Any] | None = None, scope: str = "test"
) -> ExportTraceServiceRequest:
    """A request of spans given as dicts: ``name``, ``attrs``, ``events`` [(name, attrs, time)],
    ``trace_id``, ``span_id``, ``parent``, ``kind``, ``status`` (code, message)."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(kvs(resource or {"service.name": "svc"}))
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    for s in spans:
        sp = ss.spans.add(
            trace_id=s.get("trace_id", TRACE_ID),
            span_id=s.get("span_id") or new_span_id(),
            parent_span_id=s.get("parent", b""),
            name=s.get("name", "span"),
            kind=s.get("kind", 3),
            start_time_unix_nano=s.get("start", 1_000),
            end_time_unix_nano=s.get("end", 2_000),
        )
        sp.attributes.extend(kvs(s.get("attrs", {})))
        for name, attrs, *t in s.get("events", ()):
            ev = sp.events.add(name=name, time_unix_nano=t[0] if t else 1_500)
            ev.attributes.extend(kvs(attrs))
        code, message = s.get("status", (0, ""))
        sp.status.code = code
        sp.status.message = message
    return req


def normalise(*spans: dict[str, Any], **kw: Any) -> list[CanonicalSpan]:
    out, rejected, message = normalise_traces(trace_request(*spans, **kw), CONFIG)
    assert (rejected, message) == (0, "")  # no warning either: nothing broke the normaliser
    return out


def one(attrs: dict[str, Any], scope: str = "test", **span: Any) -> CanonicalSpan:
    """The canonical form of a single span with these attributes (``span``: as in :func:`trace_request`)."""
    (result,) = normalise({"attrs": attrs, **span}, scope=scope)
    return result


def log_request(*records: dict[str, Any]) -> ExportLogsServiceRequest:
    """Log records as dicts: ``event_name``, ``attrs``, ``body``, ``trace_id``, ``span_id``, ``time``,
    ``observed``."""
    req = ExportLogsServiceRequest()
    sl = req.resource_logs.add().scope_logs.add()
    for r in records:
        lr = sl.log_records.add(
            trace_id=r.get("trace_id", TRACE_ID),
            span_id=r.get("span_id", b""),
            time_unix_nano=r.get("time", 0),
            observed_time_unix_nano=r.get("observed", 0),
            event_name=r.get("event_name", ""),
        )
        lr.attributes.extend(kvs(r.get("attrs", {})))
        if "body" in r:
            lr.body.CopyFrom(any_value(r["body"]))
    return req


def log_events(*records: dict[str, Any]) -> list[LogEvent]:
    out, _feedback, rejected, message = normalise_logs(log_request(*records), CONFIG)
    assert rejected == 0, message
    return out


def read_traces(capture: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    req.ParseFromString((CAPTURES / capture / "0001_traces.pb").read_bytes())
    return req


def read_logs(capture: str) -> ExportLogsServiceRequest:
    (path,) = (CAPTURES / capture).glob("*_logs.pb")
    req = ExportLogsServiceRequest()
    req.ParseFromString(path.read_bytes())
    return req
