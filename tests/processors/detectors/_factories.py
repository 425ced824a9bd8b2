"""Builders of the canonical spans, turns and feedback the detector tests feed in.

Every builder takes keyword overrides of any field; ids are unique per call. ``capture_spans``
normalises a real capture (``shared/reference/captures``) with the product's normaliser, so that
the detectors are also tested on what the instrumentation libraries really send.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from tracesieve.collector.contracts import (
    KIND_AGENT,
    KIND_EMBEDDING,
    KIND_LLM,
    KIND_OTHER,
    KIND_RETRIEVAL,
    KIND_TOOL,
    CanonicalSpan,
    Feedback,
    RetrievedDocument,
    SpanRef,
)
from tracesieve.processors.normalise import NormaliseConfig, normalise_traces
from tracesieve.processors.sessions.model import TurnRecord

CAPTURES = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "captures"
OTEL = "otel_openai_v2__span_and_event"
OPENINFERENCE = "openinference"
TRACELOOP = "traceloop"
LANGFUSE = "langfuse"

SECOND = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * SECOND
TRACE = "0af7651916cd43dd8448eb211c80319c"
SESSION = "sess-1"

_ids = itertools.count(1)


def span_id() -> str:
    return f"{next(_ids):016x}"


def span(kind: str = KIND_OTHER, *, duration_ms: float = 100.0, **fields: Any) -> CanonicalSpan:
    """A canonical span of ``kind`` starting at ``T0`` (``start_ns`` may be overridden)."""
    start = fields.pop("start_ns", T0)
    values: dict[str, Any] = {
        "trace_id": TRACE,
        "span_id": span_id(),
        "parent_span_id": "",
        "name": kind,
        "start_ns": start,
        "end_ns": start + int(duration_ms * MS),
        "kind": kind,
        "service_name": "svc",
        "session_id": SESSION,
    }
    values.update(fields)
    return CanonicalSpan(**values)


def llm(**fields: Any) -> CanonicalSpan:
    values: dict[str, Any] = {
        "name": "chat gpt-4o",
        "operation": "chat",
        "provider": "openai",
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "input_messages": [{"role": "user", "content": "How long do refunds take?"}],
        "output_text": "Refunds take 14 days.",
        "finish_reasons": ["stop"],
        "output_tokens": 7,
    }
    values.update(fields)
    return span(KIND_LLM, **values)


def retrieval(docs: list[RetrievedDocument] | None = None, **fields: Any) -> CanonicalSpan:
    values: dict[str, Any] = {
        "name": "retrieval kb-faq",
        "operation": "retrieval",
        "retrieval_query": "How long do refunds take?",
        "retrieved_documents": docs if docs is not None else documents(0.91, 0.77),
        "attributes": {"gen_ai.data_source.id": "kb-faq"},
        "duration_ms": 20.0,
    }
    values.update(fields)
    return span(KIND_RETRIEVAL, **values)


def documents(*scores: float | None) -> list[RetrievedDocument]:
    return [{"id": f"doc-{i}", "score": s, "content": f"text {i}"} for i, s in enumerate(scores)]


def tool(result: str = "42", **fields: Any) -> CanonicalSpan:
    values: dict[str, Any] = {
        "name": "execute_tool get_weather",
        "operation": "execute_tool",
        "output_text": result,
    }
    values.update(fields)
    return span(KIND_TOOL, **values)


def agent(**fields: Any) -> CanonicalSpan:
    values: dict[str, Any] = {"name": "invoke_agent support", "operation": "invoke_agent"}
    values.update(fields)
    return span(KIND_AGENT, **values)


def embedding(**fields: Any) -> CanonicalSpan:
    values: dict[str, Any] = {
        "name": "embeddings text-embedding-3-small",
        "operation": "embeddings",
        "request_model": "text-embedding-3-small",
    }
    values.update(fields)
    return span(KIND_EMBEDDING, **values)


def exception_event(kind: str = "openai.InternalServerError", message: str = "Error code: 500") -> Any:
    return (T0, "exception", {"exception.type": kind, "exception.message": message})


def turn(**fields: Any) -> TurnRecord:
    """The record of a session's turn that was answered (answer span set) and ended at ``T0 + 1 s``."""
    values: dict[str, Any] = {
        "session_id": SESSION,
        "trace_id": TRACE,
        "start_ns": T0,
        "end_ns": T0 + SECOND,
        "index": 2,
        "answer_span_id": "00000000000000aa",
        "answer_end_ns": T0 + SECOND,
        "user_message": "How long do refunds take?",
        "answer_text": "Refunds take 14 days.",
        "service_name": "svc",
        "model": "gpt-4o-2024-08-06",
        "operation": "chat",
    }
    values.update(fields)
    return TurnRecord(**values)


def feedback(**fields: Any) -> Feedback:
    values: dict[str, Any] = {"feedback_id": f"fb-{next(_ids)}", "time_ns": T0 + 60 * SECOND, "source": "api"}
    values.update(fields)
    return Feedback(**values)


def target(service: str = "svc") -> SpanRef:
    return SpanRef(SESSION, TRACE, "00000000000000aa", T0 + SECOND, service)


def capture_spans(capture: str) -> list[CanonicalSpan]:
    """Every span of a real capture's first trace request, normalised."""
    request = ExportTraceServiceRequest()
    request.ParseFromString((CAPTURES / capture / "0001_traces.pb").read_bytes())
    spans, rejected, _ = normalise_traces(request, NormaliseConfig())
    assert rejected == 0
    return spans


def scenario_spans(capture: str, scenario: str) -> list[CanonicalSpan]:
    """The spans of one scenario (``app.scenario``, e.g. ``f_error_500``) of a capture."""
    spans = capture_spans(capture)
    traces = {s.trace_id for s in spans if scenario in "".join(s.attributes.values())}
    assert traces, f"no span of {capture} mentions {scenario}"
    return [s for s in spans if s.trace_id in traces]


def normalised(attrs: Mapping[str, str | int | float], name: str = "retrieve") -> CanonicalSpan:
    """One OTLP span with these attributes, through the product's normaliser."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", "svc"))
    sp = rs.scope_spans.add().spans.add(
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(span_id()),
        name=name,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 20 * MS,
    )
    sp.attributes.extend(_kv(k, v) for k, v in attrs.items())
    (result,), rejected, _ = normalise_traces(request, NormaliseConfig())
    assert rejected == 0
    return result


def _kv(key: str, value: str | int | float) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, str):
        kv.value.string_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.double_value = value
    return kv
