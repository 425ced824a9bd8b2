"""The analysis worker's garbage-collection policy (:mod:`tracesieve.collector.state_gc`), and the
property it rests on: the session state, with every built-in detector, makes no reference
cycles, so what it drops is freed by reference counting even while frozen."""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Iterator

import pytest
from tracesieve.collector.analysis_host import build_processor, process_and_advance
from tracesieve.collector.config import ProcessorsConfig
from tracesieve.collector.contracts import KIND_LLM, KIND_RETRIEVAL, CanonicalSpan, Feedback
from tracesieve.collector.state_gc import StateGc

S = 1_000_000_000


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Leave the test process's collector as it found it."""
    yield
    gc.unfreeze()
    gc.enable()
    gc.set_debug(0)


def _spans(n: int, start_ns: int) -> list[CanonicalSpan]:
    """Turns that set off most detectors: refusals, rephrases, regenerations, errors, answers
    with figures not in their context, retrievals empty and weak, truncations."""
    questions = [
        "How do I cancel my subscription?",
        "How can I cancel my subscription plan?",
        "How can I cancel my subscription plan?",
        "What is the price of the pro plan?",
        "No, I meant the enterprise plan.",
    ]
    answers = [
        "I'm sorry, but I can't help with that.",
        "Go to Settings > Billing and press Cancel before 2024-05-01.",
        "Your plan costs $49 a month and includes 12 seats.",
        "Refunds take 5 to 7 business days.",
    ]
    spans: list[CanonicalSpan] = []
    for i in range(n):
        session = f"s{i % 7}"
        trace = f"{i:032x}"
        at = start_ns + i * 20 * S
        if i % 3 == 0:
            document = {"id": f"d{i}", "score": 0.1 * (i % 10), "content": "Plans: pro $20."}
            spans.append(
                CanonicalSpan(
                    trace_id=trace,
                    span_id=f"{i:015x}r",
                    parent_span_id="",
                    name="retrieve",
                    start_ns=at - S,
                    end_ns=at - S // 2,
                    kind=KIND_RETRIEVAL,
                    session_id=session,
                    retrieval_query=questions[i % len(questions)],
                    retrieved_documents=[document] if i % 2 else [],
                )
            )
        answer = answers[i % len(answers)]
        spans.append(
            CanonicalSpan(
                trace_id=trace,
                span_id=f"{i:016x}",
                parent_span_id="",
                name="chat",
                start_ns=at,
                end_ns=at + (2 + i % 9) * S // 2,
                kind=KIND_LLM,
                session_id=session,
                status_code="Error" if i % 11 == 0 else "Unset",
                request_model="gpt-4o-mini",
                input_messages=[{"role": "user", "content": questions[i % len(questions)]}],
                output_messages=[{"role": "assistant", "content": answer}],
                output_text=answer,
                finish_reasons=["length" if i % 13 == 0 else "stop"],
                response_id=f"resp-{i}",
                events=[(at, "exception", {"exception.type": "ValueError"})] if i % 11 == 0 else [],
            )
        )
    return spans


def test_the_session_state_makes_no_reference_cycles(unfrozen: None) -> None:
    """Everything the processor and its detectors keep, including what timers, feedback and
    eviction leave behind, is freed by reference counting alone."""
    start = time.time_ns() - 20 * 3600 * S
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what a collection finds, to name it on failure
    processor = build_processor(ProcessorsConfig())
    spans = _spans(400, start)
    for i in range(0, len(spans), 50):
        process_and_advance(processor, spans[i : i + 50])
    processor.add_feedback([Feedback("fb-1", start, "api", span_id=f"{5:016x}", thumbs="down")])
    processor.wait_for_target([Feedback("fb-2", start, "api", span_id="f" * 16, thumbs="down")])
    processor.observe_time(time.time_ns())  # past every timer and the session TTL
    process_and_advance(processor, [])
    assert processor.session_count == 0
    state = weakref.ref(processor)
    del processor, spans
    assert state() is None
    found = gc.collect()
    assert found == 0, sorted({type(o).__name__ for o in gc.garbage})


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_what_survives_a_batch_is_frozen_and_a_full_collection_comes_on_the_interval(
    unfrozen: None, caplog: pytest.LogCaptureFixture
) -> None:
    now = [100.0]
    state_gc = StateGc(600.0, clock=lambda: now[0])
    cycle = _Node()
    alive = weakref.ref(cycle)
    state_gc.after_batch()
    assert gc.get_freeze_count() > 0
    del cycle
    gc.collect()
    assert alive() is not None  # frozen: out of the collector's sight
    now[0] += 599.0
    state_gc.after_batch()
    assert alive() is not None
    now[0] += 1.0
    with caplog.at_level(logging.WARNING, logger="tracesieve.collector.state_gc"):
        state_gc.after_batch()
    assert alive() is None  # the full collection found it
    assert "reference cycles" in caplog.text
    assert gc.get_freeze_count() > 0  # and froze what is left again
