"""MLflow tracing (conventions.md §5): every ``mlflow.*`` value is JSON-encoded.

``mlflow.spanType`` arrives as ``"\\"LLM\\""``; inputs and outputs are ``mlflow.spanInputs`` /
``mlflow.spanOutputs`` (an OpenAI request/response for autologged calls, documents for
retrievers); usage is ``mlflow.chat.tokenUsage``.
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import CanonicalSpan

from .._content import input_messages
from .._values import loads
from .._view import Convention, SpanView
from . import _fill
from ._io import raw_io

__all__ = ["CONVENTION"]

_OPERATIONS = {
    "LLM": "text_completion",
    "CHAT_MODEL": "chat",
    "EMBEDDING": "embeddings",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
}


MARKERS = frozenset(("mlflow.spanType", "mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.traceRequestId"))


def _decoded(a: dict[str, Any], key: str) -> Any:
    value = a.get(key)
    return loads(value) if isinstance(value, str) else value


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    if MARKERS.isdisjoint(a):
        return
    span_type = _decoded(a, "mlflow.spanType")
    if isinstance(span_type, str):
        _fill.operation(span, _OPERATIONS.get(span_type.upper(), span_type.lower()))
    _fill.provider_name(span, _decoded(a, "mlflow.llm.provider"))
    model = _decoded(a, "mlflow.llm.model")
    _fill.models(span, model, model)
    usage = _decoded(a, "mlflow.chat.tokenUsage")
    if isinstance(usage, dict):
        _fill.tokens(span, usage.get("input_tokens"), usage.get("output_tokens"))
    inputs = _decoded(a, "mlflow.spanInputs")
    outputs = _decoded(a, "mlflow.spanOutputs")
    if inputs is not None or outputs is not None:
        raw_io(span, inputs, outputs)
    chat = _decoded(a, "mlflow.chat.messages")  # MLflow 2.x: the whole exchange, answer last
    if isinstance(chat, list) and not span.input_messages:
        _fill.inputs(span, input_messages(chat[:-1] if chat and _is_answer(chat[-1]) else chat))


def _is_answer(m: Any) -> bool:
    return isinstance(m, dict) and m.get("role") == "assistant"


CONVENTION = Convention("mlflow", MARKERS, extract)
