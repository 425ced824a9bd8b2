"""LiteLLM's OpenTelemetry callback (conventions.md §5).

Its content is OTel GenAI (read by :mod:`.otel_genai`, which also accepts its quirks: a system
instruction that is a plain string or a system *message*, OpenAI ``tool_calls`` beside ``parts``,
``gen_ai.response.finish_reasons`` as a JSON string), and its legacy mode the indexed
``gen_ai.prompt.N.*`` keys (read by :mod:`.openllmetry`). What is LiteLLM's own: the call type
in ``llm.request.type`` (``completion`` means a *chat* completion there, unlike in OpenLLMetry)
and the error message of failed calls.
"""

from __future__ import annotations

from tracesieve.collector.contracts import CanonicalSpan

from .._values import as_str
from .._view import Convention, SpanView
from . import _fill

__all__ = ["CONVENTION"]

_SPAN_NAMES = frozenset(("litellm_request", "Received Proxy Server Request", "raw_gen_ai_request"))
_CALL_TYPES = {
    "completion": "chat",
    "acompletion": "chat",
    "responses": "chat",
    "aresponses": "chat",
    "text_completion": "text_completion",
    "atext_completion": "text_completion",
    "embedding": "embeddings",
    "aembedding": "embeddings",
    "rerank": "rerank",
    "arerank": "rerank",
}


MARKERS = frozenset(("litellm.call_id", "hidden_params"))


def _scope_hint(scope_name: str) -> bool:
    return scope_name == "litellm"


def _hint(view: SpanView) -> bool:
    return view.name in _SPAN_NAMES


def extract(span: CanonicalSpan, view: SpanView) -> None:
    if MARKERS.isdisjoint(view.attrs) and not _hint(view) and not _scope_hint(view.scope_name):
        return
    a = view.attrs
    call_type = a.get("llm.request.type")
    if isinstance(call_type, str):
        _fill.operation(span, _CALL_TYPES.get(call_type, ""))
    if not span.status_message:
        span.status_message = as_str(a.get("error.message"))


CONVENTION = Convention("litellm", MARKERS, extract, hint=_hint, scope_hint=_scope_hint)
