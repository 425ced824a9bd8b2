"""``low_retrieval_confidence`` (category ``retrieval``): even the best retrieved document is a poor match.

**Triggers** (``on_span``), on a ``retrieval`` span not in error with at least one document that
has a score: with ``higher_is_better`` (similarities, relevance scores: the default), when the
best (highest) score is below ``min_score`` (0.5); with ``higher_is_better: false`` (distances),
when the best (lowest) score is above ``max_distance`` (0.5). Thresholds are set per index
(``overrides: [{match: {index: kb-faq}, min_score: 0.3}]``), per service, or per model.

**Does not trigger**: a best score equal to or past the threshold (the worse documents of the
list do not matter); a retrieval whose documents carry no score, or no document (that is
``empty_retrieval``); a span in error; reranker spans (``operation: rerank``) when
``include_rerank`` is off.

**Score**: 0.6 at the threshold, growing linearly with the gap to 1.0 at a best score of 0 (or
of twice ``max_distance``): ``0.6 + 0.4 · (min_score − best) / min_score``.

**Evidence**: ``span_id``, ``index`` (as ``empty_retrieval``'s), ``query`` (cut to 500
characters), ``best_score``, ``threshold``, ``higher_is_better``, ``documents`` (up to 20
``{id, score}``), ``document_count``.

**Config** (``processors.detectors.low_retrieval_confidence``): ``min_score``,
``higher_is_better``, ``max_distance``, ``include_rerank``; all overridable per
service/model/index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field
from tracesieve.collector.contracts import KIND_RETRIEVAL, CanonicalSpan, Signal

from ._spans import clip, resolve_for, retrieval_index
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["LowRetrievalConfidenceConfig", "LowRetrievalConfidenceDetector", "factory"]

_MAX_LISTED = 20
_NUMBERS = (float, int)


class LowRetrievalConfidenceConfig(DetectorConfig):
    """Settings of the ``low_retrieval_confidence`` detector."""

    min_score: float = Field(
        0.5, description="With `higher_is_better`: flag when the best document's score is below this."
    )
    higher_is_better: bool = Field(
        True, description="Scores are similarities (true) or distances (false: the best is the lowest)."
    )
    max_distance: float = Field(
        0.5,
        gt=0.0,
        description="Without `higher_is_better`: flag when the best (lowest) distance is above this.",
    )
    include_rerank: bool = Field(True, description="Also judge reranker spans (operation `rerank`).")


class LowRetrievalConfidenceDetector(Detector):
    """See the module docstring."""

    name = "low_retrieval_confidence"
    category = "retrieval"

    def __init__(self, config: LowRetrievalConfidenceConfig) -> None:
        self.config = config
        self._resolve = scoped(config)

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        docs = span.retrieved_documents
        if not docs or span.kind != KIND_RETRIEVAL or span.status_code == "Error":
            return ()
        scores = [
            s for d in docs if (s := d.get("score")).__class__ in _NUMBERS and s == s
        ]  # s == s: not NaN
        if not scores:
            return ()
        if self.config.overrides:
            index = retrieval_index(span)
            config = resolve_for(self._resolve, self.config, span, index)
        else:
            index, config = "", self.config
        if span.operation == "rerank" and not config.include_rerank:
            return ()
        if config.higher_is_better:
            best = max(scores)
            threshold = config.min_score
            if best >= threshold:
                return ()
            gap = (threshold - best) / threshold if threshold > 0 else 1.0
        else:
            best = min(scores)
            threshold = config.max_distance
            if best <= threshold:
                return ()
            gap = (best - threshold) / threshold
        evidence: dict[str, Any] = {
            "span_id": span.span_id,
            "index": index or retrieval_index(span),
            "query": clip(span.retrieval_query, 500),
            "best_score": best,
            "threshold": threshold,
            "higher_is_better": config.higher_is_better,
            "documents": [{"id": d.get("id", ""), "score": d.get("score")} for d in docs[:_MAX_LISTED]],
            "document_count": len(docs),
        }
        score = 0.6 + 0.4 * min(1.0, gap)
        return (make_signal(self, span_ref(span, session_id), score, evidence),)


factory = DetectorFactory(
    name="low_retrieval_confidence",
    config_model=LowRetrievalConfidenceConfig,
    create=LowRetrievalConfidenceDetector,
)
