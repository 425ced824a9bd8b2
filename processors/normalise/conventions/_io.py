"""Opaque input/output blobs: ``input.value``, ``traceloop.entity.*``, ``mlflow.span*``, ``langfuse.*``.

What a blob means depends on the span: a model call's input is its prompt, a retriever's its
query. Non-model spans only yield messages when the blob is message-shaped, so that arbitrary
function arguments never pass for a prompt.
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import (
    KIND_AGENT,
    KIND_EMBEDDING,
    KIND_LLM,
    KIND_RETRIEVAL,
    KIND_TOOL,
    CanonicalSpan,
)

from .._content import input_messages, output_messages
from .._documents import documents, query_text
from .._message import text_of
from .._values import loads_or_text
from . import _fill

__all__ = ["raw_io"]


def raw_io(span: CanonicalSpan, inp: Any, out: Any, text_in: bool = False, text_out: bool = False) -> None:
    """Fill what the span lacks from an input and an output blob (either may be ``None``).

    ``text_in`` / ``text_out`` say a blob is declared plain text (OpenInference's mime type), so
    that text that happens to look like JSON is not decoded.
    """
    kind = span.kind
    if text_in and isinstance(inp, str):
        if kind == KIND_LLM:
            _fill.inputs(span, [{"role": "user", "content": inp}] if inp else [])
        elif kind == KIND_RETRIEVAL and not span.retrieval_query:
            span.retrieval_query = inp
        inp = [inp] if kind == KIND_EMBEDDING else None
    if text_out and isinstance(out, str):
        if kind == KIND_LLM:
            out = {"role": "assistant", "content": out}
        elif kind == KIND_TOOL:
            _fill.output_text(span, out)
        if kind != KIND_LLM:
            out = None
    if kind == KIND_LLM:
        if inp is not None and not span.input_messages:
            _fill.inputs(span, input_messages(inp, plain_as_user=True))
        if out is not None and not (span.output_messages and span.finish_reasons and span.response_id):
            raw = loads_or_text(out)
            # Fills what structured attributes lack: a refusal dropped with a null content, a
            # finish reason, the response id (OpenAI's raw response is the only place for some).
            _fill.outputs(span, output_messages(raw))
            if isinstance(raw, dict) and not span.response_id and ("choices" in raw or "stop_reason" in raw):
                rid = raw.get("id")
                span.response_id = rid if isinstance(rid, str) else ""
    elif kind == KIND_EMBEDDING:
        if inp is not None and not span.input_messages:
            texts = loads_or_text(inp)
            if isinstance(texts, dict):
                texts = next((texts[k] for k in ("input", "texts", "values", "text") if k in texts), None)
            texts = [texts] if isinstance(texts, str) else texts
            if isinstance(texts, list):
                _fill.inputs(span, [{"role": "user", "content": t} for t in texts if isinstance(t, str)])
    elif kind == KIND_RETRIEVAL:
        if inp is not None and not span.retrieval_query:
            span.retrieval_query = query_text(inp)
        if out is not None and not span.retrieved_documents:
            span.retrieved_documents = documents(out)
    elif kind == KIND_TOOL:
        if out is not None:
            _fill.output_text(span, text_of(loads_or_text(out)))
    elif kind == KIND_AGENT and inp is not None:
        _fill.inputs(span, input_messages(inp))
