"""The ``low_retrieval_confidence`` detector: the best score against a per-index threshold."""

from __future__ import annotations

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.processors.detectors.low_retrieval_confidence import (
    LowRetrievalConfidenceConfig,
    LowRetrievalConfidenceDetector,
)

from ._factories import (
    LANGFUSE,
    OPENINFERENCE,
    OTEL,
    SESSION,
    TRACELOOP,
    documents,
    normalised,
    retrieval,
    scenario_spans,
)


def scores(s: CanonicalSpan, config: LowRetrievalConfidenceConfig | None = None) -> list[float]:
    signals = LowRetrievalConfidenceDetector(config or LowRetrievalConfidenceConfig()).on_span(s, SESSION)
    return [round(x.score, 6) for x in signals]


def test_best_score_below_threshold_flags_with_evidence() -> None:
    s = retrieval(docs=documents(0.31, 0.42, None, 0.12))
    [signal] = LowRetrievalConfidenceDetector(LowRetrievalConfidenceConfig()).on_span(s, SESSION)
    assert (signal.signal, signal.category, signal.span_id) == (
        "low_retrieval_confidence",
        "retrieval",
        s.span_id,
    )
    assert signal.score == pytest.approx(0.6 + 0.4 * (0.5 - 0.42) / 0.5)
    assert signal.evidence == {
        "span_id": s.span_id,
        "index": "kb-faq",
        "query": "How long do refunds take?",
        "best_score": 0.42,
        "threshold": 0.5,
        "higher_is_better": True,
        "documents": [
            {"id": "doc-0", "score": 0.31},
            {"id": "doc-1", "score": 0.42},
            {"id": "doc-2", "score": None},
            {"id": "doc-3", "score": 0.12},
        ],
        "document_count": 4,
    }


@pytest.mark.parametrize(
    ("doc_scores", "expected"),
    [
        ((0.5,), []),  # at the threshold: not below it
        ((0.51, 0.2), []),  # scores just above the threshold: the best one decides
        ((0.912, 0.774, 0.581), []),
        ((0.4999,), [0.60008]),
        ((0.25, 0.1), [0.8]),
        ((0.0,), [1.0]),
        ((-0.3,), [1.0]),  # cosine similarity can be negative
    ],
)
def test_score_grows_with_the_gap(doc_scores: tuple[float, ...], expected: list[float]) -> None:
    assert scores(retrieval(docs=documents(*doc_scores))) == expected


def test_documents_without_scores_or_no_documents_are_not_judged() -> None:
    assert scores(retrieval(docs=documents(None, None))) == []
    assert scores(retrieval(docs=[])) == []
    assert scores(retrieval(docs=documents(float("nan")))) == []
    assert scores(retrieval(docs=documents(0.1), status_code="Error")) == []


def test_distances_flag_when_the_nearest_is_too_far() -> None:
    config = LowRetrievalConfidenceConfig(higher_is_better=False, max_distance=0.4)
    assert scores(retrieval(docs=documents(0.9, 0.35)), config) == []
    assert scores(retrieval(docs=documents(0.9, 0.6)), config) == [0.8]
    assert scores(retrieval(docs=documents(1.2)), config) == [1.0]


def test_thresholds_per_index_service_and_most_specific_wins() -> None:
    config = LowRetrievalConfidenceConfig(
        overrides=[
            {"match": {"service": "svc", "index": "kb-faq"}, "min_score": 0.2},
            {"match": {"index": "kb-faq"}, "min_score": 0.35},
            {"match": {"index": "reranked"}, "min_score": 3.0},
            {"match": {"index": "chroma"}, "higher_is_better": False, "max_distance": 0.3},
        ]
    )
    faq = {"gen_ai.data_source.id": "kb-faq"}
    assert scores(retrieval(docs=documents(0.3), attributes=faq), config) == []  # svc + kb-faq: 0.2
    assert scores(retrieval(docs=documents(0.3), attributes=faq, service_name="other"), config) == [
        pytest.approx(0.6 + 0.4 * 0.05 / 0.35)
    ]
    assert scores(retrieval(docs=documents(2.5), attributes={"db.collection.name": "reranked"}), config) != []
    assert scores(retrieval(docs=documents(0.2), attributes={"db.collection.name": "chroma"}), config) == []
    assert (
        scores(retrieval(docs=documents(0.45), attributes={"gen_ai.data_source.id": "other"}), config) != []
    )


def test_index_falls_back_to_the_span_name() -> None:
    config = LowRetrievalConfidenceConfig(overrides=[{"match": {"index": "search_faq"}, "min_score": 0.1}])
    assert scores(retrieval(docs=documents(0.3), attributes={}, name="search_faq"), config) == []


def test_rerank_spans_can_be_left_out() -> None:
    rerank = retrieval(docs=documents(0.1), operation="rerank")
    assert scores(rerank) != []
    assert scores(rerank, LowRetrievalConfidenceConfig(include_rerank=False)) == []


def test_evidence_lists_at_most_twenty_documents() -> None:
    [signal] = LowRetrievalConfidenceDetector(LowRetrievalConfidenceConfig()).on_span(
        retrieval(docs=documents(*[0.1] * 30)), SESSION
    )
    assert (len(signal.evidence["documents"]), signal.evidence["document_count"]) == (20, 30)


def test_openinference_retriever_as_sent() -> None:
    s = normalised(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "refunds?",
            "input.mime_type": "text/plain",
            "retrieval.documents.0.document.id": "kb-9",
            "retrieval.documents.0.document.score": 0.41,
            "retrieval.documents.1.document.id": "kb-3",
            "retrieval.documents.1.document.score": 0.22,
        }
    )
    [signal] = LowRetrievalConfidenceDetector(LowRetrievalConfidenceConfig()).on_span(s, SESSION)
    assert (signal.evidence["best_score"], signal.evidence["query"]) == (0.41, "refunds?")


@pytest.mark.parametrize("capture", [OTEL, OPENINFERENCE, TRACELOOP, LANGFUSE])
def test_real_captures_scores_0912_are_confident_unless_the_threshold_says_otherwise(capture: str) -> None:
    spans = scenario_spans(capture, "i_rag_retrieval")
    default = LowRetrievalConfidenceDetector(LowRetrievalConfidenceConfig())
    assert [x for s in spans for x in default.on_span(s, SESSION)] == []
    strict = LowRetrievalConfidenceDetector(LowRetrievalConfidenceConfig(min_score=0.95))
    found = [x for s in spans for x in strict.on_span(s, SESSION)]
    assert [x.evidence["best_score"] for x in found] == [0.912]
