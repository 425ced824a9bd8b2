"""The ``empty_retrieval`` detector: recorded-empty, inferred-empty and unknown results, per convention."""

from __future__ import annotations

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.processors.detectors.empty_retrieval import EmptyRetrievalConfig, EmptyRetrievalDetector

from ._factories import (
    LANGFUSE,
    OPENINFERENCE,
    OTEL,
    SESSION,
    TRACELOOP,
    documents,
    llm,
    normalised,
    retrieval,
    scenario_spans,
)


def detect(s: CanonicalSpan, config: EmptyRetrievalConfig | None = None) -> list[tuple[str, float]]:
    signals = EmptyRetrievalDetector(config or EmptyRetrievalConfig()).on_span(s, SESSION)
    return [(x.evidence["recorded"], x.score) for x in signals]


def test_recorded_empty_list_scores_one_with_index_and_query() -> None:
    s = retrieval(docs=[], attributes={"gen_ai.data_source.id": "kb-faq", "gen_ai.retrieval.documents": "[]"})
    [signal] = EmptyRetrievalDetector(EmptyRetrievalConfig()).on_span(s, SESSION)
    assert (signal.signal, signal.category, signal.score, signal.span_id) == (
        "empty_retrieval",
        "retrieval",
        1.0,
        s.span_id,
    )
    assert signal.evidence == {
        "span_id": s.span_id,
        "span_name": "retrieval kb-faq",
        "index": "kb-faq",
        "query": "How long do refunds take?",
        "recorded": "empty",
        "attribute": "gen_ai.retrieval.documents",
    }


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.retrieval.documents": "[]"}, [("empty", 1.0)]),
        ({"retrieval.documents": "[]"}, [("empty", 1.0)]),
        ({"output.value": "[]"}, [("empty", 1.0)]),
        ({"output.value": '{"documents": []}'}, [("empty", 1.0)]),
        ({"output.value": '{"results": [[]]}'}, [("empty", 1.0)]),
        ({"output.value": "null"}, [("empty", 1.0)]),
        ({"traceloop.entity.output": "[]"}, [("empty", 1.0)]),
        ({"langfuse.observation.output": "[]"}, [("empty", 1.0)]),
        ({"mlflow.spanOutputs": "[]"}, [("empty", 1.0)]),
        ({"db.response.returned_rows": "0"}, [("empty", 1.0)]),
        ({"db.milvus.search.result_count": "0"}, [("empty", 1.0)]),
        # Something came back that is not documents the normaliser read: not empty.
        ({"db.response.returned_rows": "3"}, []),
        ({"output.value": '["plain text chunk", "another"]'}, []),
        ({"output.value": "Refunds take 14 days."}, []),
        ({"output.value": '{"matches": [{"vector_id": 3}]}'}, []),
        ({"output.value": '{"answer": "x"}'}, []),
        ({"output.value": "[{broken json"}, []),
        # Nothing about the result, but the query was recorded: content capture is on.
        ({}, [("no_documents", 0.8)]),
    ],
)
def test_what_the_attributes_say_about_the_result(attributes: dict[str, str], expected: list[object]) -> None:
    assert detect(retrieval(docs=[], attributes=attributes)) == expected


def test_a_count_attribute_can_be_configured() -> None:
    config = EmptyRetrievalConfig(count_attributes=["vectordb.hits"])
    assert detect(retrieval(docs=[], attributes={"vectordb.hits": "0"}), config) == [("empty", 1.0)]
    assert detect(retrieval(docs=[], attributes={"vectordb.hits": "2"}), config) == []


def test_nothing_recorded_at_all_is_not_flagged_unless_asked() -> None:
    unrecorded = retrieval(docs=[], retrieval_query="", attributes={})
    assert detect(unrecorded) == []
    assert detect(unrecorded, EmptyRetrievalConfig(count_unrecorded_as_empty=True)) == [("nothing", 0.8)]


def test_require_explicit_empty_ignores_inferred_cases() -> None:
    config = EmptyRetrievalConfig(require_explicit_empty=True, explicit_score=0.9)
    assert detect(retrieval(docs=[], attributes={}), config) == []
    assert detect(retrieval(docs=[], attributes={"output.value": "[]"}), config) == [("empty", 0.9)]


def test_override_per_index() -> None:
    config = EmptyRetrievalConfig(
        overrides=[{"match": {"index": "scratch"}, "require_explicit_empty": True, "inferred_score": 0.1}]
    )
    assert detect(retrieval(docs=[], attributes={"db.collection.name": "scratch"}), config) == []
    assert detect(retrieval(docs=[], attributes={"db.collection.name": "kb"}), config) == [
        ("no_documents", 0.8)
    ]


def test_not_empty_not_retrieval_or_in_error() -> None:
    assert detect(retrieval(docs=documents(0.1))) == []
    assert detect(retrieval(docs=documents(None))) == []
    assert detect(retrieval(docs=[], status_code="Error", attributes={"output.value": "[]"})) == []
    assert detect(llm(output_text="")) == []


@pytest.mark.parametrize(
    ("attrs", "recorded"),
    [
        # OpenInference writes no retrieval.documents.* key at all for zero documents.
        (
            {
                "openinference.span.kind": "RETRIEVER",
                "input.value": "refunds?",
                "input.mime_type": "text/plain",
            },
            "no_documents",
        ),
        ({"openinference.span.kind": "RETRIEVER", "input.value": "refunds?", "output.value": "[]"}, "empty"),
        (
            {
                "gen_ai.operation.name": "retrieval",
                "gen_ai.data_source.id": "kb-faq",
                "gen_ai.retrieval.query.text": "refunds?",
                "gen_ai.retrieval.documents": "[]",
            },
            "empty",
        ),
        ({"gen_ai.operation.name": "retrieval", "gen_ai.retrieval.query.text": "refunds?"}, "no_documents"),
        (
            {
                "traceloop.span.kind": "task",
                "traceloop.entity.name": "retrieve_documents",
                "traceloop.entity.input": '{"args": ["refunds?", 3], "kwargs": {}}',
                "db.vector.query.top_k": 3,
                "traceloop.entity.output": "[]",
            },
            "empty",
        ),
        (
            {
                "langfuse.observation.type": "retriever",
                "langfuse.observation.input": '{"query": "refunds?", "top_k": 3}',
                "langfuse.observation.output": "[]",
            },
            "empty",
        ),
    ],
)
def test_empty_results_as_the_conventions_send_them(attrs: dict[str, str | int], recorded: str) -> None:
    s = normalised(attrs)
    [signal] = EmptyRetrievalDetector(EmptyRetrievalConfig()).on_span(s, SESSION)
    assert signal.evidence["recorded"] == recorded
    assert signal.evidence["query"] == "refunds?"


def test_a_vector_search_without_content_capture_is_not_flagged() -> None:
    # OpenLLMetry's Chroma span with TRACELOOP_TRACE_CONTENT off: no query, no result events.
    assert (
        detect(normalised({"db.system": "chroma", "db.operation": "query", "db.vector.query.top_k": 3})) == []
    )
    assert detect(normalised({"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "kb"})) == []


@pytest.mark.parametrize("capture", [OTEL, OPENINFERENCE, TRACELOOP, LANGFUSE])
def test_real_captures_have_no_empty_retrieval(capture: str) -> None:
    detector = EmptyRetrievalDetector(EmptyRetrievalConfig())
    spans = scenario_spans(capture, "i_rag_retrieval")
    assert any(s.kind == "retrieval" for s in spans)
    assert [x for s in spans for x in detector.on_span(s, SESSION)] == []
