"""Langfuse SDK attributes (conventions.md §4): ``langfuse.observation.*``, no ``gen_ai.*`` keys.

Structured: type, model, usage, level and status message, the ``finish_reason`` metadata key.
Fallback: ``langfuse.observation.input`` / ``.output``, JSON text of whatever the app passed
(OpenAI message lists, a single message dict, plain strings, document lists).
"""

from __future__ import annotations

from tracesieve.collector.contracts import CanonicalSpan

from .._values import as_str, loads, loads_or_text
from .._view import Convention, SpanView
from .._vocab import finish_reason
from . import _fill
from ._io import raw_io

__all__ = ["CONVENTION"]

_OPERATIONS = {
    "generation": "chat",
    "embedding": "embeddings",
    "retriever": "retrieval",
    "tool": "execute_tool",
    "agent": "invoke_agent",
    "chain": "chain",
}
_INPUT_TOKENS = ("input", "prompt_tokens", "input_tokens", "promptTokens")
_OUTPUT_TOKENS = ("output", "completion_tokens", "output_tokens", "completionTokens")


MARKERS = frozenset(
    (
        "langfuse.observation.type",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.observation.model.name",
        "langfuse.observation.usage_details",
        "langfuse.observation.level",
        "langfuse.observation.status_message",
        "langfuse.observation.metadata.finish_reason",
        "langfuse.trace.name",
    )
)


def _scope_hint(scope_name: str) -> bool:
    return scope_name == "langfuse-sdk"


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    if MARKERS.isdisjoint(a):
        return
    observation = a.get("langfuse.observation.type")
    if isinstance(observation, str):
        t = observation.lower()
        _fill.operation(span, _OPERATIONS.get(t, t))
    model = a.get("langfuse.observation.model.name")
    if model is not None:
        # Langfuse records one model name (the response's when there was one): it is all we have.
        _fill.models(span, model, model)
    usage = loads(a.get("langfuse.observation.usage_details"))
    if isinstance(usage, dict):
        _fill.tokens(
            span,
            next((usage[k] for k in _INPUT_TOKENS if k in usage), None),
            next((usage[k] for k in _OUTPUT_TOKENS if k in usage), None),
        )
    reason = finish_reason(loads_or_text(a.get("langfuse.observation.metadata.finish_reason")))
    if reason and not span.finish_reasons:
        span.finish_reasons = [reason]
    if a.get("langfuse.observation.level") == "ERROR" and span.status_code == "Unset":
        span.status_code = "Error"  # Langfuse's level is its error status
    if not span.status_message:
        span.status_message = as_str(a.get("langfuse.observation.status_message"))


def fallback(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    inp = a.get("langfuse.observation.input")
    out = a.get("langfuse.observation.output")
    if inp is not None or out is not None:
        raw_io(span, inp, out)


CONVENTION = Convention("langfuse", MARKERS, extract, fallback, scope_hint=_scope_hint)
