"""Detector time is sampled: one batch in ``SAMPLE_EVERY`` runs through timed hooks, and its
totals count for the batches that were not timed."""

from __future__ import annotations

import time

from tracesieve.collector.analysis_host import build_processor, process_and_advance
from tracesieve.collector.config import ProcessorsConfig
from tracesieve.collector.contracts import KIND_LLM, CanonicalSpan
from tracesieve.collector.telemetry import detector_time

S = 1_000_000_000


def _batch(n: int, size: int) -> list[CanonicalSpan]:
    at = time.time_ns() - 3600 * S + n * 60 * S
    return [
        CanonicalSpan(
            trace_id=f"{n:016x}{i:016x}",
            span_id=f"{n:08x}{i:08x}",
            parent_span_id="",
            name="chat",
            start_ns=at,
            end_ns=at + S,
            kind=KIND_LLM,
            session_id=f"s{i}",
            input_messages=[{"role": "user", "content": f"Where is order {n}-{i}?"}],
            output_text="It shipped yesterday.",
        )
        for i in range(size)
    ]


def test_one_batch_in_sample_every_is_timed_and_counts_for_the_others() -> None:
    processor = build_processor(ProcessorsConfig())
    refusal = next(d for d in processor._detectors if d.name == "refusal")
    slot = detector_time._local["refusal"]
    seconds, calls = slot
    every = detector_time.SAMPLE_EVERY
    seen: list[float] = []
    for n in range(2 * every):
        process_and_advance(processor, _batch(n, 5))
        seen.append(slot[1])
        assert "on_span" not in vars(refusal)  # the class's hook again after every batch
    # Batches 0 and SAMPLE_EVERY were timed: 5 calls each, each counted SAMPLE_EVERY times.
    assert seen[0] - calls == 5 * every
    assert seen[every - 1] == seen[0]
    assert seen[every] - seen[every - 1] == 5 * every
    assert seen[-1] == seen[every]
    assert slot[0] > seconds


def test_a_processor_without_timing_runs_its_batches_as_they_are() -> None:
    processor = build_processor(ProcessorsConfig())
    detector_time._samplers.pop(processor)
    before = detector_time._local["refusal"][1]
    process_and_advance(processor, _batch(0, 3))
    assert detector_time._local["refusal"][1] == before
