"""Feedback in telemetry: ``gen_ai.evaluation.result`` log records and span events (emitted with the
real OpenTelemetry SDK and its OTLP encoder), OpenInference annotations at span, trace and session
scope, and post-hoc EVALUATOR carrier spans."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent
from tracesieve.processors.normalise import (
    NormaliseConfig,
    extract_feedback,
    feedback_from_log_event,
    normalise_logs,
    normalise_traces,
)

from .normalise_testkit import CAPTURES, TRACE_ID, log_request, new_span_id, normalise, read_traces
from .test_normalise_validation import ODD_VALUES

CONFIG = NormaliseConfig()
EVAL = "gen_ai.evaluation.result"


class Sdk:
    """A real SDK tracer and event logger whose output is encoded as the OTLP exporters do."""

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.log_exporter = InMemoryLogRecordExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.tracer = self.tracer_provider.get_tracer("app")
        self.logger = self.logger_provider.get_logger("evals")

    def spans(self) -> list[CanonicalSpan]:
        spans, rejected, message = normalise_traces(
            encode_spans(self.span_exporter.get_finished_spans()), CONFIG
        )
        assert (rejected, message) == (0, "")
        return spans

    def logs(self) -> tuple[list[LogEvent], list[Feedback]]:
        events, feedback, rejected, message = normalise_logs(
            encode_logs(self.log_exporter.get_finished_logs()), CONFIG, seq=7
        )
        assert (rejected, message) == (0, "")
        return events, feedback

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    kit = Sdk()
    yield kit
    kit.shutdown()


def ids(context: SpanContext) -> tuple[str, str]:
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


# --- gen_ai.evaluation.result log records -----------------------------------------------------------


def test_evaluation_log_records_become_feedback_not_span_events(sdk: Sdk) -> None:
    with sdk.tracer.start_as_current_span("chat gpt-4o") as span:
        sdk.logger.emit(
            event_name=EVAL,
            attributes={
                "gen_ai.evaluation.name": "relevance",
                "gen_ai.evaluation.score.value": 0.25,
                "gen_ai.evaluation.score.label": "irrelevant",
                "gen_ai.evaluation.explanation": "Talks about Lyon.",
                "gen_ai.response.id": "chatcmpl-1",
                "judge.model": "gpt-4o-mini",
            },
        )
        sdk.logger.emit(event_name="gen_ai.client.inference.operation.details", attributes={"k": "v"})
    # After the fact, by response id only: no span context.
    sdk.logger.emit(
        event_name=EVAL,
        attributes={
            "gen_ai.evaluation.name": "user_feedback",
            "gen_ai.evaluation.score.label": "👎",
            "gen_ai.response.id": "chatcmpl-2",
            "error.type": "timeout",
        },
    )
    sdk.logger.emit(event_name=EVAL, attributes={"gen_ai.evaluation.name": "no target"})
    events, feedback = sdk.logs()
    trace_id, span_id = ids(span.get_span_context())
    assert [e.name for e in events] == ["gen_ai.client.inference.operation.details"]
    inline, late = feedback
    assert (inline.source, inline.name, inline.score, inline.label, inline.comment) == (
        "otel_event",
        "relevance",
        0.25,
        "irrelevant",
        "Talks about Lyon.",
    )
    assert (inline.span_id, inline.trace_id, inline.response_id, inline.session_id) == (
        span_id,
        trace_id,
        "chatcmpl-1",
        "",
    )
    assert (inline.annotator, inline.thumbs, inline.seq) == ("", "", 7)
    assert inline.attributes == {"judge.model": "gpt-4o-mini"}
    assert inline.time_ns > 1_700_000_000 * 10**9
    assert (late.span_id, late.trace_id, late.response_id) == ("", "", "chatcmpl-2")
    assert (late.thumbs, late.label, late.score) == ("down", "👎", None)
    assert late.attributes == {"error.type": "timeout"}


def test_evaluation_records_named_by_attribute_with_a_trace_only_or_odd_values() -> None:
    span_id = new_span_id()
    request = log_request(
        {
            "attrs": {
                "event.name": EVAL,
                "gen_ai.evaluation.name": "tone",
                "gen_ai.evaluation.score.value": 3,
            },
            "span_id": span_id,
            "time": 5,
            "body": {"raw": [1, 2]},
        },
        {"event_name": EVAL, "attrs": {"gen_ai.evaluation.score.value": "0.5"}, "observed": 9},  # trace only
        {
            "event_name": EVAL,
            "trace_id": bytes(16),
            "span_id": bytes(8),
            "attrs": {"gen_ai.evaluation.name": "x"},
        },
        {"event_name": EVAL, "span_id": b"12", "attrs": {"gen_ai.evaluation.name": "bad id"}},
    )
    events, feedback, rejected, message = normalise_logs(request, CONFIG)
    assert events == [] and (rejected, message) == (1, "1 log record rejected: invalid span_id length 2")
    by_attr, trace_only = feedback  # all-zero ids name nothing
    assert (by_attr.span_id, by_attr.score, by_attr.time_ns) == (span_id.hex(), 3.0, 5)
    assert by_attr.attributes == {"body": '{"raw":[1,2]}'}  # event.name is not kept
    assert (trace_only.trace_id, trace_only.span_id, trace_only.score, trace_only.time_ns) == (
        TRACE_ID.hex(),
        "",
        0.5,
        9,
    )
    assert trace_only.name == ""  # required by the convention, yet the score is still worth keeping


def test_odd_evaluation_event_values_never_raise() -> None:
    keys = [
        "gen_ai.evaluation.name",
        "gen_ai.evaluation.score.value",
        "gen_ai.evaluation.score.label",
        "gen_ai.evaluation.explanation",
        "gen_ai.response.id",
        "annotator_kind",
        "identifier",
    ]
    for key, value in itertools.product(keys, ODD_VALUES):
        event = LogEvent(TRACE_ID.hex(), "00000000000000aa", EVAL, 1, {key: value}, value)
        fb = feedback_from_log_event(event)
        assert fb is not None and fb.span_id == "00000000000000aa"
        assert all(isinstance(v, str) for v in fb.attributes.values())
        assert fb.score is None or fb.score == fb.score  # never NaN
    assert feedback_from_log_event(LogEvent("", "", EVAL, 1, {"gen_ai.response.id": 5}, None)) is not None
    assert feedback_from_log_event(LogEvent("", "", EVAL, 1, {"gen_ai.response.id": [1]}, None)) is None
    assert (
        feedback_from_log_event(LogEvent(TRACE_ID.hex(), "00000000000000aa", "gen_ai.choice", 1, {}, None))
        is None
    )


# --- gen_ai.evaluation.result span events -----------------------------------------------------------


def test_evaluation_span_events_target_their_span(sdk: Sdk) -> None:
    with sdk.tracer.start_as_current_span("chat") as span:
        span.add_event(
            EVAL,
            {
                "gen_ai.evaluation.name": "hallucination",
                "gen_ai.evaluation.score.value": 1,
                "gen_ai.evaluation.score.label": "hallucinated",
                "gen_ai.response.id": "resp-9",
            },
        )
        span.add_event("exception", {"exception.type": "ValueError"})
    (canonical,) = sdk.spans()
    (fb,) = extract_feedback([canonical])
    trace_id, span_id = ids(span.get_span_context())
    assert (fb.source, fb.name, fb.score, fb.label) == ("span_event", "hallucination", 1.0, "hallucinated")
    assert (fb.span_id, fb.trace_id, fb.response_id, fb.session_id) == (span_id, trace_id, "resp-9", "")
    assert fb.time_ns == canonical.events[0][0] and fb.attributes == {}


# --- OpenInference annotations ----------------------------------------------------------------------


def annotated(**attrs: Any) -> CanonicalSpan:
    (span,) = normalise({"attrs": {"openinference.span.kind": "LLM", **attrs}, "end": 9_000})
    return span


def test_annotations_at_span_trace_and_session_scope() -> None:
    span = annotated(**{
        "session.id": "sess-1",
        "annotations.0.annotation.name": "hallucination",
        "annotations.0.annotation.score": 1,
        "annotations.0.annotation.label": "hallucinated",
        "annotations.0.annotation.explanation": "Not in the documents.",
        "annotations.0.annotation.annotator_kind": "LLM",
        "annotations.0.annotation.metadata": '{"rubric_version":"2"}',
        "annotations.1.annotation.name": "user_feedback",
        "annotations.1.annotation.label": "thumbs_down",
        "annotations.1.annotation.annotator_kind": "HUMAN",
        "trace.annotations.0.annotation.name": "retrieval_quality",
        "trace.annotations.0.annotation.score": 0.92,
        "trace.annotations.0.annotation.annotator_kind": "CODE",
        "session.evaluations.0.evaluation.name": "coherence",
        "session.evaluations.0.evaluation.label": "coherent",
    })  # fmt: skip
    judged, thumbs, trace, session = extract_feedback([span])
    assert {fb.source for fb in (judged, thumbs, trace, session)} == {"openinference"}
    assert (judged.name, judged.score, judged.label, judged.comment, judged.annotator) == (
        "hallucination",
        1.0,
        "hallucinated",
        "Not in the documents.",
        "llm",
    )
    assert judged.attributes == {"metadata": '{"rubric_version":"2"}'}
    assert (judged.span_id, judged.trace_id, judged.session_id, judged.time_ns) == (
        span.span_id,
        span.trace_id,
        "",
        9_000,
    )
    assert (thumbs.thumbs, thumbs.annotator, thumbs.score) == ("down", "human", None)
    assert (trace.span_id, trace.trace_id, trace.session_id, trace.score, trace.annotator) == (
        "",
        span.trace_id,
        "",
        0.92,
        "code",
    )
    assert (session.span_id, session.trace_id, session.session_id, session.label) == (
        "",
        "",
        "sess-1",
        "coherent",
    )


def test_incomplete_annotations_are_skipped_and_both_forms_of_one_result_count_once() -> None:
    span = annotated(**{
        "evaluations.0.evaluation.name": "correctness",
        "evaluations.0.evaluation.label": "incorrect",
        "annotations.0.annotation.name": "correctness",
        "annotations.0.annotation.label": "incorrect",
        "annotations.1.annotation.score": 0.1,  # no name
        "annotations.2.annotation.name": "no result",
        "annotations.4.annotation.name": "after a gap",
        "annotations.4.annotation.explanation": "indices need not be contiguous",
        "session.annotations.0.annotation.name": "no session id",
        "session.annotations.0.annotation.score": 1,
    })  # fmt: skip
    found = extract_feedback([span])
    assert [(fb.name, fb.label, fb.comment) for fb in found] == [
        ("correctness", "incorrect", ""),
        ("after a gap", "", "indices need not be contiguous"),
    ]


def test_identifier_names_one_result_per_target_and_content_ids_are_stable() -> None:
    def judged(span_id: bytes, score: float, identifier: str | None) -> Feedback:
        attrs = {"annotations.0.annotation.name": "relevance", "annotations.0.annotation.score": score}
        if identifier:
            attrs["annotations.0.annotation.identifier"] = identifier
        (span,) = normalise({"attrs": attrs, "span_id": span_id})
        (fb,) = extract_feedback([span])
        return fb

    a, b = new_span_id(), new_span_id()
    # A re-run of the same judge on the same span replaces its result ...
    assert judged(a, 0.2, "judge-v2").feedback_id == judged(a, 0.9, "judge-v2").feedback_id
    # ... but the identifier alone does not identify it: it is the judge's, on every span.
    assert judged(a, 0.2, "judge-v2").feedback_id != judged(b, 0.2, "judge-v2").feedback_id
    assert judged(a, 0.2, "judge-v2").attributes == {"identifier": "judge-v2"}
    # Without one, the content: resent or replayed, the same id; another score, another id.
    assert judged(a, 0.2, None).feedback_id == judged(a, 0.2, None).feedback_id
    assert judged(a, 0.2, None).feedback_id != judged(a, 0.3, None).feedback_id
    assert len(judged(a, 0.2, None).feedback_id) == 32


@pytest.mark.parametrize(
    ("label", "thumbs"),
    [
        ("thumbs_down", "down"),
        ("Thumbs-Down", "down"),
        ("down", "down"),
        ("👎", "down"),
        ("👎🏽", "down"),
        ("thumbs_up", "up"),
        ("UP", "up"),
        ("👍", "up"),
        ("downvoted answer", ""),
        ("incorrect", ""),
    ],
)
def test_thumbs_like_labels_set_thumbs(label: str, thumbs: str) -> None:
    (fb,) = extract_feedback(
        [annotated(**{"annotations.0.annotation.name": "f", "annotations.0.annotation.label": label})]
    )
    assert (fb.thumbs, fb.label) == (thumbs, label)


def test_annotator_kinds_and_unreadable_scores() -> None:
    span = annotated(**{
        "annotations.0.annotation.name": "a",
        "annotations.0.annotation.score": "high",
        "annotations.0.annotation.annotator_kind": "CROWD",
        "annotations.1.annotation.name": "b",
        "annotations.1.annotation.score": "7",
        "annotations.1.annotation.annotator_kind": "human",
    })  # fmt: skip
    odd, fine = extract_feedback([span])
    assert (odd.score, odd.annotator, odd.attributes) == (
        None,
        "",
        {"score": "high", "annotator_kind": "CROWD"},
    )
    assert (fine.score, fine.annotator) == (7.0, "human")


# --- post-hoc EVALUATOR carrier spans -------------------------------------------------------------


def test_an_evaluator_carrier_span_targets_its_linked_span(sdk: Sdk) -> None:
    with sdk.tracer.start_as_current_span("chat", attributes={"session.id": "sess-9"}) as answer:
        pass
    target = answer.get_span_context()
    with sdk.tracer.start_as_current_span(
        "hallucination evaluation",
        links=[Link(target)],
        attributes={
            "openinference.span.kind": "EVALUATOR",
            "session.id": "sess-9",
            "evaluations.0.evaluation.name": "hallucination",
            "evaluations.0.evaluation.label": "hallucinated",
            "evaluations.0.evaluation.annotator_kind": "HUMAN",
            "trace.annotations.0.annotation.name": "overall",
            "trace.annotations.0.annotation.score": 2,
            "session.annotations.0.annotation.name": "satisfaction",
            "session.annotations.0.annotation.score": 1,
        },
    ) as carrier:
        carrier.add_event(EVAL, {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.1})
    spans = sdk.spans()
    event, span_fb, trace_fb, session_fb = extract_feedback(spans)
    trace_id, span_id = ids(target)
    carrier_trace, carrier_span = ids(carrier.get_span_context())
    assert carrier_trace != trace_id  # a new trace: only the link says what it is about
    carried = {"carrier.trace_id": carrier_trace, "carrier.span_id": carrier_span}
    assert (event.source, event.span_id, event.trace_id, event.score) == (
        "span_event",
        span_id,
        trace_id,
        0.1,
    )
    assert (span_fb.span_id, span_fb.trace_id, span_fb.label, span_fb.annotator) == (
        span_id,
        trace_id,
        "hallucinated",
        "human",
    )
    assert (trace_fb.span_id, trace_fb.trace_id) == ("", trace_id)
    assert (session_fb.session_id, session_fb.trace_id) == ("sess-9", "")
    assert all(fb.attributes == carried for fb in (event, span_fb, trace_fb, session_fb))


def test_a_span_that_is_not_a_carrier_keeps_its_feedback(sdk: Sdk) -> None:
    with sdk.tracer.start_as_current_span("a") as a, sdk.tracer.start_as_current_span("b") as b:
        pass
    annotation = {"annotations.0.annotation.name": "n", "annotations.0.annotation.score": 1}
    links = [Link(a.get_span_context()), Link(b.get_span_context())]
    evaluator = {"openinference.span.kind": "EVALUATOR", **annotation}
    chain_attrs = {"openinference.span.kind": "CHAIN", **annotation}
    with sdk.tracer.start_as_current_span("two links", links=links, attributes=evaluator) as two:
        pass
    with sdk.tracer.start_as_current_span(
        "chain, one link", links=links[:1], attributes=chain_attrs
    ) as chain:
        pass
    found = {fb.span_id for fb in extract_feedback(sdk.spans())}
    assert found == {ids(two.get_span_context())[1], ids(chain.get_span_context())[1]}


# --- cost and robustness ----------------------------------------------------------------------------


def test_spans_without_feedback_give_none() -> None:
    for capture in ("otel_openai_v2__span_and_event", "openinference", "traceloop", "langfuse"):
        assert (CAPTURES / capture).is_dir()
        spans, _, _ = normalise_traces(read_traces(capture), CONFIG)
        assert spans and extract_feedback(spans) == []


def test_odd_annotation_values_never_raise() -> None:
    fields = ["name", "score", "label", "explanation", "annotator_kind", "identifier", "metadata"]
    spans = []
    for field, value in itertools.product(fields, ODD_VALUES):
        attrs = {"annotations.0.annotation.name": "n", "annotations.0.annotation.label": "l"}
        attrs[f"annotations.0.annotation.{field}"] = value
        attrs[f"session.evaluations.0.evaluation.{field}"] = value
        event = (EVAL, {f"gen_ai.evaluation.{field}": value, "gen_ai.evaluation.score.value": value})
        spans.append({"attrs": attrs, "events": [event]})
    found = extract_feedback(normalise(*spans))
    assert len(found) >= len(spans)  # every span still gives its event
    assert all(fb.score is None or fb.score == fb.score for fb in found)
