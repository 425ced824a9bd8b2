"""regenerate: the same prompt answered again, soon after, whatever the app calls it."""

from __future__ import annotations

import pytest
from tracesieve.processors.detectors.regenerate import (
    RegenerateConfig,
    RegenerateDetector,
    factory,
    same_prompt,
)

from ._text_factories import turn


def _fires(
    u1: str, u2: str, *, gap_s: float = 30.0, counts: tuple[int, int] = (0, 0), distance: int = 1
) -> bool:
    earlier = turn(u1, "An answer.", start_s=0, duration_s=2, message_count=counts[0])
    later = turn(u2, "Another answer.", start_s=2 + gap_s, message_count=counts[1], index=distance)
    return bool(RegenerateDetector(RegenerateConfig()).on_pair(earlier, later, distance))


SAME = [
    ("How do I cancel my subscription?", "How do I cancel my subscription?"),
    ("how do i cancel my subscription", "How do I cancel my subscription??"),
    ("What's the refund policy?", "whats the refund policy"),
    ("Write a haiku about autumn", "write a haiku about autumn."),
    ("How do I recieve my refund?", "How do I receive my refund?"),
    ("Can you summarize this article please", "Can you summarize this article"),
    ("What is the status of order ORD-1234?", "what is the status of order ORD-1234"),
    ("Explain   the difference between TCP and UDP", "Explain the difference between TCP and UDP"),
    ("Translate 'good morning' to Spanish", "Translate 'good morning' to Spanish!"),
    ("What are the side effects of ibuprofen", "What are the side-effects of ibuprofen?"),
    # a typo in a name: the same place, mistyped
    ("What time does the Amsterdam store close?", "What time does the Amsterdma store close?"),
    ("Is the Lisbon office open on Sundays?", "Is the Lsibon office open on Sundays?"),
]

DIFFERENT = [
    ("What is the status of order ORD-1234?", "What is the status of order ORD-1235?"),
    ("How much does the basic plan cost?", "How much does the pro plan cost?"),
    ("What's the weather in Paris?", "What's the weather in Rome?"),
    ("Convert 100 USD to EUR", "Convert 150 USD to EUR"),
    ("How do I cancel my order?", "How do I track my order?"),
    ("Book a table for 2 at 7pm", "Book a table for 2 at 8pm"),
    ("How do I cancel my subscription?", "I want to stop paying for my plan, how?"),
    # names that share letters but are not one typo apart
    ("What's the weather in Austria?", "What's the weather in Australia?"),
    ("Is the Paris office open on Sunday?", "Is the Parma office open on Sunday?"),
]


@pytest.mark.parametrize(("u1", "u2"), SAME)
def test_identical_and_near_identical_prompts_fire(u1: str, u2: str) -> None:
    assert _fires(u1, u2)


@pytest.mark.parametrize(("u1", "u2"), DIFFERENT)
def test_different_questions_sharing_a_template_do_not_fire(u1: str, u2: str) -> None:
    assert not _fires(u1, u2)


@pytest.mark.parametrize(
    "message", ["thanks", "ok", "yes", "continue", "hi", "Thank you!", "tell me more", "go on"]
)
def test_short_conversational_messages_do_not_fire(message: str) -> None:
    assert not _fires(message, message)


def test_a_conversational_message_resent_with_the_same_history_is_a_retry() -> None:
    assert _fires("continue", "continue", counts=(5, 5))
    assert not _fires("continue", "continue", counts=(5, 7))


def test_the_window_is_measured_from_the_earlier_end_to_the_later_start() -> None:
    assert _fires("How do I cancel my subscription?", "How do I cancel my subscription?", gap_s=599)
    assert not _fires("How do I cancel my subscription?", "How do I cancel my subscription?", gap_s=601)
    # the same conversation re-sent (equal message count, with history) has a longer window
    assert _fires(
        "How do I cancel my subscription?", "How do I cancel my subscription?", gap_s=3600, counts=(4, 4)
    )
    assert not _fires(
        "How do I cancel my subscription?", "How do I cancel my subscription?", gap_s=3600, counts=(4, 6)
    )


def test_score_and_evidence() -> None:
    detector = RegenerateDetector(RegenerateConfig())
    earlier = turn("What's the refund policy?", start_s=0, message_count=4)
    resent = turn("What's the refund policy?", start_s=10, message_count=4, index=1)
    [signal] = detector.on_pair(earlier, resent, 1)
    assert (signal.signal, signal.category, signal.score) == ("regenerate", "unhelpful_answer", 1.0)
    assert (signal.span_id, signal.trace_id) == (earlier.answer_span_id, earlier.trace_id)
    ev = signal.evidence
    assert ev["same_history"] and ev["identical"] and ev["similarity"] == 1.0
    assert ev["later_trace_id"] == resent.trace_id and ev["gap_s"] == pytest.approx(8.0)
    assert ev["earlier_user_message"] == ev["later_user_message"] == "What's the refund policy?"
    asked_again = turn("What's the refund policy?", start_s=10, message_count=6, index=1)
    [identical] = detector.on_pair(earlier, asked_again, 1)
    assert identical.score == 0.9
    typo = turn("Whats the refnd policy?", start_s=10, index=1)
    [near] = detector.on_pair(earlier, typo, 1)
    assert 0.7 <= near.score < 0.9 and not near.evidence["identical"]
    [far] = detector.on_pair(earlier, asked_again, 2)
    assert far.score < identical.score and far.evidence["distance"] == 2


def test_needs_an_earlier_answer_and_messages() -> None:
    detector = RegenerateDetector(RegenerateConfig())
    no_answer = turn("What's the refund policy?", start_s=0, has_answer=False)
    assert detector.on_pair(no_answer, turn("What's the refund policy?", start_s=10, index=1), 1) == ()
    assert detector.on_pair(turn("", start_s=0), turn("", start_s=10, index=1), 1) == ()


def test_same_prompt_reports_similarity() -> None:
    same, similarity, identical = same_prompt("How do I reset my password", "How do I reset my pasword")
    assert same and not identical and similarity >= 0.9


def test_factory_and_per_service_window() -> None:
    config = RegenerateConfig(overrides=[{"match": {"service": "batch"}, "window_s": 5}])
    detector = factory.create(config)
    assert factory.name == "regenerate"
    pair = (turn("Summarise this", start_s=0, service="batch"), turn("Summarise this", start_s=30, index=1))
    assert detector.on_pair(*pair, 1) == ()
    pair = (turn("Summarise this", start_s=0), turn("Summarise this", start_s=30, index=1))
    assert detector.on_pair(*pair, 1)
