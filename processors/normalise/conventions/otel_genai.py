"""OpenTelemetry GenAI semantic conventions, every generation (conventions.md §1).

Structured sources, in order: the ≥1.37 attributes (``gen_ai.input.messages`` & co., JSON text
or structured), the ``gen_ai.client.inference.operation.details`` span event, the 1.28–1.36
``gen_ai.*.message`` / ``gen_ai.choice`` span events. Fallback: the ≤1.27 span events
``gen_ai.content.prompt`` / ``gen_ai.content.completion``.
"""

from __future__ import annotations

from operator import methodcaller

from tracesieve.collector.contracts import KIND_TOOL, CanonicalSpan

from .._content import input_messages, output_messages, system_text
from .._documents import documents
from .._events import CHOICE, COMPLETION, DETAILS, MESSAGE_ROLES, PROMPT, fold_messages, span_event_body
from .._message import text_of
from .._values import as_str, loads_or_text
from .._view import Convention, SpanView
from .._vocab import finish_reasons
from . import _fill

__all__ = ["CONVENTION", "extract"]

MARKERS = frozenset(
    ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model")
)


# map() with a method caller: the scan over the span's keys runs in C, not one bytecode loop a key.
_GEN_AI = methodcaller("startswith", "gen_ai.")


def _hint(view: SpanView) -> bool:
    return any(map(_GEN_AI, view.attrs)) or (
        bool(view.events) and any(e[0].startswith("gen_ai.") for e in view.events)
    )


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    g = a.get
    op = g("gen_ai.operation.name")
    if op is None and ("gen_ai.tool.name" in a or "gen_ai.tool.call.id" in a):
        op = "execute_tool"  # as Langfuse's type mapper: a tool name alone marks a tool span
    if op is not None:
        _fill.operation(span, op.lower() if isinstance(op, str) else op)
    _fill.provider_name(span, g("gen_ai.provider.name") or g("gen_ai.system"))
    _fill.models(span, g("gen_ai.request.model"), g("gen_ai.response.model"))
    value = g("gen_ai.response.id")
    if value is not None and not span.response_id:
        span.response_id = as_str(value)
    _fill.tokens(
        span,
        g("gen_ai.usage.input_tokens", g("gen_ai.usage.prompt_tokens")),
        g("gen_ai.usage.output_tokens", g("gen_ai.usage.completion_tokens")),
    )
    reasons = g("gen_ai.response.finish_reasons")
    if reasons is not None and not span.finish_reasons:
        span.finish_reasons = finish_reasons(reasons)
    value = g("gen_ai.system_instructions")
    if value is not None and not span.system_instructions:
        span.system_instructions = system_text(value)
    value = g("gen_ai.input.messages")
    if value is not None and not span.input_messages:
        _fill.inputs(span, input_messages(value))
    value = g("gen_ai.output.messages")
    if value is not None and not (span.output_messages and span.finish_reasons):
        _fill.outputs(span, output_messages(value, plain_as_text=False))
    value = g("gen_ai.retrieval.query.text")
    if isinstance(value, str) and not span.retrieval_query:
        span.retrieval_query = value
    value = g("gen_ai.retrieval.documents")
    if value is not None and not span.retrieved_documents:
        span.retrieved_documents = documents(value)
    value = g("gen_ai.tool.call.result")
    if value is not None and span.kind == KIND_TOOL:
        _fill.output_text(span, text_of(loads_or_text(value)))
    if view.events:
        _from_span_events(span, view)


def _from_span_events(span: CanonicalSpan, view: SpanView) -> None:
    message_events = []
    for name, time_ns, attrs in view.events:
        if name == DETAILS:
            # Its attributes are the inference span's own attribute set, structured.
            extract(span, SpanView(attrs, [], view.name, view.scope_name))
        elif name == CHOICE or name in MESSAGE_ROLES:
            message_events.append((name, time_ns, span_event_body(attrs)))
    if message_events:
        prompts, out = fold_messages(message_events)
        _fill.inputs(span, prompts)
        _fill.outputs(span, out)


def fallback(span: CanonicalSpan, view: SpanView) -> None:
    """The ≤1.27 content span events: ``gen_ai.prompt`` / ``gen_ai.completion`` JSON attributes."""
    for name, _, attrs in view.events:
        if name == PROMPT and not span.input_messages:
            _fill.inputs(span, input_messages(attrs.get("gen_ai.prompt"), plain_as_user=True))
        elif name == COMPLETION and not span.output_messages:
            _fill.outputs(span, output_messages(attrs.get("gen_ai.completion"), plain_as_text=False))


CONVENTION = Convention("otel_genai", MARKERS, extract, fallback, _hint)
