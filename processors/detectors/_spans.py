"""Small span helpers shared by the structural detectors (error, truncated, retrieval, latency).

- :func:`retrieval_index` names the index (data source) a retrieval span searched, the key the
  ``index`` of an override matches;
- :func:`resolve_for` resolves a detector's per-scope config for a span, trying the request model
  then the response model (users configure the model name they send; providers answer with a
  dated one, ``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``);
- :func:`clip` cuts evidence text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tracesieve.collector.contracts import CanonicalSpan

from .base import DetectorConfig

__all__ = ["INDEX_KEYS", "clip", "resolve_for", "retrieval_index"]

# Most specific first: the GenAI data source, then the vector stores' own collection keys
# (OpenLLMetry), then the database-level namespace.
INDEX_KEYS = (
    "gen_ai.data_source.id",
    "db.collection.name",
    "qdrant.search.collection_name",
    "db.milvus.search.collection_name",
    "pinecone.query.namespace",
    "db.namespace",
    "traceloop.entity.name",
)

C = TypeVar("C", bound=DetectorConfig)


def retrieval_index(span: CanonicalSpan) -> str:
    """The first of :data:`INDEX_KEYS` the span carries, else its name."""
    attrs = span.attributes
    for key in INDEX_KEYS:
        value = attrs.get(key)
        if value:
            return value
    return span.name


def resolve_for(resolve: Callable[[str, str, str], C], base: C, span: CanonicalSpan, index: str = "") -> C:
    """``base`` with the overrides matching ``span`` applied (see :func:`.base.scoped`).

    An override's ``model`` matches the request model or, failing any match on it, the
    response model.
    """
    if not base.overrides:
        return base
    request = span.request_model
    response = span.response_model
    config = resolve(span.service_name, request or response, index)
    if config is base and request and response and response != request:
        config = resolve(span.service_name, response, index)
    return config


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
