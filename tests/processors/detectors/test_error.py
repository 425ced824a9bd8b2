"""The ``error`` detector: failed spans of every GenAI kind, failed tool results, and what is not an error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tracesieve.collector.contracts import KIND_LLM, CanonicalSpan
from tracesieve.processors.detectors.error import ErrorConfig, ErrorDetector

from ._factories import (
    LANGFUSE,
    OPENINFERENCE,
    OTEL,
    SESSION,
    TRACELOOP,
    agent,
    embedding,
    exception_event,
    llm,
    retrieval,
    scenario_spans,
    span,
    tool,
)


def detect(s: CanonicalSpan, config: ErrorConfig | None = None) -> list[tuple[float, list[str]]]:
    signals = ErrorDetector(config or ErrorConfig()).on_span(s, SESSION)
    return [(x.score, x.evidence["reasons"]) for x in signals]


def test_llm_span_in_error_scores_one_with_its_evidence() -> None:
    s = llm(
        status_code="Error",
        status_message="Error code: 500 - The server had an error",
        error_type="openai.InternalServerError",
        events=[exception_event()],
        output_text="",
        finish_reasons=[],
    )
    [signal] = ErrorDetector(ErrorConfig()).on_span(s, SESSION)
    assert (signal.signal, signal.category, signal.score) == ("error", "error", 1.0)
    assert (signal.span_id, signal.trace_id, signal.session_id, signal.time_ns) == (
        s.span_id,
        s.trace_id,
        SESSION,
        s.end_ns,
    )
    assert signal.evidence == {
        "span_id": s.span_id,
        "span_name": "chat gpt-4o",
        "kind": KIND_LLM,
        "reasons": ["status", "exception", "error_type"],
        "status_message": "Error code: 500 - The server had an error",
        "error_type": "openai.InternalServerError",
        "exception_type": "openai.InternalServerError",
        "exception_message": "Error code: 500",
    }


@pytest.mark.parametrize(
    ("make", "score"),
    [(llm, 1.0), (agent, 1.0), (tool, 0.8), (retrieval, 0.8), (embedding, 0.8)],
)
def test_score_depends_on_the_kind(make: Callable[..., CanonicalSpan], score: float) -> None:
    s = make(status_code="Error")
    assert detect(s) == [(score, ["status"])]


def test_scores_are_configurable_and_overridable_per_model() -> None:
    config = ErrorConfig(
        llm_score=0.9,
        tool_score=0.5,
        overrides=[{"match": {"model": "gpt-4o-mini"}, "llm_score": 0.7}],
    )
    assert detect(llm(status_code="Error"), config) == [(0.9, ["status"])]
    assert detect(tool(status_code="Error"), config) == [(0.5, ["status"])]
    # Matched on the request model, then on the dated response model.
    mini = llm(status_code="Error", request_model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18")
    assert detect(mini, config) == [(0.7, ["status"])]
    dated = llm(status_code="Error", request_model="", response_model="gpt-4o-mini")
    assert detect(dated, config) == [(0.7, ["status"])]


def test_exception_event_or_error_type_alone_is_an_error_unless_status_is_ok() -> None:
    assert detect(llm(events=[exception_event()])) == [(1.0, ["exception"])]
    assert detect(llm(error_type="TimeoutError")) == [(1.0, ["error_type"])]
    # The application caught it and set the status to Ok: handled, not a failure.
    assert detect(llm(status_code="Ok", events=[exception_event()], error_type="TimeoutError")) == []


def test_error_finish_reason_is_an_error() -> None:
    assert detect(llm(finish_reasons=["error"])) == [(1.0, ["finish_reason"])]


def test_other_spans_and_healthy_spans_are_ignored() -> None:
    assert detect(span(status_code="Error", events=[exception_event()])) == []  # kind other: an HTTP client
    assert detect(llm()) == []
    assert detect(llm(status_code="Ok")) == []
    # Streaming chunk events are not exceptions.
    chunks: list[tuple[int, str, dict[str, str]]] = [(0, "gen_ai.content.completion.chunk", {})] * 5
    assert detect(llm(events=chunks)) == []
    assert detect(tool("The forecast is sunny.")) == []
    assert detect(retrieval()) == []


@pytest.mark.parametrize(
    "result",
    [
        '{"content": [{"type": "text", "text": "Unknown city"}], "isError": true}',
        '{"is_error": true, "content": "permission denied"}',
        '{"status": "error", "message": "quota exceeded"}',
        '{"status": "FAILED"}',
        '{"success": false, "message": "no such order"}',
        '{"ok": false, "error": "channel_not_found"}',
        '{"error": "order ORD-1 not found"}',
        '{"error": {"code": 404, "message": "not found"}}',
        "Error: ValueError('city not found')\n Please fix your mistakes.",
        "ERROR(404) order not found",
        "openai.APIError: boom",
        "KeyError: 'city'",
        'Traceback (most recent call last):\n  File "tool.py", line 3',
        "  Exception: the database is unreachable",
    ],
)
def test_tool_result_that_reports_a_failure_is_an_error(result: str) -> None:
    [(score, reasons)] = detect(tool(result))
    assert (score, reasons) == (0.8, ["tool_result"])
    [signal] = ErrorDetector(ErrorConfig()).on_span(tool(result), SESSION)
    assert signal.evidence["tool_result"] == result.lstrip()


@pytest.mark.parametrize(
    "result",
    [
        '{"error_rate": 0.1, "status": "ok"}',
        '{"error": null, "data": [1, 2]}',
        '{"error": "", "data": [1, 2]}',
        '{"success": true, "isError": false}',
        '{"status": "completed"}',
        "Error handling in Python: use try/except.",
        "Error-free run, 3 files written.",
        "Errors: none",
        "The errors were fixed: ValueError: no longer raised",
        "Terror: a film review",
        "{not json but mentions error",
    ],
)
def test_tool_result_that_only_mentions_errors_is_not_an_error(result: str) -> None:
    assert detect(tool(result)) == []


def test_tool_span_in_error_reports_its_status_not_its_result() -> None:
    assert detect(tool('{"isError": true}', status_code="Error")) == [(0.8, ["status"])]


def test_long_exception_message_is_cut() -> None:
    [signal] = ErrorDetector(ErrorConfig()).on_span(
        llm(events=[exception_event(message="x" * 2000)]), SESSION
    )
    assert len(signal.evidence["exception_message"]) == 500


@pytest.mark.parametrize("capture", [OTEL, OPENINFERENCE, TRACELOOP, LANGFUSE])
def test_real_captures_flag_exactly_the_failed_provider_call(capture: str) -> None:
    detector = ErrorDetector(ErrorConfig())
    for scenario in ("a_normal_chat", "d_length", "e_refuse", "e3_content_filter", "g_streaming", "i_rag"):
        assert [s for sp in scenario_spans(capture, scenario) for s in detector.on_span(sp, SESSION)] == []
    found = [s for sp in scenario_spans(capture, "f_error_500") for s in detector.on_span(sp, SESSION)]
    assert [(s.evidence["kind"], s.score) for s in found] == [("llm", 1.0)]
    assert "500" in found[0].evidence["status_message"]
