"""refusal: the model refused or deflected — provider field, refusal phrases, deflections."""

from __future__ import annotations

import pytest
from tracesieve.collector.contracts import KIND_RETRIEVAL, KIND_TOOL
from tracesieve.processors.detectors.refusal import (
    _DEFLECT_NEEDLES,
    _NEEDLES,
    RefusalConfig,
    RefusalDetector,
    classify_refusal,
    factory,
)

from ._text_factories import llm_span

REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I cannot assist with that request.",
    "I'm unable to provide medical diagnoses.",
    "As an AI language model, I can't browse the internet.",
    "I don't have access to your account details.",
    "I can't provide that information.",
    "I'm not able to share internal pricing details.",
    "Please contact customer support for help with that.",
    "I don't know.",
    "Unfortunately, I'm not able to process refunds in this chat.",
    "I'm sorry to hear that, but I cannot change your booking.",
    "I can only help with questions about our products.",
    "I apologize, but I won't be able to help with that request.",
    "Sorry, I can't discuss other customers' orders. Is there anything else I can help you with?",
    "I'm not sure.",
    "I don't have real-time information about flight delays. Please check with your airline.",
    "That's not something I can help with.",
    "You should consult your doctor about that.",
    "I must decline to answer that question.",
    "I couldn't find any information about that.",
    "For questions about your salary, please contact HR.",
    "I'm afraid I can't give legal advice. I'd recommend speaking with a lawyer.",
]

NOT_REFUSALS = [
    "I can't wait to help! Your order ships tomorrow.",
    "Sorry for the confusion — here is the corrected answer: the limit is 10 requests per minute, and "
    "you can raise it under Settings > Limits.",
    "I can't see your screen, but here are the steps:\n1. Open Settings.\n2. Click Network.\n3. Toggle it.",
    "If the bot says 'I cannot help', restart it.",
    'If the bot says "I cannot help", restart it and try again.',
    "I'm unable to reproduce the bug with version 2.1; try upgrading to 2.2 and clearing the cache.",
    "I don't have access to your account, but you can reset your password yourself: 1. Go to the login "
    "page. 2. Click Forgot password. 3. Follow the link in the email.",
    "I'm not sure, but I think the limit is 5 per day.",
    "I'm not sure what you mean. Could you tell me which order you are asking about?",
    "Your refund of $25 was issued on March 3 and should arrive in 5-7 business days.",
    "Great question! Python lists are ordered and mutable. Use append() to add an item.",
    "You can cancel anytime from Settings > Billing. If you have problems, contact customer support and "
    "they will cancel it for you within 24 hours; you keep access until the end of the period.",
    "The app can't open files larger than 2 GB, so split the archive first with `split -b 1G`.",
    "Unfortunately the flight is delayed by 2 hours; the new departure time is 5:40 PM from gate B12.",
    "Here's how to dispute a charge: open the transaction, tap Dispute, choose a reason and submit.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_and_deflections_fire(text: str) -> None:
    [signal] = RefusalDetector(RefusalConfig()).on_span(llm_span(text), "s-1")
    assert signal.score >= 0.5


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_hard_negatives_do_not_fire(text: str) -> None:
    assert RefusalDetector(RefusalConfig()).on_span(llm_span(text), "s-1") == ()


def test_provider_refusal_field_scores_one_with_evidence() -> None:
    span = llm_span("", refusal="I can't help with creating malware.")
    [signal] = RefusalDetector(RefusalConfig()).on_span(span, "sess-9")
    assert (signal.signal, signal.category, signal.score) == ("refusal", "refusal", 1.0)
    assert (signal.span_id, signal.trace_id, signal.session_id) == (span.span_id, span.trace_id, "sess-9")
    assert signal.evidence["kind"] == "refusal_field"
    assert signal.evidence["refusal"] == span.refusal


def test_evidence_names_the_phrase_and_the_substance() -> None:
    span = llm_span("I'm sorry, but I cannot assist with that.")
    [signal] = RefusalDetector(RefusalConfig()).on_span(span, "s-1")
    assert signal.evidence["kind"] == "refuse"
    assert signal.evidence["phrase"] == "i cannot assist"
    assert signal.evidence["substance_chars"] == 0
    assert signal.evidence["span_id"] == span.span_id


def test_more_substance_lowers_the_score() -> None:
    bare = classify_refusal("I can't provide exact figures.")
    some = classify_refusal(
        "I can't provide exact figures. Our standard plan starts at about twenty dollars a month, and the "
        "team plan is a little more."
    )
    assert bare is not None and some is not None and bare.score > some.score


def test_non_llm_spans_and_empty_answers_are_skipped() -> None:
    detector = RefusalDetector(RefusalConfig())
    assert detector.on_span(llm_span("I can't help with that.", kind=KIND_TOOL), "s") == ()
    assert detector.on_span(llm_span("I can't help with that.", kind=KIND_RETRIEVAL), "s") == ()
    assert detector.on_span(llm_span(""), "s") == ()


def test_deflection_only_counts_in_short_answers() -> None:
    text = "Please contact customer support for help with that."
    assert RefusalDetector(RefusalConfig(deflection_max_chars=20)).on_span(llm_span(text), "s") == ()


def test_factory_and_per_model_override() -> None:
    config = RefusalConfig(overrides=[{"match": {"model": "lenient"}, "min_score": 0.95}])
    detector = factory.create(config)
    assert factory.name == "refusal"
    text = "I don't have access to your account details."
    assert detector.on_span(llm_span(text), "s")
    assert detector.on_span(llm_span(text, model="lenient"), "s") == ()


# Most answers are ruled out by a few substring tests before any regex runs; these cases pin
# the verdicts of the full analysis that test must never pre-empt.
VARIANTS = [
    ("I CANNOT HELP WITH THAT.", "refuse"),
    ("I can\u2019t help with that.", "refuse"),
    ("I can\u02bct help with that, it\u2019s outside my scope.", "refuse"),
    ("Thanks for reaching out.  I have no idea, sorry.", "dont_know"),
    ("As an AI\nlanguage model, I do not have opinions.", "as_ai"),
    ("Sure. " * 45 + "I'm unable to process refunds here.", "refuse"),
    ("Here is the summary of your plan. " * 20 + "I cannot help with that.", None),
    ("That's outside my area; please contact our support team.", "deflect"),
    ("For billing questions, please call the billing team.", None),
    ("Refunds are issued to the original payment method within 5 to 7 business days. " * 6, None),
]


@pytest.mark.parametrize(("text", "kind"), VARIANTS)
def test_prechecked_variants_keep_their_verdicts(text: str, kind: str | None) -> None:
    match = classify_refusal(text)
    assert (match.kind if match else None) == kind


@pytest.mark.parametrize("text", REFUSALS + [t for t, k in VARIANTS if k])
def test_every_refusal_phrase_contains_a_precheck_needle(text: str) -> None:
    match = classify_refusal(text)
    assert match is not None
    assert any(n in match.phrase for n in _NEEDLES + _DEFLECT_NEEDLES)
