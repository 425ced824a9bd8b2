"""OpenInference (Arize), semconv 0.1.x (conventions.md §2).

Everything is a flattened span attribute: ``llm.input_messages.N.message.*`` (with
``contents.M.message_content.*`` and ``tool_calls.M.tool_call.*``), ``retrieval.documents.N.document.*``,
``embedding.embeddings.N.embedding.*``. The fallback reads ``input.value`` / ``output.value``,
where the OpenAI instrumentation keeps the raw request and response JSON: the only place a
``message.refusal`` (content null) survives.
"""

from __future__ import annotations

from operator import methodcaller
from typing import Any

from tracesieve.collector.contracts import KIND_EMBEDDING, CanonicalSpan, Message

from .._documents import document
from .._message import message, text_of, tool_call
from .._values import as_str, loads
from .._view import Convention, SpanView
from .._vocab import finish_reason
from . import _fill
from ._flat import group
from ._io import raw_io

__all__ = ["CONVENTION"]

# §2 "Converting to GenAI": span kind → operation.
_OPERATIONS = {
    "LLM": "chat",
    "EMBEDDING": "embeddings",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "CHAIN": "chain",
}
_PREFIXES = (
    "llm.input_messages.",
    "llm.output_messages.",
    "retrieval.documents.",
    "reranker.output_documents.",
    "embedding.embeddings.",
    "llm.prompts.",
    "llm.choices.",
)

_INDEXED = methodcaller("startswith", _PREFIXES)


# Every key that lets extract() in: markers double as the gate that skips unrelated spans.
MARKERS = frozenset(("openinference.span.kind", "llm.model_name", "llm.input_messages.0.message.role"))


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    g = a.get
    span_kind = g("openinference.span.kind")
    if (
        not isinstance(span_kind, str)
        and "llm.model_name" not in a
        and "llm.input_messages.0.message.role" not in a
    ):
        return
    sk = span_kind.upper() if isinstance(span_kind, str) else "LLM"
    op = _OPERATIONS.get(sk, sk.lower())
    if op == "chat" and ("llm.prompts.0.prompt.text" in a or "llm.prompts" in a):
        op = "text_completion"
    _fill.operation(span, op)
    _fill.provider_name(span, g("llm.provider") or g("llm.system"), g("llm.system"))
    request = g("llm.request.model_name")
    if request is None and not span.request_model:
        params = loads(g("llm.invocation_parameters") or g("embedding.invocation_parameters"))
        request = params.get("model") if isinstance(params, dict) else None
    _fill.models(
        span, request, g("llm.response.model_name") or g("llm.model_name") or g("embedding.model_name")
    )
    _fill.tokens(span, g("llm.token_count.prompt"), g("llm.token_count.completion"))
    reason = finish_reason(g("llm.finish_reason"))
    if reason and not span.finish_reasons:
        span.finish_reasons = [reason]
    groups: dict[str, dict[str, Any]] = {}
    for key in filter(_INDEXED, a):  # the scan over every key runs in C
        head, rest = _split(key)
        groups.setdefault(head, {})[rest] = a[key]
    if groups:
        _flattened(span, groups, a)


def _split(key: str) -> tuple[str, str]:
    for p in _PREFIXES:
        if key.startswith(p):
            return p, key[len(p) :]
    return key, ""


def _message(fields: dict[str, Any]) -> tuple[Message, str]:
    raw: dict[str, Any] = {"role": fields.get("message.role"), "content": fields.get("message.content")}
    for src, dst in (("message.name", "name"), ("message.tool_call_id", "tool_call_id")):
        if src in fields:
            raw[dst] = fields[src]
    contents = group(fields, "message.contents.")
    if contents and raw["content"] is None:
        raw["content"] = [
            {"type": c.get("message_content.type", "text"), "text": c.get("message_content.text")}
            for c in contents
        ]
    msg, refusal = message(raw)
    calls = [
        tool_call(
            c.get("tool_call.id"), c.get("tool_call.function.name"), c.get("tool_call.function.arguments")
        )
        for c in group(fields, "message.tool_calls.")
    ]
    if calls:
        msg["tool_calls"] = calls
    return msg, refusal


def _flattened(span: CanonicalSpan, groups: dict[str, dict[str, Any]], a: dict[str, Any]) -> None:
    fields = groups.get("llm.input_messages.")
    if fields:
        _fill.inputs(span, [_message(f)[0] for f in group(fields, "")])
    fields = groups.get("llm.output_messages.")
    if fields and not span.output_messages:
        msgs = [_message(f) for f in group(fields, "")]
        span.output_messages = [m for m, _ in msgs]
        if not span.refusal:
            span.refusal = next((r for _, r in msgs if r), "")
    fields = groups.get("llm.prompts.")  # completions API
    if fields:
        _fill.inputs(
            span, [{"role": "user", "content": text_of(f.get("prompt.text"))} for f in group(fields, "")]
        )
    fields = groups.get("llm.choices.")
    if fields and not span.output_messages:
        span.output_messages = [
            {"role": "assistant", "content": text_of(f.get("completion.text"))} for f in group(fields, "")
        ]
    docs = groups.get("retrieval.documents.") or groups.get("reranker.output_documents.")
    if docs and not span.retrieved_documents:
        span.retrieved_documents = [_document(f) for f in group(docs, "")]
    fields = groups.get("embedding.embeddings.")
    if fields and span.kind == KIND_EMBEDDING:
        texts = [f.get("embedding.text") for f in group(fields, "")]
        _fill.inputs(span, [{"role": "user", "content": t} for t in texts if isinstance(t, str)])
    if "reranker.query" in a and not span.retrieval_query:
        span.retrieval_query = as_str(a["reranker.query"])


def _document(fields: dict[str, Any]) -> dict[str, Any]:
    return document({k.removeprefix("document."): v for k, v in fields.items()})


def fallback(span: CanonicalSpan, view: SpanView) -> None:
    """``input.value`` / ``output.value``: raw request/response JSON, or plain text."""
    a = view.attrs
    iv = a.get("input.value")
    ov = a.get("output.value")
    if iv is not None or ov is not None:
        text_in = a.get("input.mime_type") == "text/plain"
        raw_io(span, iv, ov, text_in, a.get("output.mime_type") == "text/plain")


CONVENTION = Convention("openinference", MARKERS, extract, fallback)
