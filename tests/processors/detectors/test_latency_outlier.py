"""The ``latency_outlier`` detector: rolling percentiles per (service, model, operation), state."""

from __future__ import annotations

import json
import random

import pytest
from pydantic import ValidationError
from tracesieve.collector.contracts import CanonicalSpan, Signal
from tracesieve.processors.detectors.latency_outlier import LatencyOutlierConfig, LatencyOutlierDetector

from ._factories import SESSION, agent, embedding, llm, retrieval, tool


def feed(detector: LatencyOutlierDetector, durations_ms: list[float], **fields: object) -> list[Signal]:
    found: list[Signal] = []
    for d in durations_ms:
        found.extend(detector.on_span(llm(duration_ms=d, **fields), SESSION))
    return found


def normal(n: int, seed: int = 7) -> list[float]:
    """``n`` durations around 1 s (0.8–1.2 s)."""
    rng = random.Random(seed)
    return [1000 + rng.uniform(-200, 200) for _ in range(n)]


def test_nothing_is_judged_before_min_samples() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    assert feed(detector, [*normal(49), 60_000.0]) == []


def test_far_above_the_percentile_is_flagged_with_evidence() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    assert feed(detector, normal(100)) == []
    s = llm(duration_ms=5000, output_tokens=30)
    [signal] = detector.on_span(s, SESSION)
    assert (signal.signal, signal.category, signal.span_id) == ("latency_outlier", "latency", s.span_id)
    evidence = signal.evidence
    p95 = evidence["percentile_ms"]
    assert 1150 < p95 < 1200
    assert evidence == {
        "span_id": s.span_id,
        "duration_ms": 5000.0,
        "percentile": 0.95,
        "percentile_ms": p95,
        "threshold_ms": pytest.approx(3 * p95),
        "factor": 3.0,
        "samples": 100,
        "window_scope": "service",
        "model": "gpt-4o",
        "operation": "chat",
        "output_tokens": 30,
    }
    assert signal.score == pytest.approx(0.6 + 0.4 * (5000 / (3 * p95) - 1))


def test_normal_variance_and_short_spans_are_not_flagged() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    durations = normal(300)
    durations[150:160] = [2500.0] * 10  # slow-ish (2.5 s), but under 3 × p95
    assert feed(detector, durations) == []
    fast = LatencyOutlierDetector(LatencyOutlierConfig())
    assert feed(fast, [20.0] * 60 + [400.0]) == []  # 20 × p95, but under min_duration_ms
    assert len(feed(fast, [600.0])) == 1


def test_score_reaches_one_at_twice_the_threshold() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig(min_duration_ms=0))
    feed(detector, [1000.0] * 60)
    [signal] = feed(detector, [7000.0])
    assert signal.score == 1.0


def test_windows_are_per_model_and_operation() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    feed(detector, normal(100), request_model="gpt-4o-mini")
    # A slow model is judged against its own calls, not the fast one's.
    assert feed(detector, [5000.0], request_model="o3") == []
    embeddings = [embedding(duration_ms=d) for d in normal(60)]
    assert [x for s in embeddings for x in detector.on_span(s, SESSION)] == []
    assert detector.on_span(embedding(duration_ms=9000), SESSION) != []


def test_a_new_service_is_judged_against_the_model_window_until_it_has_its_own() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    feed(detector, normal(100), service_name="checkout")
    # The model's window took checkout's first 50 spans (its cold start), then one in 8.
    [signal] = feed(detector, [6000.0], service_name="search")
    assert (signal.evidence["window_scope"], signal.evidence["samples"]) == ("model", 50 + 50 // 8)
    feed(detector, normal(60, seed=3), service_name="search")
    [signal] = feed(detector, [6000.0], service_name="search")
    assert (signal.evidence["window_scope"], signal.evidence["samples"]) == ("service", 61)


def test_the_window_slides_and_a_lasting_slowdown_becomes_normal() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig(window=100, min_samples=50))
    feed(detector, normal(100))
    slow = feed(detector, [4000.0] * 100)
    # Outliers enter the window: once more than 5 % of it is slow, p95 is slow too (seen at the
    # next recomputation of the percentile, every window / 10 = 10 additions).
    assert 6 <= len(slow) <= 16
    assert feed(detector, [4000.0, 4500.0]) == []
    # The fast calls have left the window entirely.
    assert feed(detector, normal(10, seed=2)) == []


def test_errors_zero_durations_and_other_kinds_are_ignored() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    feed(detector, normal(100))
    assert feed(detector, [60_000.0], status_code="Error") == []
    assert feed(detector, [0.0]) == []
    assert detector.on_span(agent(duration_ms=60_000), SESSION) == ()
    assert detector.on_span(tool(duration_ms=60_000), SESSION) == ()
    # Error spans did not enter the window either.
    assert max(detector.snapshot()["windows"][0][3]) < 2000


def test_retrieval_spans_are_judged() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    for d in normal(60):
        assert detector.on_span(retrieval(duration_ms=d / 10), SESSION) == ()
    assert detector.on_span(retrieval(duration_ms=2000), SESSION) != ()


def test_thresholds_per_model_via_overrides() -> None:
    config = LatencyOutlierConfig(overrides=[{"match": {"model": "o3"}, "factor": 10, "min_samples": 20}])
    detector = LatencyOutlierDetector(config)
    feed(detector, normal(30), request_model="o3")
    assert feed(detector, [6000.0], request_model="o3") == []  # 6 s < 10 × p95
    [signal] = feed(detector, [20_000.0], request_model="o3")
    assert signal.evidence["factor"] == 10
    feed(detector, normal(30), request_model="gpt-4o")
    assert feed(detector, [6000.0], request_model="gpt-4o") == []  # 30 < the default min_samples


def test_snapshot_is_json_and_restores_the_windows() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig())
    feed(detector, normal(80), service_name="a")
    state = json.loads(json.dumps(detector.snapshot()))
    assert state["version"] == 2
    restored = LatencyOutlierDetector(LatencyOutlierConfig())
    restored.restore(state)
    assert restored.snapshot() == state
    assert len(feed(restored, [6000.0], service_name="a")) == 1
    fresh = LatencyOutlierDetector(LatencyOutlierConfig())
    fresh.restore({"version": 99, "windows": state["windows"]})
    assert fresh.snapshot()["windows"] == []


def test_restore_keeps_the_newest_durations_of_a_smaller_window() -> None:
    big = LatencyOutlierDetector(LatencyOutlierConfig(window=200))
    feed(big, [float(i + 1) for i in range(200)])
    small = LatencyOutlierDetector(LatencyOutlierConfig(window=100))
    small.restore(big.snapshot())
    [(service, _, _, durations), *_] = small.snapshot()["windows"]
    assert (service, len(durations)) == ("svc", 100)
    assert (durations[0], durations[-1]) == (101.0, 200.0)


def test_the_number_of_windows_is_bounded() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig(max_keys=3))
    for model in ("m1", "m2", "m3", "m4"):
        feed(detector, [100.0], request_model=model, service_name="")
    assert [w[1] for w in detector.snapshot()["windows"]] == ["m2", "m3", "m4"]


def test_min_samples_cannot_exceed_the_window() -> None:
    with pytest.raises(
        ValidationError, match=r"latency_outlier\.min_samples` must be ≤ `window` \(got 600 > 500\)"
    ):
        LatencyOutlierConfig(min_samples=600)


def test_a_span_is_judged_against_its_peers_not_itself() -> None:
    detector = LatencyOutlierDetector(LatencyOutlierConfig(min_samples=10, window=10, percentile=1.0))
    feed(detector, [1000.0] * 10)
    s: CanonicalSpan = llm(duration_ms=3500)
    assert len(detector.on_span(s, SESSION)) == 1
