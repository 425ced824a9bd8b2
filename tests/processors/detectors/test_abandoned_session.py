"""The ``abandoned_session`` detector: deadlines, weak last turns, and the session state firing it
on the watermark."""

from __future__ import annotations

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.processors.detectors.abandoned_session import AbandonedSessionConfig, AbandonedSessionDetector
from tracesieve.processors.detectors.error import ErrorConfig, ErrorDetector
from tracesieve.processors.detectors.truncated import TruncatedConfig, TruncatedDetector
from tracesieve.processors.scoring import Scorer, ScoringConfig
from tracesieve.processors.sessions import SessionProcessor, SessionsConfig

from ._factories import SECOND, T0, llm, turn


def idle(config: AbandonedSessionConfig | None = None, **fields: object) -> list[tuple[str, float]]:
    signals = AbandonedSessionDetector(config or AbandonedSessionConfig()).on_idle(turn(**fields))
    return [(x.evidence["reason"], x.score) for x in signals]


def test_deadline_is_the_turn_end_plus_idle_s_per_service_or_model() -> None:
    config = AbandonedSessionConfig(
        idle_s=120,
        overrides=[
            {"match": {"service": "kiosk"}, "idle_s": 30},
            {"match": {"service": "kiosk", "model": "gpt-4o-2024-08-06"}, "idle_s": 45},
        ],
    )
    detector = AbandonedSessionDetector(config)
    assert detector.idle_deadline_ns(turn()) == T0 + SECOND + 120 * SECOND
    assert detector.idle_deadline_ns(turn(service_name="kiosk")) == T0 + 46 * SECOND
    assert detector.idle_deadline_ns(turn(service_name="kiosk", model="o3")) == T0 + 31 * SECOND
    assert AbandonedSessionDetector(AbandonedSessionConfig()).idle_deadline_ns(turn()) == T0 + 301 * SECOND


def test_leaving_after_a_failed_turn_scores_one_with_evidence() -> None:
    [signal] = AbandonedSessionDetector(AbandonedSessionConfig()).on_idle(
        turn(failed=True, signals={"error": 1.0})
    )
    assert (signal.signal, signal.category, signal.score) == ("abandoned_session", "unhelpful_answer", 1.0)
    assert (signal.session_id, signal.trace_id, signal.span_id, signal.time_ns) == turn().ref()[:4]
    assert signal.evidence == {
        "idle_s": 300.0,
        "reason": "failed",
        "failed": True,
        "weak_signals": {"error": 1.0},
        "turn_index": 2,
        "last_turn_end_ns": T0 + SECOND,
        "user_message": "How long do refunds take?",
    }


@pytest.mark.parametrize(
    "name",
    ["error", "refusal", "truncated", "empty_retrieval", "low_retrieval_confidence", "ungrounded_answer"],
)
def test_leaving_after_a_weak_turn(name: str) -> None:
    assert idle(signals={name: 0.8}) == [("weak_signals", 0.8)]


def test_the_score_is_the_strongest_weak_signal() -> None:
    assert idle(signals={"refusal": 0.7, "truncated": 0.9, "latency_outlier": 1.0}) == [("weak_signals", 0.9)]


def test_not_abandoned() -> None:
    assert idle() == []  # a good answer, then silence
    assert idle(signals={"latency_outlier": 1.0}) == []  # slow but answered
    assert idle(signals={"negative_feedback": 1.0, "rephrase": 0.9}) == []
    assert idle(signals={"refusal": 0.4}) == []  # below min_weak_score
    assert idle(failed=True, answer_span_id="") == []  # no span to put it on


def test_weak_signals_and_min_score_are_configurable() -> None:
    config = AbandonedSessionConfig(weak_signals=["latency_outlier"], min_weak_score=0.3)
    assert idle(config, signals={"latency_outlier": 0.35, "refusal": 1.0}) == [("weak_signals", 0.35)]


def test_user_message_is_cut() -> None:
    [signal] = AbandonedSessionDetector(AbandonedSessionConfig()).on_idle(
        turn(failed=True, user_message="why " * 200)
    )
    assert len(signal.evidence["user_message"]) == 300


# -- fired by the real session state, on the event-time watermark ------------------------------


def chat(trace: str, n: int, at_s: float, **fields: object) -> CanonicalSpan:
    return llm(
        trace_id=trace,
        span_id=f"{n:016x}",
        start_ns=T0 + int(at_s * SECOND),
        duration_ms=1000,
        input_messages=[{"role": "user", "content": f"question {n}"}],
        **fields,
    )


def processor(idle_s: float = 120) -> SessionProcessor:
    detectors = [
        ErrorDetector(ErrorConfig()),
        TruncatedDetector(TruncatedConfig()),
        AbandonedSessionDetector(AbandonedSessionConfig(idle_s=idle_s)),
    ]
    config = SessionsConfig(allowed_lateness_s=5, idle_source_s=10_000)
    # Span ends are capped at the wall clock: it stands a day after the test's events.
    return SessionProcessor(config, detectors, Scorer(ScoringConfig()), wall_ns=lambda: T0 + 86_400 * SECOND)


def test_session_state_fires_it_after_a_truncated_last_turn_once_the_watermark_passes() -> None:
    proc = processor()
    proc.process([chat("a" * 32, 1, at_s=0)])
    found = proc.process([chat("b" * 32, 2, at_s=30, finish_reasons=["length"])])
    assert [s.signal for s in found.signals] == ["truncated"]
    proc.observe_time(T0 + 150 * SECOND)  # watermark 145 s < deadline 31 + 120 s
    assert proc.advance().signals == []
    proc.observe_time(T0 + 160 * SECOND)
    found = proc.advance()
    assert [(s.signal, s.trace_id, s.span_id, s.score) for s in found.signals] == [
        ("abandoned_session", "b" * 32, f"{2:016x}", 1.0)
    ]


def test_session_state_does_not_fire_after_a_good_answer_or_when_the_user_goes_on() -> None:
    proc = processor()
    proc.process([chat("a" * 32, 1, at_s=0, status_code="Error", output_text="")])
    proc.process([chat("b" * 32, 2, at_s=60)])  # the user tried again and got an answer
    proc.observe_time(T0 + 3600 * SECOND)
    assert [s.signal for s in proc.advance().signals] == []


def test_session_state_fires_after_a_failed_call() -> None:
    proc = processor()
    found = proc.process([chat("a" * 32, 1, at_s=0, status_code="Error", output_text="", finish_reasons=[])])
    assert [s.signal for s in found.signals] == ["error"]
    proc.observe_time(T0 + 3600 * SECOND)
    assert [(s.signal, s.evidence["reason"]) for s in proc.advance().signals] == [
        ("abandoned_session", "failed")
    ]
