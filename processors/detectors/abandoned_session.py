"""``abandoned_session`` (category ``unhelpful_answer``): the user left right after a weak or failed turn.

**Triggers** (``on_idle``), on the answer span of a session's last turn once the session has
been silent, in event time, for ``idle_s`` (300 s) after that turn's last span ended
(``idle_deadline_ns(last) = last.end_ns + idle_s``), when that turn was weak:

- it ``failed`` (its answer span, or its root span, ended in error: ``reason: "failed"``); or
- it carries one of ``weak_signals`` (default: ``error``, ``refusal``, ``truncated``,
  ``empty_retrieval``, ``low_retrieval_confidence``, ``ungrounded_answer``) with a score of at
  least ``min_weak_score`` (0.5) (``reason: "weak_signals"``).

The session state calls ``on_idle`` only while the turn is still the session's last, so a weak
turn followed by another turn, however late, is not abandoned.

**Does not trigger**: a session that ends after a good answer; one whose last turn has only
signals outside ``weak_signals`` (``latency_outlier`` — a slow but good answer —,
``negative_feedback``, which often comes after the deadline and is its own signal) or weak ones
below ``min_weak_score``; a turn without an answer span (no LLM call recorded: there is no span
to put the signal on).

**Score**: 1.0 for a failed turn, else the highest score among the turn's weak signals.

**Evidence**: ``idle_s``, ``reason``, ``failed``, ``weak_signals`` (name → score),
``turn_index``, ``last_turn_end_ns``, ``user_message`` (the last user message, cut to 300
characters).

**Config** (``processors.detectors.abandoned_session``): ``idle_s``, ``weak_signals``,
``min_weak_score``; overridable per service/model (the model of the turn's answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from tracesieve.collector.contracts import Signal

from ._spans import clip
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped

if TYPE_CHECKING:  # the session package imports the detectors at run time, not the reverse
    from tracesieve.processors.sessions.model import TurnRecord

__all__ = ["AbandonedSessionConfig", "AbandonedSessionDetector", "factory"]

_USER_CHARS = 300


class AbandonedSessionConfig(DetectorConfig):
    """Settings of the ``abandoned_session`` detector."""

    idle_s: float = Field(
        300.0, gt=0.0, description="Silence (event time) after a session's last turn that counts as leaving."
    )
    weak_signals: list[str] = Field(
        default_factory=lambda: [
            "error",
            "refusal",
            "truncated",
            "empty_retrieval",
            "low_retrieval_confidence",
            "ungrounded_answer",
        ],
        description="Signals that make a turn weak: leaving right after such a turn is abandoning it.",
    )
    min_weak_score: float = Field(0.5, ge=0.0, le=1.0, description="A weak signal counts from this score on.")


class AbandonedSessionDetector(Detector):
    """See the module docstring."""

    name = "abandoned_session"
    category = "unhelpful_answer"

    def __init__(self, config: AbandonedSessionConfig) -> None:
        self.config = config
        self._resolve = scoped(config)

    def _config(self, last: TurnRecord) -> AbandonedSessionConfig:
        return self._resolve(last.service_name, last.model, "") if self.config.overrides else self.config

    def idle_deadline_ns(self, last: TurnRecord) -> int | None:
        return last.end_ns + int(self._config(last).idle_s * 1e9)

    def on_idle(self, last: TurnRecord) -> Sequence[Signal]:
        if not last.answer_span_id:
            return ()
        config = self._config(last)
        weak_names = config.weak_signals
        weak = {
            name: score
            for name, score in last.signals.items()
            if name in weak_names and score >= config.min_weak_score
        }
        if last.failed:
            reason, score = "failed", 1.0
        elif weak:
            reason, score = "weak_signals", max(weak.values())
        else:
            return ()
        evidence: dict[str, Any] = {
            "idle_s": config.idle_s,
            "reason": reason,
            "failed": last.failed,
            "weak_signals": weak,
            "turn_index": last.index,
            "last_turn_end_ns": last.end_ns,
            "user_message": clip(last.user_message, _USER_CHARS),
        }
        return (make_signal(self, last.ref(), score, evidence),)


factory = DetectorFactory(
    name="abandoned_session", config_model=AbandonedSessionConfig, create=AbandonedSessionDetector
)
