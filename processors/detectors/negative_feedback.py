"""``negative_feedback`` (category ``negative_feedback``): someone said the answer was bad.

**Triggers** (``on_feedback``), on the span the feedback was joined to, for a piece of feedback
that is negative, decided in this order (the first rule that applies decides):

1. ``ticket_id`` non-empty: a support ticket was opened about the answer (``reason: "ticket"``,
   score 1.0);
2. ``thumbs == "down"`` (``reason: "thumbs_down"``, score 1.0); ``thumbs == "up"`` is positive;
3. ``label``, lower-cased with spaces and hyphens as ``_``: a negative word (``down``, ``bad``,
   ``incorrect``, ``wrong``, ``unhelpful``, ``not_helpful``, ``hallucinated``, ``irrelevant``,
   ``fail``, ``negative``, ``toxic``, ``incomplete``, ``no``, ``false``… see
   ``NEGATIVE_LABELS``) is negative (``reason: "label"``, score 1.0); a positive word (``up``,
   ``good``, ``correct``, ``helpful``, ``pass``, ``positive``, ``relevant``, ``factual``,
   ``yes``, ``true``… see ``POSITIVE_LABELS``) is positive; any other label leaves it to the score;
4. ``score`` (``reason: "score"``), on the scale ``score_scales`` gives for the feedback's name
   (negative in its lowest ``max_negative_score`` part), else on the scale its value implies:
   in [0, 1] negative below ``max_negative_score`` (0.5); in (1, 5] (stars) at most 2; below 0
   always (−1 is a thumbs-down); above 5 never (on a 0–10 scale the negative part would read as
   stars: configure ``score_scales`` for such names). The signal's score is how low it is,
   ``1 − (value − low) / (high − low)`` (at least 0.5), 1.0 below 0.

When the feedback's name says it measures a failure (``inverted_names``: ``hallucination``,
``toxicity``, ``harmful``…), ``yes``/``true`` labels and high scores are the negative ones.

Judge evaluations (``annotator == "llm"``) count with their score × ``llm_judge_weight`` (0.6),
or not at all when it is 0. **Does not trigger**: thumbs up, positive or unknown labels without
a low score, a score of 0.9, a comment alone (free text is not judged), feedback with nothing
in it. A later positive piece of feedback
does not withdraw an earlier negative one (the session state keeps the highest score per span).

**Evidence**: ``feedback_id``, ``source``, ``name``, ``reason``, ``thumbs``, ``score``,
``label``, ``comment`` (cut to 500 characters), ``ticket_id``, ``annotator``.

**Config** (``processors.detectors.negative_feedback``): ``max_negative_score``,
``llm_judge_weight``, ``extra_negative_labels``, ``extra_positive_labels``, ``score_scales``,
``inverted_names``; overridable per service.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from tracesieve.collector.contracts import Feedback, Signal, SpanRef

from ._spans import clip
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped

__all__ = [
    "NEGATIVE_LABELS",
    "POSITIVE_LABELS",
    "NegativeFeedbackConfig",
    "NegativeFeedbackDetector",
    "factory",
]

NEGATIVE_LABELS = frozenset(
    (
        "down", "thumbs_down", "thumb_down", "thumbsdown", "👎", "-1", "bad", "poor", "terrible",
        "awful", "useless", "incorrect", "wrong", "inaccurate", "unhelpful", "not_helpful",
        "hallucination", "hallucinated", "hallucinating", "irrelevant", "not_relevant", "off_topic",
        "fail", "failed", "failure", "negative", "no", "false", "toxic", "harmful", "unsafe",
        "incomplete", "ungrounded", "unfaithful", "not_faithful", "dislike", "disliked",
        "unsatisfied", "dissatisfied", "unresolved", "not_resolved", "needs_improvement", "reject",
        "rejected", "refused", "broken",
    )
)  # fmt: skip
POSITIVE_LABELS = frozenset(
    (
        "up", "thumbs_up", "thumb_up", "thumbsup", "👍", "+1", "good", "great", "excellent", "correct",
        "accurate", "helpful", "pass", "passed", "positive", "yes", "true", "relevant", "factual",
        "faithful", "grounded", "complete", "safe", "non_toxic", "not_toxic", "like", "liked",
        "satisfied", "resolved", "accept", "accepted", "ok", "fine",
    )
)  # fmt: skip
# Labels that answer a yes/no question: what they mean depends on what was asked.
_BOOLEAN = {"yes": True, "true": True, "no": False, "false": False}
_COMMENT_CHARS = 500


class NegativeFeedbackConfig(DetectorConfig):
    """Settings of the ``negative_feedback`` detector."""

    max_negative_score: float = Field(
        0.5, ge=0.0, le=1.0, description="A score in [0, 1] below this is negative."
    )
    llm_judge_weight: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Factor on the score of an LLM-judge evaluation (`annotator: llm`); 0 ignores them.",
    )
    extra_negative_labels: list[str] = Field(
        default_factory=list, description="More labels that mean negative (compared lower-cased)."
    )
    extra_positive_labels: list[str] = Field(
        default_factory=list, description="More labels that mean positive (compared lower-cased)."
    )
    score_scales: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description=(
            "The (worst, best) scale of the scores of a feedback name, e.g. `{stars: [1, 5]}`, instead "
            "of the one their value implies; a score in the lowest `max_negative_score` of it is negative."
        ),
    )
    inverted_names: list[str] = Field(
        default_factory=lambda: [
            "hallucination",
            "toxicity",
            "toxic",
            "harmful",
            "harmfulness",
            "bias",
            "jailbreak",
            "pii",
            "refusal",
            "is_hallucination",
            "contains_pii",
        ],
        description=(
            "Feedback names (lower-cased, spaces and hyphens as `_`) whose score measures a failure: a "
            "high score or a `yes`/`true` label is negative."
        ),
    )


class NegativeFeedbackDetector(Detector):
    """See the module docstring."""

    name = "negative_feedback"
    category = "negative_feedback"

    def __init__(self, config: NegativeFeedbackConfig) -> None:
        self.config = config
        self._resolve = scoped(config)

    def on_feedback(self, feedback: Feedback, target: SpanRef) -> Sequence[Signal]:
        config = self._resolve(target.service_name, "", "") if self.config.overrides else self.config
        weight = config.llm_judge_weight if feedback.annotator.lower() == "llm" else 1.0
        if weight <= 0.0:
            return ()
        verdict = _judge(feedback, config)
        if verdict is None:
            return ()
        reason, score = verdict
        evidence: dict[str, Any] = {
            "feedback_id": feedback.feedback_id,
            "source": feedback.source,
            "name": feedback.name,
            "reason": reason,
            "thumbs": feedback.thumbs,
            "feedback_score": feedback.score,
            "label": feedback.label,
            "comment": clip(feedback.comment, _COMMENT_CHARS),
            "ticket_id": feedback.ticket_id,
            "annotator": feedback.annotator,
        }
        return (make_signal(self, target, score * weight, evidence),)


def _key(text: str) -> str:
    t = text.strip().lower()
    return t if t in _SIGNED else t.replace("-", "_").replace(" ", "_")


_SIGNED = frozenset(("-1", "+1"))


def _judge(feedback: Feedback, config: NegativeFeedbackConfig) -> tuple[str, float] | None:
    """(reason, score) when ``feedback`` is negative, else ``None``."""
    if feedback.ticket_id.strip():
        return "ticket", 1.0
    thumbs = feedback.thumbs.strip().lower()
    if thumbs == "down":
        return "thumbs_down", 1.0
    if thumbs == "up":
        return None
    name = _key(feedback.name)
    inverted = name in {_key(n) for n in config.inverted_names}
    if feedback.label.strip():
        label = _key(feedback.label)
        boolean = _BOOLEAN.get(label)
        if boolean is not None:
            return ("label", 1.0) if boolean == inverted else None
        if label in NEGATIVE_LABELS or label in {_key(x) for x in config.extra_negative_labels}:
            return "label", 1.0
        if label in POSITIVE_LABELS or label in {_key(x) for x in config.extra_positive_labels}:
            return None
    value = feedback.score
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    scale = next((v for k, v in config.score_scales.items() if _key(k) == name), None)
    goodness = _goodness(value, scale, inverted, config.max_negative_score)
    if goodness is None:
        return None
    return "score", max(0.5, min(1.0, 1.0 - goodness))


def _goodness(value: float, scale: tuple[float, float] | None, inverted: bool, cut: float) -> float | None:
    """Where ``value`` sits between worst (0) and best (1) when it is negative, else ``None``."""
    if scale is None:
        if value < 0:
            return None if inverted else 0.0  # −1: a thumbs-down sent as a score
        if value > 5:
            # On a 0-10 scale its negative part (≤ 4) reads as stars: only a configured scale tells.
            return None
        if value > 1:
            # Star ratings: 1 and 2 of 5 are negative.
            return (value - 1) / 4 if value <= 2 else None
        scale = (0.0, 1.0)
    low, high = scale
    if high == low:
        return None
    goodness = (value - low) / (high - low)
    if inverted:
        goodness = 1.0 - goodness
    return goodness if goodness < cut else None


factory = DetectorFactory(
    name="negative_feedback", config_model=NegativeFeedbackConfig, create=NegativeFeedbackDetector
)
