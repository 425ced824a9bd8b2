"""Logfire and pydantic-ai (conventions.md §5).

From instrumentation version 2 on, model requests carry OTel GenAI attributes (read by
:mod:`.otel_genai`). This module reads the rest: the agent run's ``pydantic_ai.all_messages`` and
``final_result``; the old version-1 ``events`` attribute (a JSON array of event bodies merged
with their attributes); Logfire's own ``request_data`` / ``response_data`` (``instrument_openai``
version 1); the v2 tool span's ``tool_response``.
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import KIND_AGENT, KIND_LLM, KIND_TOOL, CanonicalSpan, Message

from .._content import Output, input_messages, output_messages
from .._events import fold_messages, span_event_body
from .._message import text_of
from .._values import loads, loads_or_text
from .._view import Convention, SpanView
from . import _fill

__all__ = ["CONVENTION"]

MARKERS = frozenset(
    (
        "logfire.msg",
        "logfire.span_type",
        "logfire.json_schema",
        "pydantic_ai.all_messages",
        "model_request_parameters",
        "request_data",
        "response_data",
        "tool_response",
    )
)


def _scope_hint(scope_name: str) -> bool:
    return scope_name.startswith(("pydantic-ai", "pydantic_ai", "logfire"))


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    if "pydantic_ai.all_messages" in a:
        _agent_run(span, a)
    events = a.get("events")
    if events is not None:
        _v1_events(span, events)
    if "request_data" in a or "response_data" in a:
        _request_response(span, a)
    if "tool_response" in a:
        _fill.operation(span, "execute_tool")
        if span.kind == KIND_TOOL:
            _fill.output_text(span, text_of(loads_or_text(a["tool_response"])))


def _agent_run(span: CanonicalSpan, a: dict[str, Any]) -> None:
    _fill.operation(span, "invoke_agent")
    messages = input_messages(a["pydantic_ai.all_messages"])
    answer: list[Message] = []
    while messages and messages[-1]["role"] == "assistant":  # the run's own answer, not its input
        answer.insert(0, messages.pop())
    if span.kind == KIND_AGENT:
        _fill.inputs(span, messages)
        final = a.get("final_result")
        if final is not None:
            _fill.output_text(span, text_of(loads_or_text(final)))
        if answer and not span.output_messages:
            span.output_messages = answer[-1:]


def _v1_events(span: CanonicalSpan, raw: Any) -> None:
    events = loads(raw)
    if not isinstance(events, list):
        return
    folded = [
        (e["event.name"], i, span_event_body(e))
        for i, e in enumerate(events)
        if isinstance(e, dict) and isinstance(e.get("event.name"), str)
    ]
    if not folded:
        return
    _fill.operation(span, "chat")
    prompts, out = fold_messages(folded)
    _fill.inputs(span, prompts)
    _fill.outputs(span, out)


def _request_response(span: CanonicalSpan, a: dict[str, Any]) -> None:
    request = loads(a.get("request_data"))
    response = loads(a.get("response_data"))
    if isinstance(request, dict):
        _fill.operation(span, "chat")
        _fill.models(span, request.get("model"))
        _fill.inputs(span, input_messages(request))
    if span.kind != KIND_LLM or not isinstance(response, dict):
        return
    usage = response.get("usage")
    if isinstance(usage, dict):
        _fill.tokens(span, usage.get("prompt_tokens"), usage.get("completion_tokens"))
    streamed = response.get("combined_chunk_content")
    if isinstance(streamed, str):
        out = Output()
        out.messages.append({"role": "assistant", "content": streamed})
        _fill.outputs(span, out)
    else:
        _fill.outputs(span, output_messages(response))


CONVENTION = Convention("logfire", MARKERS, extract, scope_hint=_scope_hint)
