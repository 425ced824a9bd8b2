"""OpenLLMetry / Traceloop (conventions.md §3).

The new instrumentations write OTel GenAI attributes (read by :mod:`.otel_genai`); this module
reads what is Traceloop's own: the legacy indexed ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``
content, ``llm.request.type``, the workflow layer (``traceloop.span.kind``), and vector-db
results as ``db.query.result`` / ``db.search.result`` span events. Fallback:
``traceloop.entity.input`` / ``traceloop.entity.output`` JSON.
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import CanonicalSpan, Message, RetrievedDocument

from .._content import Output
from .._documents import document
from .._message import message, tool_call
from .._values import loads_or_text
from .._view import Convention, SpanView
from .._vocab import finish_reason
from . import _fill
from ._flat import group, scan
from ._io import raw_io

__all__ = ["CONVENTION"]

_REQUEST_TYPES = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": "rerank",
}
_SPAN_KINDS = {"workflow": "invoke_workflow", "agent": "invoke_agent", "tool": "execute_tool", "task": "task"}
# Any of these means the legacy indexed content is there (completion 0 may hold only a tool call).
_INDEXED = frozenset(
    (
        "gen_ai.prompt.0.role",
        "gen_ai.prompt.0.content",
        "gen_ai.completion.0.role",
        "gen_ai.completion.0.content",
        "gen_ai.completion.0.finish_reason",
        "gen_ai.completion.0.tool_calls.0.name",
        "gen_ai.completion.0.function_call.name",
    )
)
_DB_RESULTS = {"db.query.result": "db.query.result.", "db.search.result": "db.search.result."}


MARKERS = frozenset(
    (
        "traceloop.span.kind",
        "traceloop.workflow.name",
        "traceloop.entity.name",
        "traceloop.association.properties.session_id",
        "traceloop.association.properties.user_id",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "llm.request.type",
        "gen_ai.is_streaming",
        "db.vector.query.top_k",
        *_INDEXED,
    )
)


def _scope_hint(scope_name: str) -> bool:
    return scope_name == "traceloop.tracer"


def _hint(view: SpanView) -> bool:
    return bool(view.events) and any(e[0] in _DB_RESULTS for e in view.events)


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    docs = _db_results(view) if view.events else []
    if docs or "db.vector.query.top_k" in a:
        _fill.operation(span, "retrieval")
        if docs and not span.retrieved_documents:
            span.retrieved_documents = docs
    request_type = a.get("llm.request.type")
    if isinstance(request_type, str):
        _fill.operation(span, _REQUEST_TYPES.get(request_type.lower(), ""))
    span_kind = a.get("traceloop.span.kind")
    if isinstance(span_kind, str):
        _fill.operation(span, _SPAN_KINDS.get(span_kind.lower(), ""))
    if not _INDEXED.isdisjoint(a):
        _indexed(span, a)


def _db_results(view: SpanView) -> list[RetrievedDocument]:
    out = []
    for name, _, attrs in view.events:
        prefix = _DB_RESULTS.get(name)
        if prefix:
            fields = scan(attrs, prefix)
            if "entity" in fields and "document" not in fields:
                fields["document"] = fields.pop("entity")  # Milvus search hits
            out.append(document(fields))
    return out


def _legacy_message(fields: dict[str, Any], role: str) -> tuple[Message, str]:
    raw: dict[str, Any] = {"role": fields.get("role", role), "content": loads_or_text(fields.get("content"))}
    if "tool_call_id" in fields:
        raw["tool_call_id"] = fields["tool_call_id"]
    msg, refusal = message(raw, role)
    calls = [tool_call(c.get("id"), c.get("name"), c.get("arguments")) for c in group(fields, "tool_calls.")]
    fc = scan(fields, "function_call.")
    if fc:
        calls.append(tool_call(fc.get("id"), fc.get("name"), fc.get("arguments")))
    if calls:
        msg["tool_calls"] = calls
    return msg, refusal


def _indexed(span: CanonicalSpan, a: dict[str, Any]) -> None:
    if not span.input_messages:
        _fill.inputs(span, [_legacy_message(f, "user")[0] for f in group(scan(a, "gen_ai.prompt."), "")])
    if not span.output_messages or not span.finish_reasons:
        out = Output()
        for f in group(scan(a, "gen_ai.completion."), ""):
            msg, refusal = _legacy_message(f, "assistant")
            out.messages.append(msg)
            out.refusal = out.refusal or refusal
            if isinstance(f.get("finish_reason"), str):
                out.finish_reasons.append(f["finish_reason"])
        out.finish_reasons = [r for r in map(finish_reason, out.finish_reasons) if r]
        _fill.outputs(span, out)


def fallback(span: CanonicalSpan, view: SpanView) -> None:
    """``traceloop.entity.input`` / ``.output``: decorator ``{"args", "kwargs"}`` or LangChain payloads."""
    a = view.attrs
    ei = a.get("traceloop.entity.input")
    eo = a.get("traceloop.entity.output")
    if ei is not None or eo is not None:
        raw_io(span, ei, eo)


CONVENTION = Convention("openllmetry", MARKERS, extract, fallback, _hint, _scope_hint)
