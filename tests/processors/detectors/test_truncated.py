"""The ``truncated`` detector: length and content-filter stops, the token-budget fallback, and non-stops."""

from __future__ import annotations

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.processors.detectors.truncated import TruncatedConfig, TruncatedDetector

from ._factories import LANGFUSE, OPENINFERENCE, OTEL, SESSION, TRACELOOP, agent, llm, scenario_spans


def detect(s: CanonicalSpan, config: TruncatedConfig | None = None) -> list[tuple[str, float, bool]]:
    signals = TruncatedDetector(config or TruncatedConfig()).on_span(s, SESSION)
    return [(x.evidence["reason"], x.score, x.evidence["inferred"]) for x in signals]


@pytest.mark.parametrize(
    "reason",
    ["length", "max_tokens", "max_output_tokens", "model_length", "token_limit", "error_limit", "incomplete"],
)
def test_length_stops(reason: str) -> None:
    assert detect(llm(finish_reasons=[reason])) == [("length", 1.0, False)]


@pytest.mark.parametrize(
    "reason",
    [
        "content_filter",
        "safety",
        "recitation",
        "blocklist",
        "prohibited_content",
        "spii",
        "guardrail_intervened",
        "content_filtered",
        "error_toxic",
        "blocked",
    ],
)
def test_content_filter_stops(reason: str) -> None:
    assert detect(llm(finish_reasons=[reason], output_text="")) == [("content_filter", 1.0, False)]


@pytest.mark.parametrize(
    "reasons", [["stop"], ["tool_call"], ["end_turn"], ["stop_sequence"], ["refusal"], ["error"], []]
)
def test_other_finish_reasons_are_not_truncation(reasons: list[str]) -> None:
    assert detect(llm(finish_reasons=reasons)) == []


def test_evidence_names_reasons_tokens_and_the_requested_maximum() -> None:
    s = llm(finish_reasons=["length"], output_tokens=12, attributes={"gen_ai.request.max_tokens": "12"})
    [signal] = TruncatedDetector(TruncatedConfig()).on_span(s, SESSION)
    assert (signal.signal, signal.category, signal.span_id) == ("truncated", "truncation", s.span_id)
    assert signal.evidence == {
        "span_id": s.span_id,
        "reason": "length",
        "finish_reasons": ["length"],
        "output_tokens": 12,
        "inferred": False,
        "model": "gpt-4o-2024-08-06",
        "request_max_tokens": 12,
    }


def test_any_choice_cut_counts_and_a_filter_wins_over_length() -> None:
    assert detect(llm(finish_reasons=["stop", "length"])) == [("length", 1.0, False)]
    assert detect(llm(finish_reasons=["length", "content_filter"])) == [("content_filter", 1.0, False)]


def test_scores_and_extra_reasons_are_configurable() -> None:
    config = TruncatedConfig(length_score=0.7, content_filter_score=0.9, extra_length_reasons=["MAX_LEN"])
    assert detect(llm(finish_reasons=["length"]), config) == [("length", 0.7, False)]
    assert detect(llm(finish_reasons=["safety"]), config) == [("content_filter", 0.9, False)]
    assert detect(llm(finish_reasons=["max_len"]), config) == [("length", 0.7, False)]


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.request.max_tokens": "12"},
        {"ai.settings.maxOutputTokens": "12"},
        {"llm.invocation_parameters": '{"model": "gpt-4o", "max_tokens": 12}'},
        {"llm.invocation_parameters": '{"max_completion_tokens": 12}'},
        {"langfuse.observation.model.parameters": '{"temperature": 0.7, "max_tokens": 12}'},
    ],
)
def test_without_finish_reason_a_spent_token_budget_is_a_length_stop(attributes: dict[str, str]) -> None:
    s = llm(finish_reasons=[], output_tokens=12, attributes=attributes)
    assert detect(s) == [("length", 1.0, True)]
    assert detect(llm(finish_reasons=[], output_tokens=11, attributes=attributes)) == []
    assert detect(s, TruncatedConfig(infer_from_token_budget=False)) == []


def test_the_token_budget_is_not_used_when_a_finish_reason_says_otherwise_or_is_unknown() -> None:
    assert (
        detect(llm(finish_reasons=["stop"], output_tokens=12, attributes={"gen_ai.request.max_tokens": "12"}))
        == []
    )
    assert detect(llm(finish_reasons=[], output_tokens=12)) == []  # no known maximum
    assert (
        detect(llm(finish_reasons=[], output_tokens=0, attributes={"gen_ai.request.max_tokens": "12"})) == []
    )
    bad = {"llm.invocation_parameters": "{max_tokens: 12", "gen_ai.request.max_tokens": "lots"}
    assert detect(llm(finish_reasons=[], output_tokens=12, attributes=bad)) == []


def test_the_token_budget_fallback_can_be_switched_on_per_model() -> None:
    config = TruncatedConfig(
        infer_from_token_budget=False,
        overrides=[{"match": {"model": "gpt-4o"}, "infer_from_token_budget": True}],
    )
    attrs = {"gen_ai.request.max_tokens": "12"}
    assert detect(llm(finish_reasons=[], output_tokens=12, attributes=attrs), config) == [
        ("length", 1.0, True)
    ]
    other = llm(
        finish_reasons=[], output_tokens=12, attributes=attrs, request_model="o3", response_model="o3"
    )
    assert detect(other, config) == []


def test_only_llm_spans_are_judged() -> None:
    assert detect(agent(finish_reasons=["length"])) == []


@pytest.mark.parametrize("capture", [OTEL, OPENINFERENCE, TRACELOOP, LANGFUSE])
def test_real_captures(capture: str) -> None:
    detector = TruncatedDetector(TruncatedConfig())

    def found(scenario: str) -> list[str]:
        return [
            x.evidence["reason"]
            for s in scenario_spans(capture, scenario)
            for x in detector.on_span(s, SESSION)
        ]

    # Langfuse records no finish reason for non-streamed calls: the spent token budget tells.
    assert found("d_length") == ["length"]
    # Langfuse keeps no trace of the filter (no finish reason, an empty answer): nothing to go on.
    assert found("e3_content_filter") == ([] if capture == LANGFUSE else ["content_filter"])
    for scenario in ("a_normal_chat", "e_refuse", "f_error_500", "g_streaming", "i_rag"):
        assert found(scenario) == []
