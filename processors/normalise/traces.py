"""OTLP trace requests → canonical spans."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from tracesieve.collector.contracts import CanonicalSpan

from ._anyvalue import Truncator, decode_attributes
from ._finish import IdKeys, ResourceIds, normalise_span, watched_keys
from ._rejects import Rejects
from ._values import TIME_MAX_NS, as_str, stored_time_ns
from ._view import SpanView
from .config import NormaliseConfig

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["normalise_traces"]

_SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_STATUS_CODES = ("Unset", "Ok", "Error")
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def _id_problem(trace_id: bytes, span_id: bytes, parent_id: bytes) -> str:
    if len(trace_id) != 16:
        return f"invalid trace_id length {len(trace_id)}"
    if trace_id == _ZERO_TRACE:
        return "all-zero trace_id"
    if len(span_id) != 8:
        return f"invalid span_id length {len(span_id)}"
    if span_id == _ZERO_SPAN:
        return "all-zero span_id"
    if parent_id and len(parent_id) != 8:
        return f"invalid parent_span_id length {len(parent_id)}"
    return ""


def normalise_traces(
    request: ExportTraceServiceRequest, config: NormaliseConfig, seq: int = 0
) -> tuple[list[CanonicalSpan], int, str]:
    """Every valid span of ``request`` as a :class:`CanonicalSpan`, LLM or not.

    Returns ``(spans, rejected_count, error_message)``. A span is rejected (counted, not
    returned) when its trace id is not 16 bytes or all zero, its span id not 8 bytes or all zero,
    or its parent span id neither empty nor 8 bytes; ``error_message`` then summarises why, e.g.
    ``"2 spans rejected: invalid trace_id length 3"``. Never raises on content: a malformed
    attribute leaves its canonical field empty. Span and event times past DateTime64(9)'s end
    (2262; a fixed64 reaches 2554) are capped at :data:`._values.TIME_MAX_NS`.

    >>> from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    >>> req = ExportTraceServiceRequest()
    >>> span = req.resource_spans.add().scope_spans.add().spans.add(
    ...     trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="chat gpt-4o")
    >>> span.attributes.add(key="gen_ai.operation.name").value.string_value = "chat"
    >>> spans, rejected, message = normalise_traces(req, NormaliseConfig())
    >>> spans[0].kind, spans[0].operation, rejected, message
    ('llm', 'chat', 0, '')
    """
    truncate = Truncator(config.max_attribute_value_bytes, config.max_attributes)
    session_keys = IdKeys(config.session_id_keys)
    user_keys = IdKeys(config.user_id_keys)
    drop_content = not config.keep_content_attributes
    watched = watched_keys(config.session_id_keys, config.user_id_keys, _CONTENT_KEYS)
    out: list[CanonicalSpan] = []
    append = out.append
    rejects = Rejects("span")  # also carries the warnings
    for rs in request.resource_spans:
        # One attribute map per resource, shared by all its spans: nothing downstream mutates
        # it (the assembler and the ClickHouse rows only read it), so no per-span copy.
        resource, resource_strings = decode_attributes(rs.resource.attributes, truncate)
        service = as_str(resource.get("service.name"))
        ids = ResourceIds(resource, session_keys, user_keys)
        for ss in rs.scope_spans:
            scope = ss.scope
            scope_name = scope.name
            scope_version = scope.version
            for sp in ss.spans:
                trace_id = sp.trace_id
                span_id = sp.span_id
                parent_id = sp.parent_span_id
                if (
                    len(trace_id) != 16
                    or len(span_id) != 8
                    or (parent_id and len(parent_id) != 8)
                    or trace_id == _ZERO_TRACE
                    or span_id == _ZERO_SPAN
                ):
                    rejects.add(_id_problem(trace_id, span_id, parent_id))
                    continue
                attrs, strings = decode_attributes(sp.attributes, truncate)
                sp_events = sp.events
                if sp_events:  # most spans have none
                    events, event_views = _events(sp_events, truncate)
                else:
                    events, event_views = [], _NO_EVENTS
                links = sp.links
                status = sp.status
                kind = sp.kind
                code = status.code
                name = sp.name
                # Positional: half the cost of keywords for a 40-field dataclass (the order is the
                # contract's, which does not change).
                span = CanonicalSpan(
                    trace_id.hex(),
                    span_id.hex(),
                    parent_id.hex() if parent_id and parent_id != _ZERO_SPAN else "",
                    name,
                    start if (start := sp.start_time_unix_nano) <= TIME_MAX_NS else TIME_MAX_NS,
                    end if (end := sp.end_time_unix_nano) <= TIME_MAX_NS else TIME_MAX_NS,
                    _SPAN_KINDS[kind] if 0 <= kind < 6 else "Unspecified",
                    _STATUS_CODES[code] if 0 <= code < 3 else "Unset",
                    status.message,
                    sp.trace_state,
                    service,
                    scope_name,
                    scope_version,
                    resource_strings,
                    strings,
                    events,
                    _links(links, truncate) if links else [],
                )
                span.seq = seq
                # The one pass over the keys: markers, id and content keys the span carries.
                keys = watched.intersection(attrs)
                try:
                    normalise_span(span, SpanView(attrs, event_views, name, scope_name), ids, keys)
                except Exception as exc:
                    # DESIGN.md, delivery: bad input never poisons a batch. The span is kept with
                    # its OTel fields and what was extracted; the request reports it as a warning.
                    rejects.warn(f"span {span.span_id} only partly normalised ({type(exc).__name__})")
                if drop_content:
                    content_keys = keys & _CONTENT_KEYS
                    if content_keys:
                        _drop_content_attributes(span, strings, content_keys)
                append(span)
    return out, rejects.count, rejects.message()


# A span without events shares this one (empty, never mutated) list of event views.
_NO_EVENTS: list[tuple[str, int, dict[str, Any]]] = []

# Content attributes whose text the canonical fields hold, by the field that holds it.
_INPUT_KEYS = frozenset((
    "gen_ai.input.messages", "input.value", "traceloop.entity.input", "langfuse.observation.input",
    "ai.prompt", "ai.prompt.messages", "mlflow.spanInputs", "pydantic_ai.all_messages", "gen_ai.prompt",
))  # fmt: skip
_OUTPUT_KEYS = frozenset((
    "gen_ai.output.messages", "output.value", "traceloop.entity.output", "langfuse.observation.output",
    "ai.response.text", "mlflow.spanOutputs", "gen_ai.completion",
))  # fmt: skip
_CONTENT_KEYS = frozenset(
    (*_INPUT_KEYS, *_OUTPUT_KEYS, "gen_ai.system_instructions", "gen_ai.retrieval.documents")
)


def _drop_content_attributes(span: CanonicalSpan, strings: dict[str, str], present: AbstractSet[str]) -> None:
    """Drop attributes whose text already sits in a canonical field (``keep_content_attributes``).

    ``present`` is the content keys the span carries (usually one or two).
    """
    for key in present:
        if key in _INPUT_KEYS:
            held = bool(span.input_messages)
        elif key in _OUTPUT_KEYS:
            held = bool(span.output_messages or span.output_text or span.refusal)
        elif key == "gen_ai.system_instructions":
            held = bool(span.system_instructions)
        else:  # gen_ai.retrieval.documents
            held = bool(span.retrieved_documents)
        if held:
            del strings[key]


def _events(
    events: Any, truncate: Truncator
) -> tuple[list[tuple[int, str, dict[str, str]]], list[tuple[str, int, dict[str, Any]]]]:
    stored = []
    views = []
    for ev in events:
        name = ev.name
        t = stored_time_ns(ev.time_unix_nano)
        values, strings = decode_attributes(ev.attributes, truncate)
        stored.append((t, name, strings))
        views.append((name, t, values))
    return stored, views


def _links(links: Any, truncate: Truncator) -> list[tuple[str, str, str, dict[str, str]]]:
    return [
        (ln.trace_id.hex(), ln.span_id.hex(), ln.trace_state, decode_attributes(ln.attributes, truncate)[1])
        for ln in links
    ]
