"""Retrieved documents of every shape → ``{"id", "score", "content"}``."""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import RetrievedDocument

from ._message import text_of
from ._values import as_float, as_str, loads

__all__ = ["document", "documents", "query_text"]

_CONTENT_KEYS = ("content", "page_content", "text", "document", "pageContent", "chunk")
_ID_KEYS = ("id", "doc_id", "document_id", "chunk_id", "doc_uri", "source")


def document(d: dict[str, Any]) -> RetrievedDocument:
    """One document from a dict: OTel GenAI ``{id, score}``, OpenInference, LangChain, Langfuse…"""
    meta = d.get("metadata")
    meta = loads(meta) if isinstance(meta, str) else meta
    doc_id = next((as_str(d[k]) for k in _ID_KEYS if d.get(k) is not None), "")
    if not doc_id and isinstance(meta, dict):
        doc_id = next((as_str(meta[k]) for k in _ID_KEYS if meta.get(k) is not None), "")
    score = next((as_float(d[k]) for k in ("score", "relevance_score", "similarity") if k in d), None)
    if score is None and isinstance(meta, dict):
        score = as_float(meta.get("score"))
    content = next((d[k] for k in _CONTENT_KEYS if d.get(k) is not None), None)
    return {"id": doc_id, "score": score, "content": text_of(content)}


def documents(value: Any) -> list[RetrievedDocument]:
    """A document list from JSON text or structured values; ``[]`` for anything else.

    Accepts a bare list, or a dict wrapping one under ``documents``/``results``/``output``.
    """
    value = loads(value)
    if isinstance(value, dict):
        value = next((value[k] for k in ("documents", "results", "output", "data") if k in value), None)
        if isinstance(value, list) and value and isinstance(value[0], list):
            value = value[0]  # LangChain batch
    if not isinstance(value, list):
        return []
    return [document(d) for d in value if isinstance(d, dict)]


def query_text(value: Any) -> str:
    """A retrieval query from a string, ``{"query": ...}`` (also ``input``/``question``) or args."""
    if isinstance(value, str):
        s = value.strip()
        if not s.startswith(("{", "[")):
            return value
        value = loads(s)
    if isinstance(value, dict):
        for k in ("query", "question", "input", "text", "q"):
            if isinstance(value.get(k), str):
                return str(value[k])
        kwargs = value.get("kwargs")
        if isinstance(kwargs, dict):
            for k in ("query", "question", "input", "text", "q"):
                if isinstance(kwargs.get(k), str):
                    return str(kwargs[k])
        value = value.get("args")  # OpenLLMetry decorators: {"args": [...], "kwargs": {...}}
    if isinstance(value, list):
        return next((v for v in value if isinstance(v, str)), "")
    return ""
