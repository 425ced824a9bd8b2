"""user_correction: the next user turn says the previous answer was wrong."""

from __future__ import annotations

import pytest
from tracesieve.processors.detectors.user_correction import (
    UserCorrectionConfig,
    UserCorrectionDetector,
    classify_correction,
    factory,
)

from ._text_factories import turn

ANSWER = "The free plan allows 5 projects and the API limit is 100 requests per minute."

CORRECTIONS = [
    "that's wrong",
    "No, that's not right.",
    "That's incorrect.",
    "You're mistaken, the fee is $10.",
    "Actually it's 30 days, not 14.",
    "Actually, the limit is 10.",
    "That's not true",
    "That didn't work",
    "Wrong answer.",
    "You made a mistake in the total.",
    "This is outdated, the API changed in v3.",
    "That's not what the docs say.",
    "No — the limit is 10, not 5",
    "I tried that and it still crashes.",
    "Hmm, I don't think that's right.",
    "The docs say the timeout is 30 seconds.",
    "It's still not working.",
    "That option doesn't exist in the menu.",
    "nope, that's wrong",
    "Incorrect, the store closes at 9.",
    "According to the website, shipping is free over $35.",
    "You gave me the wrong link.",
    "No, it costs $20, not $15.",
    "That can't be right, my balance was higher.",
    "Are you sure? I thought it was free.",
    "That's not accurate, we moved offices last year.",
    "that's no longer true since the update",
    "The command you gave me throws an error: that gave me an error",
]

NOT_CORRECTIONS = [
    "No, thanks",
    "no worries",
    "No problem, what about returns?",
    "That's right, thanks!",
    "Actually, can you also check my order status?",
    "Actually, I'd like to book for 3 people instead.",
    "What's wrong with my code?",
    "I got the wrong size, how do I return it?",
    "Is it wrong to take ibuprofen every day?",
    "No, I don't have an account yet",
    "Sorry, I meant Rome, not Paris.",
    "Thanks, that worked!",
    "Great, that fixed it.",
    "nothing wrong with it, I'm just curious",
    "Can you explain that again?",
    "Ok, and how do I update my address?",
    "No, that's all for today.",
    "Why is my payment failing?",
    "Perfect. Is there a student discount?",
    "I think I entered the wrong password, how do I reset it?",
]


@pytest.mark.parametrize("message", CORRECTIONS)
def test_corrections_fire(message: str) -> None:
    detector = UserCorrectionDetector(UserCorrectionConfig())
    [signal] = detector.on_pair(turn("What are the free plan limits?", ANSWER), turn(message, index=1), 1)
    assert signal.score >= 0.5


@pytest.mark.parametrize("message", NOT_CORRECTIONS)
def test_hard_negatives_do_not_fire(message: str) -> None:
    detector = UserCorrectionDetector(UserCorrectionConfig())
    assert detector.on_pair(turn("What are the free plan limits?", ANSWER), turn(message, index=1), 1) == ()


def test_a_no_that_answers_the_assistants_question_is_not_a_correction() -> None:
    detector = UserCorrectionDetector(UserCorrectionConfig())
    asked = turn("I want to open an account", "Sure! Do you already have an online banking login?")
    assert detector.on_pair(asked, turn("No, the branch set it up for me last year", index=1), 1) == ()
    told = turn("What's the transfer limit?", "The daily transfer limit is $5,000.")
    assert detector.on_pair(told, turn("No, the limit is $10,000 for premium accounts", index=1), 1)


def test_only_consecutive_turns_with_an_answer() -> None:
    detector = UserCorrectionDetector(UserCorrectionConfig())
    assert detector.on_pair(turn("Q", ANSWER), turn("That's wrong.", index=2), 2) == ()
    assert detector.on_pair(turn("Q", has_answer=False), turn("That's wrong.", index=1), 1) == ()


def test_signal_and_evidence() -> None:
    earlier = turn("What are the free plan limits?", ANSWER)
    later = turn("No — the limit is 10, not 5", index=1)
    [signal] = UserCorrectionDetector(UserCorrectionConfig()).on_pair(earlier, later, 1)
    assert (signal.signal, signal.category) == ("user_correction", "unhelpful_answer")
    assert (signal.span_id, signal.trace_id) == (earlier.answer_span_id, earlier.trace_id)
    ev = signal.evidence
    assert ev["kind"] == "contradict" and ev["phrase"] == "is 10, not 5"
    assert ev["later_trace_id"] == later.trace_id and ev["later_user_message"] == later.user_message
    assert ev["earlier_answer"] == ANSWER


def test_scores_rank_explicit_over_doubt() -> None:
    wrong = classify_correction("That's wrong.")
    doubt = classify_correction("Are you sure?")
    assert wrong is not None and doubt is not None and wrong.score > doubt.score
    detector = factory.create(UserCorrectionConfig(min_score=0.7))
    assert detector.on_pair(turn("Q", ANSWER), turn("Are you sure?", index=1), 1) == ()
    assert factory.name == "user_correction"


def test_quoted_text_is_not_the_users_claim() -> None:
    assert classify_correction('How do I fix the error "that is incorrect" in Excel?') is None
