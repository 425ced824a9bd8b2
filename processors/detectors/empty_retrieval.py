"""``empty_retrieval`` (category ``retrieval``): a retrieval returned nothing.

**Triggers** (``on_span``), on a ``retrieval`` span (retriever, vector search, reranker) that
is not in error and carries no document, when

- the span *recorded* an empty result (``recorded: "empty"``, score ``explicit_score``): an
  output attribute holding an empty list (``gen_ai.retrieval.documents``,
  ``retrieval.documents``, ``output.value``, ``traceloop.entity.output``,
  ``langfuse.observation.output``, ``mlflow.spanOutputs``: ``[]``, ``null``, ``""``, or an object
  whose ``documents``/``results``/``matches``/``hits``/``data``/``output`` is ``[]``), or a
  result count of 0 (``db.response.returned_rows``, ``db.milvus.search.result_count`` or
  ``count_attributes``);
- or, unless ``require_explicit_empty``, the span recorded nothing about its result but did
  record its query text (``recorded: "no_documents"``, score ``inferred_score``): an
  instrumentation that captures the query captures the documents too (OpenInference writes no
  ``retrieval.documents.*`` key at all for zero documents);
- or, with ``count_unrecorded_as_empty``, the span recorded neither documents, nor query, nor
  result (``recorded: "nothing"``, score ``inferred_score``).

**Does not trigger**: a retrieval with documents (however poor: that is
``low_retrieval_confidence``); one in error (``error``'s); one whose count attribute says it
returned rows, or whose output is non-empty but not documents the normaliser could read (a list
of strings, a text answer); one that recorded nothing at all (content capture off) unless
``count_unrecorded_as_empty``.

**Evidence**: ``span_id``, ``span_name``, ``index`` (``gen_ai.data_source.id``,
``db.collection.name``, the vector stores' collection keys, ``db.namespace``, else the span
name), ``query`` (cut to 500 characters), ``recorded``, ``attribute`` (the attribute that said
so, when one did).

**Config** (``processors.detectors.empty_retrieval``): ``require_explicit_empty``,
``count_unrecorded_as_empty``, ``explicit_score``, ``inferred_score``, ``count_attributes``;
overridable per service/index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import Field
from tracesieve.collector.contracts import KIND_RETRIEVAL, CanonicalSpan, Signal

from ._spans import clip, resolve_for, retrieval_index
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["EmptyRetrievalConfig", "EmptyRetrievalDetector", "factory"]

# Where the conventions put a retrieval's result (the normaliser keeps these attributes when it
# read no document from them).
_RESULT_KEYS = (
    "gen_ai.retrieval.documents",
    "retrieval.documents",
    "output.value",
    "traceloop.entity.output",
    "langfuse.observation.output",
    "mlflow.spanOutputs",
)
_LIST_KEYS = ("documents", "results", "matches", "hits", "data", "output", "points")
_EMPTY_TEXTS = frozenset(("", "[]", "{}", "null", '""', "none", "None"))

# Outcomes of looking at a span's result attributes.
_EMPTY = "empty"
_NON_EMPTY = "non_empty"
_UNKNOWN = "unknown"


class EmptyRetrievalConfig(DetectorConfig):
    """Settings of the ``empty_retrieval`` detector."""

    require_explicit_empty: bool = Field(
        False,
        description=(
            "Only flag a retrieval that recorded an empty result (an empty list, a count of 0); "
            "otherwise a retrieval that recorded its query but no document counts as empty too."
        ),
    )
    count_unrecorded_as_empty: bool = Field(
        False,
        description=(
            "Also flag a retrieval that recorded neither documents, query nor result (content capture "
            "off); off by default: nothing tells an empty result from an unrecorded one."
        ),
    )
    explicit_score: float = Field(
        1.0, ge=0.0, le=1.0, description="Score when the span recorded an empty result."
    )
    inferred_score: float = Field(
        0.8, ge=0.0, le=1.0, description="Score when the span recorded no document and no result at all."
    )
    count_attributes: list[str] = Field(
        default_factory=lambda: ["db.response.returned_rows", "db.milvus.search.result_count"],
        description="Attributes holding the number of documents or rows a retrieval returned.",
    )


class EmptyRetrievalDetector(Detector):
    """See the module docstring."""

    name = "empty_retrieval"
    category = "retrieval"

    def __init__(self, config: EmptyRetrievalConfig) -> None:
        self.config = config
        self._resolve = scoped(config)

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        if span.kind != KIND_RETRIEVAL or span.retrieved_documents or span.status_code == "Error":
            return ()
        index = retrieval_index(span)
        config = resolve_for(self._resolve, self.config, span, index)
        outcome, attribute = self._recorded_result(span.attributes, config)
        if outcome == _NON_EMPTY:
            return ()
        if outcome == _EMPTY:
            recorded, score = "empty", config.explicit_score
        elif config.require_explicit_empty:
            return ()
        elif span.retrieval_query:
            recorded, score = "no_documents", config.inferred_score
        elif config.count_unrecorded_as_empty:
            recorded, score = "nothing", config.inferred_score
        else:
            return ()
        evidence: dict[str, Any] = {
            "span_id": span.span_id,
            "span_name": span.name,
            "index": index,
            "query": clip(span.retrieval_query, 500),
            "recorded": recorded,
        }
        if attribute:
            evidence["attribute"] = attribute
        return (make_signal(self, span_ref(span, session_id), score, evidence),)

    @staticmethod
    def _recorded_result(attrs: dict[str, str], config: EmptyRetrievalConfig) -> tuple[str, str]:
        """(outcome, attribute): what the span's attributes say about its result."""
        for key in config.count_attributes:
            value = attrs.get(key)
            if value is not None:
                try:
                    count = float(value)
                except ValueError:
                    continue
                return (_EMPTY if count == 0 else _NON_EMPTY), key
        for key in _RESULT_KEYS:
            value = attrs.get(key)
            if value is not None:
                return _result_outcome(value), key
        return _UNKNOWN, ""


def _result_outcome(text: str) -> str:
    s = text.strip()
    if s in _EMPTY_TEXTS:
        return _EMPTY
    if s[0] not in "[{":
        return _NON_EMPTY  # a text result: something came back, just not as documents
    try:
        value = orjson.loads(s)
    except ValueError:
        return _NON_EMPTY
    if isinstance(value, dict):
        lists = [value[k] for k in _LIST_KEYS if k in value]
        if not lists:
            return _EMPTY if not value else _NON_EMPTY
        value = lists[0]
        if isinstance(value, list) and value and isinstance(value[0], list):
            value = value[0]  # a batch of one query (LangChain, Chroma)
    if value is None or value == [] or value == "":
        return _EMPTY
    return _NON_EMPTY


factory = DetectorFactory(
    name="empty_retrieval", config_model=EmptyRetrievalConfig, create=EmptyRetrievalDetector
)
