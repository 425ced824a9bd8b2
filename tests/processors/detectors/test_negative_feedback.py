"""The ``negative_feedback`` detector: thumbs, tickets, labels, scores on every scale, judges."""

from __future__ import annotations

from typing import Any

import pytest
from tracesieve.processors.detectors.negative_feedback import NegativeFeedbackConfig, NegativeFeedbackDetector

from ._factories import feedback, target


def judge(config: NegativeFeedbackConfig | None = None, **fields: Any) -> list[tuple[str, float]]:
    signals = NegativeFeedbackDetector(config or NegativeFeedbackConfig()).on_feedback(
        feedback(**fields), target()
    )
    return [(x.evidence["reason"], round(x.score, 6)) for x in signals]


def test_thumbs_down_lands_on_the_target_with_evidence() -> None:
    fb = feedback(
        thumbs="down",
        name="user_feedback",
        comment="wrong " * 200,
        annotator="human",
        trace_id="t",
    )
    [signal] = NegativeFeedbackDetector(NegativeFeedbackConfig()).on_feedback(fb, target())
    ref = target()
    assert (signal.signal, signal.category, signal.score) == ("negative_feedback", "negative_feedback", 1.0)
    assert (signal.session_id, signal.trace_id, signal.span_id, signal.time_ns, signal.service_name) == ref
    assert signal.evidence == {
        "feedback_id": fb.feedback_id,
        "source": "api",
        "name": "user_feedback",
        "reason": "thumbs_down",
        "thumbs": "down",
        "feedback_score": None,
        "label": "",
        "comment": ("wrong " * 200)[:499] + "…",
        "ticket_id": "",
        "annotator": "human",
    }


def test_a_support_ticket_is_negative_whatever_else_it_says() -> None:
    assert judge(ticket_id="ZD-4411") == [("ticket", 1.0)]
    assert judge(ticket_id="ZD-4411", thumbs="up", score=1.0) == [("ticket", 1.0)]
    assert judge(ticket_id="   ") == []


def test_thumbs_up_is_never_negative() -> None:
    assert judge(thumbs="up") == []
    assert judge(thumbs="up", score=0.1, label="bad") == []


@pytest.mark.parametrize(
    "label",
    [
        "down", "-1", "thumbs_down", "Thumbs Down", "thumbs-down", "👎", "bad", "incorrect", "wrong",
        "unhelpful", "not helpful", "Not-Helpful", "hallucination", "hallucinated", "irrelevant", "fail",
        "FAILED", "negative", "no", "false", "toxic", "harmful", "incomplete", "off topic",
        "needs improvement",
    ],
)  # fmt: skip
def test_negative_labels(label: str) -> None:
    assert judge(label=label) == [("label", 1.0)]


@pytest.mark.parametrize(
    "label",
    [
        "up",
        "good",
        "correct",
        "helpful",
        "pass",
        "positive",
        "yes",
        "true",
        "relevant",
        "factual",
        "Thumbs Up",
    ],
)
def test_positive_labels_decide_before_the_score(label: str) -> None:
    assert judge(label=label) == []
    assert judge(label=label, score=0.0) == []


def test_a_negative_label_wins_over_a_high_score_and_an_unknown_label_leaves_it_to_the_score() -> None:
    assert judge(label="wrong", score=0.95) == [("label", 1.0)]
    assert judge(label="partially_correct", score=0.2) == [("score", 0.8)]
    assert judge(label="partially_correct", score=0.9) == []
    assert judge(label="partially_correct") == []


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, [("score", 1.0)]),
        (0.2, [("score", 0.8)]),
        (0.49, [("score", 0.51)]),
        (0.5, []),
        (0.9, []),
        (1.0, []),  # the top of the 0..1 scale
        (2.0, [("score", 0.75)]),  # 2 stars of 5
        (1.5, [("score", 0.875)]),
        (3.0, []),
        (5.0, []),
        (7.0, []),  # above 5: never negative without a configured scale
        (-1.0, [("score", 1.0)]),  # a thumbs-down sent as -1
        (-0.2, [("score", 1.0)]),
        (float("nan"), []),
    ],
)
def test_scores_on_the_scale_their_value_implies(score: float, expected: list[tuple[str, float]]) -> None:
    assert judge(score=score) == expected


def test_threshold_and_scales_are_configurable() -> None:
    config = NegativeFeedbackConfig(
        max_negative_score=0.7, score_scales={"NPS": (0.0, 10.0), "stars": (1, 5)}
    )
    assert judge(config, score=0.6) == [("score", 0.5)]  # 1 − 0.6 = 0.4, floored at 0.5
    assert judge(config, name="nps", score=4) == [("score", 0.6)]
    assert judge(config, name="nps", score=8) == []
    assert judge(config, name="stars", score=1) == [("score", 1.0)]  # 1 star, not a perfect 1.0
    assert judge(config, name="stars", score=5) == []


def test_failure_measuring_names_are_inverted() -> None:
    assert judge(name="hallucination", label="yes") == [("label", 1.0)]
    assert judge(name="hallucination", label="no") == []
    assert judge(name="Hallucination", score=0.9) == [("score", 0.9)]
    assert judge(name="toxicity", score=0.1) == []
    assert judge(name="toxicity", score=-1) == []
    assert judge(name="helpfulness", label="no") == [("label", 1.0)]
    config = NegativeFeedbackConfig(inverted_names=["Off-Topic Score"])
    assert judge(config, name="off topic score", score=0.8) == [("score", 0.8)]


def test_llm_judges_count_less_or_not_at_all() -> None:
    assert judge(annotator="llm", label="incorrect") == [("label", 0.6)]
    assert judge(annotator="LLM", score=0.0) == [("score", 0.6)]
    assert judge(annotator="human", label="incorrect") == [("label", 1.0)]
    assert judge(annotator="code", label="incorrect") == [("label", 1.0)]
    assert judge(NegativeFeedbackConfig(llm_judge_weight=0), annotator="llm", label="incorrect") == []


def test_extra_vocabularies() -> None:
    config = NegativeFeedbackConfig(extra_negative_labels=["Meh"], extra_positive_labels=["wrong-but-fine"])
    assert judge(config, label="meh") == [("label", 1.0)]
    assert judge(config, label="Wrong but fine") == []


def test_empty_feedback_is_not_negative() -> None:
    assert judge() == []
    assert judge(comment="the answer was wrong") == []  # free text is not judged


def test_settings_per_service() -> None:
    config = NegativeFeedbackConfig(overrides=[{"match": {"service": "beta"}, "llm_judge_weight": 0.0}])
    detector = NegativeFeedbackDetector(config)
    judged = feedback(annotator="llm", label="incorrect")
    assert detector.on_feedback(judged, target("beta")) == ()
    assert [x.score for x in detector.on_feedback(judged, target("prod"))] == [0.6]
