"""Vercel AI SDK telemetry (conventions.md §5): ``ai.*`` attributes.

``ai.generateText.doGenerate`` / ``ai.streamText.doStream`` (and the object variants) are the
model calls; the outer ``ai.generateText`` & co. are agent steps; ``ai.embed*.doEmbed`` are
embeddings; ``ai.toolCall`` tools. Before AI SDK 4 the outputs were ``ai.result.*`` and
``ai.finishReason``; usage is ``promptTokens``/``completionTokens`` or ``inputTokens``/``outputTokens``.
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import (
    KIND_AGENT,
    KIND_EMBEDDING,
    KIND_LLM,
    KIND_TOOL,
    CanonicalSpan,
    Message,
)

from .._content import Output, input_messages
from .._message import text_of, tool_call
from .._values import as_str, json_text, loads, loads_or_text
from .._view import Convention, SpanView
from .._vocab import finish_reason
from . import _fill

__all__ = ["CONVENTION"]


MARKERS = frozenset(("ai.operationId", "ai.model.id", "ai.model.provider", "ai.response.text"))


def _operation(op_id: str) -> tuple[str, str]:
    if op_id.endswith((".doGenerate", ".doStream")):
        return "chat", KIND_LLM
    if op_id.endswith(".doEmbed"):
        return "embeddings", KIND_EMBEDDING
    if op_id == "ai.toolCall":
        return "execute_tool", KIND_TOOL
    return op_id, KIND_AGENT  # ai.generateText, ai.streamObject, ai.embedMany…: the outer step


def _tool_calls(value: Any) -> list[Any]:
    calls = loads(value)
    if not isinstance(calls, list):
        return []
    return [
        tool_call(c.get("toolCallId"), c.get("toolName"), c.get("input", c.get("args")))
        for c in calls
        if isinstance(c, dict)
    ]


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    g = a.get
    op_id = g("ai.operationId")
    if not isinstance(op_id, str) and "ai.model.id" not in a and "ai.response.text" not in a:
        return
    if isinstance(op_id, str):
        op, kind = _operation(op_id)
        _fill.operation(span, op, kind)
    _fill.provider_name(span, g("ai.model.provider"))
    _fill.models(span, g("ai.model.id"), g("ai.response.model"))
    if not span.response_id:
        span.response_id = as_str(g("ai.response.id"))
    _fill.tokens(
        span,
        g("ai.usage.inputTokens", g("ai.usage.promptTokens", g("ai.usage.tokens"))),
        g("ai.usage.outputTokens", g("ai.usage.completionTokens")),
    )
    reason = finish_reason(g("ai.response.finishReason", g("ai.finishReason")))
    if reason and not span.finish_reasons:
        span.finish_reasons = [reason]
    prompt = g("ai.prompt.messages", g("ai.prompt"))
    if prompt is not None and span.kind in (KIND_LLM, KIND_AGENT):
        _fill.inputs(span, input_messages(prompt, plain_as_user=span.kind == KIND_LLM))
    text = g("ai.response.text", g("ai.result.text"))
    if text is None and "ai.response.object" in a:
        text = json_text(loads_or_text(g("ai.response.object")))
    calls = _tool_calls(g("ai.response.toolCalls", g("ai.result.toolCalls")))
    if (isinstance(text, str) or calls) and not span.output_messages:
        msg: Message = {"role": "assistant", "content": text if isinstance(text, str) else ""}
        if calls:
            msg["tool_calls"] = calls
        out = Output()
        out.messages.append(msg)
        _fill.outputs(span, out)
    if span.kind == KIND_TOOL:
        _fill.output_text(span, text_of(loads_or_text(g("ai.toolCall.result"))))
    elif span.kind == KIND_EMBEDDING:
        values = g("ai.values", g("ai.value"))
        values = values if isinstance(values, list) else [values]
        texts = [loads_or_text(v) for v in values if isinstance(v, str)]
        _fill.inputs(span, [{"role": "user", "content": t} for t in texts if isinstance(t, str)])


CONVENTION = Convention("vercel_ai", MARKERS, extract)
