"""LangSmith's OpenTelemetry exporter (conventions.md §5).

``langsmith.span.kind`` is the run type; ``gen_ai.prompt`` / ``gen_ai.completion`` hold the run's
whole inputs and outputs as JSON (OpenAI-shaped, or LangChain serialised messages and
``generations``; documents for retrievers).
"""

from __future__ import annotations

from tracesieve.collector.contracts import CanonicalSpan

from .._view import Convention, SpanView
from . import _fill
from ._io import raw_io

__all__ = ["CONVENTION"]

_OPERATIONS = {
    "llm": "chat",
    "chain": "chain",
    "tool": "execute_tool",
    "retriever": "retrieval",
    "embedding": "embeddings",
}


MARKERS = frozenset(("langsmith.span.kind", "langsmith.trace.session_id", "langsmith.trace.name"))


def extract(span: CanonicalSpan, view: SpanView) -> None:
    a = view.attrs
    run_type = a.get("langsmith.span.kind")
    if isinstance(run_type, str):
        t = run_type.lower()
        _fill.operation(span, _OPERATIONS.get(t, t))
    prompt = a.get("gen_ai.prompt")
    completion = a.get("gen_ai.completion")
    if prompt is not None or completion is not None:
        raw_io(span, prompt, completion)


CONVENTION = Convention("langsmith", MARKERS, extract)
