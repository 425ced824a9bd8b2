"""Canonical spans → the column arrays of one column-oriented INSERT into ``spans``.

One pass over the spans appends to every column list; JSON columns are encoded with orjson
(as ``bytes``, which the client writes without re-encoding). Values are passed through as
they are: a value of the wrong type fails the INSERT with a serialisation error, which
:func:`~tracesieve.sinks.clickhouse.errors.classify` reports as permanent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from tracesieve.collector.contracts import CanonicalSpan

__all__ = ["COLUMNS", "COLUMN_NAMES", "COLUMN_TYPES", "build_columns"]

_MAP = "Map(LowCardinality(String), String)"
_LC = "LowCardinality(String)"

# (name, type) of every column the sink writes, in INSERT order. Must match migrations/.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Timestamp", "DateTime64(9)"),
    ("TraceId", "String"),
    ("SpanId", "String"),
    ("ParentSpanId", "String"),
    ("TraceState", "String"),
    ("SpanName", _LC),
    ("SpanKind", _LC),
    ("ServiceName", _LC),
    ("ResourceAttributes", _MAP),
    ("ScopeName", "String"),
    ("ScopeVersion", "String"),
    ("SpanAttributes", _MAP),
    ("Duration", "UInt64"),
    ("StatusCode", _LC),
    ("StatusMessage", "String"),
    ("Events.Timestamp", "Array(DateTime64(9))"),
    ("Events.Name", f"Array({_LC})"),
    ("Events.Attributes", f"Array({_MAP})"),
    ("Links.TraceId", "Array(String)"),
    ("Links.SpanId", "Array(String)"),
    ("Links.TraceState", "Array(String)"),
    ("Links.Attributes", f"Array({_MAP})"),
    ("SessionId", "String"),
    ("UserId", "String"),
    ("TurnIndex", "Int32"),
    ("Kind", _LC),
    ("Operation", _LC),
    ("Provider", _LC),
    ("RequestModel", _LC),
    ("ResponseModel", _LC),
    ("ResponseId", "String"),
    ("SystemInstructions", "String"),
    ("InputMessages", "String"),
    ("OutputMessages", "String"),
    ("OutputText", "String"),
    ("Refusal", "String"),
    ("FinishReasons", f"Array({_LC})"),
    ("InputTokens", "UInt32"),
    ("OutputTokens", "UInt32"),
    ("ErrorType", _LC),
    ("RetrievalQuery", "String"),
    ("RetrievedDocuments", "String"),
    ("ToolCalls", "String"),
    ("Convention", _LC),
    ("IngestTime", "DateTime64(3)"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
COLUMN_TYPES: tuple[str, ...] = tuple(type_ for _, type_ in COLUMNS)

_EMPTY_JSON_LIST = b"[]"


def _json(value: Any) -> bytes:
    # Most spans carry no documents or tool calls: skip the encoder for the common empty list.
    return orjson.dumps(value) if value else _EMPTY_JSON_LIST


def build_columns(spans: Sequence[CanonicalSpan], ingest_time_ms: int) -> list[list[Any]]:
    """The column arrays, in :data:`COLUMN_NAMES` order, for ``spans`` (one pass).

    Times are integer ticks (ns for DateTime64(9), ms for ``IngestTime``), which the client
    writes as they are.
    """
    cols: list[list[Any]] = [[] for _ in COLUMNS]
    (
        timestamp, trace_id, span_id, parent_span_id, trace_state, span_name, span_kind,
        service_name, resource_attributes, scope_name, scope_version, span_attributes, duration,
        status_code, status_message, ev_ts, ev_name, ev_attrs, ln_trace, ln_span, ln_state,
        ln_attrs, session_id, user_id, turn_index, kind, operation, provider, request_model,
        response_model, response_id, system_instructions, input_messages, output_messages,
        output_text, refusal, finish_reasons, input_tokens, output_tokens, error_type,
        retrieval_query, retrieved_documents, tool_calls, convention, ingest_time,
    ) = (c.append for c in cols)  # fmt: skip
    dumps = orjson.dumps
    for s in spans:
        timestamp(s.start_ns)
        trace_id(s.trace_id)
        span_id(s.span_id)
        parent_span_id(s.parent_span_id)
        trace_state(s.trace_state)
        span_name(s.name)
        span_kind(s.otel_kind)
        service_name(s.service_name)
        resource_attributes(s.resource_attributes)
        scope_name(s.scope_name)
        scope_version(s.scope_version)
        span_attributes(s.attributes)
        duration(s.end_ns - s.start_ns if s.end_ns > s.start_ns else 0)
        status_code(s.status_code)
        status_message(s.status_message)
        events = s.events
        if events:
            ev_ts([e[0] for e in events])
            ev_name([e[1] for e in events])
            ev_attrs([e[2] for e in events])
        else:
            ev_ts([])
            ev_name([])
            ev_attrs([])
        links = s.links
        if links:
            ln_trace([k[0] for k in links])
            ln_span([k[1] for k in links])
            ln_state([k[2] for k in links])
            ln_attrs([k[3] for k in links])
        else:
            ln_trace([])
            ln_span([])
            ln_state([])
            ln_attrs([])
        session_id(s.session_id)
        user_id(s.user_id)
        turn_index(s.turn_index)
        kind(s.kind)
        operation(s.operation)
        provider(s.provider)
        request_model(s.request_model)
        response_model(s.response_model)
        response_id(s.response_id)
        system_instructions(s.system_instructions)
        input_messages(dumps(s.input_messages))
        output_messages(dumps(s.output_messages))
        output_text(s.output_text)
        refusal(s.refusal)
        finish_reasons(s.finish_reasons)
        input_tokens(s.input_tokens)
        output_tokens(s.output_tokens)
        error_type(s.error_type)
        retrieval_query(s.retrieval_query)
        retrieved_documents(_json(s.retrieved_documents))
        tool_calls(_json(s.tool_calls))
        convention(s.convention)
        ingest_time(ingest_time_ms)
    return cols
