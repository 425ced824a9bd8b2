"""ungrounded_answer: entities in the answer found in neither the input nor the retrieved context."""

from __future__ import annotations

from typing import Any

import pytest
from tracesieve.processors.detectors.ungrounded_answer import (
    UngroundedAnswerConfig,
    UngroundedAnswerDetector,
    factory,
    unsupported_entities,
)

from ._text_factories import view

POLICY = (
    "Return policy: items can be returned within 30 days of delivery. Refunds are issued to the original "
    "payment method within 5-7 business days. A restocking fee of $15 applies to opened electronics. "
    "Questions: returns@acme.com. Policy updated 2024-03-05."
)


def _judge(question: str, answer: str, **kwargs: Any) -> list[dict[str, str]] | None:
    signals = UngroundedAnswerDetector(UngroundedAnswerConfig()).on_turn(view(question, answer, **kwargs))
    return signals[0].evidence["unsupported"] if signals else None


@pytest.mark.parametrize(
    "answer",
    [
        "You can return items within 30 days of delivery; refunds take 5-7 business days.",
        "Items can be returned within thirty days, and opened electronics carry a $15.00 restocking fee.",
        "A 15 USD restocking fee applies to opened electronics. Email returns@acme.com with questions.",
        "The policy was last updated on March 5, 2024.",
        "The policy was last updated on 5 March 2024 and allows returns for 30 days.",
        "Returns are easy! Start one from your account page.",
        "1. Open your orders.\n2. Pick the item.\n3. Print the label. You have one of two options.",
        "Sure — the Acme return window is 30 days.",
    ],
)
def test_grounded_answers_do_not_fire(answer: str) -> None:
    assert _judge("What is your return policy at Acme?", answer, documents=[POLICY]) is None


@pytest.mark.parametrize(
    ("answer", "unsupported"),
    [
        ("You can return items within 60 days.", ["60"]),
        ("Refunds take 3 business days.", ["3"]),
        ("Call us at 1-800-555-0199.", ["1-800-555-0199"]),
        ("See https://acme.com/returns/form for the form.", ["https://acme.com/returns/form"]),
        ("Your return RMA-88231 was approved.", ["RMA-88231"]),
        ("The policy changed on April 1, 2024.", ["April 1, 2024"]),
        ("Refunds take 10 business days and cost a 20% fee.", ["10", "20%"]),
        ("Our manager Sarah Connor approves returns within 30 days; Michael Dorn handles refunds.",
         ["Sarah Connor", "Michael Dorn"]),
    ],
)  # fmt: skip
def test_unsupported_entities_fire(answer: str, unsupported: list[str]) -> None:
    found = _judge("What is your return policy?", answer, documents=[POLICY])
    assert found is not None
    assert [e["text"] for e in found] == unsupported


def test_a_lone_unsupported_name_is_below_the_bar() -> None:
    assert _judge("Who handles returns?", "Returns are handled by Sarah.", documents=[POLICY]) is None


def test_numbers_from_the_question_and_history_are_supported() -> None:
    history = [
        {"role": "user", "content": "My order number is 884213."},
        {"role": "assistant", "content": "Thanks, I found order 884213."},
    ]
    answer = "Order 884213 for 42 units can be returned within 30 days."
    assert _judge("Can I return 42 units?", answer, documents=[POLICY], history=history) is None


def test_tool_results_and_arguments_are_support() -> None:
    result = '{"order_id": "ORD-12345", "status": "shipped", "ship_date": "2024-03-05", "carrier": "UPS"}'
    answer = "Order ORD-12345 shipped on March 5, 2024 with UPS."
    assert _judge("Where is ORD-12345?", answer, tool_results=[result]) is None
    attrs = {"gen_ai.tool.call.arguments": '{"city": "Lisbon"}', "gen_ai.tool.call.result": '{"temp_c": 21}'}
    assert _judge("Weather?", "It is 21°C in Lisbon right now.", tool_attributes=attrs) is None
    assert _judge("Weather?", "It is 25°C in Lisbon right now.", tool_attributes=attrs) == [
        {"kind": "number", "text": "25°C"}
    ]


def test_derived_arithmetic_is_accepted() -> None:
    answer = "Three returns at the $15 fee each: 3 items × $15 = $45 in total."
    signals = UngroundedAnswerDetector(UngroundedAnswerConfig()).on_turn(
        view("I'm returning 3 opened items, what fees?", answer, documents=[POLICY])
    )
    assert signals == ()
    assert [e.text for e in unsupported_entities(answer, [POLICY, "3 opened items"])[2]] == ["$45"]


def test_plain_chat_without_context_is_not_judged() -> None:
    assert _judge("Tell me a fun fact", "The Eiffel Tower is 330 metres tall and opened in 1889.") is None
    short_system = "You are a helpful assistant."
    assert _judge("Fact?", "It opened in 1889.", system=short_system) is None


def test_a_substantial_system_prompt_is_context() -> None:
    system = "You are Acme's support assistant. Facts: " + POLICY
    assert _judge("How long for refunds?", "Refunds take 5-7 business days.", system=system) is None
    assert _judge("How long for refunds?", "Refunds take 14 business days.", system=system) == [
        {"kind": "number", "text": "14"}
    ]


def test_an_empty_retrieval_is_judged_unless_configured_off() -> None:
    turn = view("What's the warranty?", "The warranty lasts 24 months.", retrieval=True)
    [signal] = UngroundedAnswerDetector(UngroundedAnswerConfig()).on_turn(turn)
    assert signal.evidence["documents"] == 0
    assert UngroundedAnswerDetector(UngroundedAnswerConfig(judge_empty_retrieval=False)).on_turn(turn) == ()


def test_score_grows_with_the_unsupported_entities_and_evidence_counts() -> None:
    detector = UngroundedAnswerDetector(UngroundedAnswerConfig())
    one = detector.on_turn(view("Policy?", "Returns within 45 days.", documents=[POLICY]))
    three = detector.on_turn(
        view("Policy?", "Returns within 45 days, fee $9, ref RET-7781.", documents=[POLICY])
    )
    assert one[0].score == pytest.approx(0.6)
    assert three[0].score > 0.9
    ev = three[0].evidence
    assert ev["unsupported_count"] == 3 and ev["supported_count"] == 0 and ev["unsupported_share"] == 1.0
    assert ev["documents"] == 1
    assert (three[0].signal, three[0].category) == ("ungrounded_answer", "hallucination")


def test_signal_lands_on_the_answer_span_and_repeated_calls_agree() -> None:
    turn = view("Policy?", "Returns within 45 days.", documents=[POLICY])
    detector = UngroundedAnswerDetector(UngroundedAnswerConfig())
    first = detector.on_turn(turn)
    again = detector.on_turn(turn)
    assert first == again
    assert turn.answer is not None
    assert (first[0].span_id, first[0].trace_id) == (turn.answer.span_id, turn.answer.trace_id)
    assert first[0].evidence["answer_span_id"] == turn.answer.span_id


def test_factory_and_min_context_override() -> None:
    config = UngroundedAnswerConfig(overrides=[{"match": {"service": "shop-bot"}, "min_context_chars": 10}])
    detector = factory.create(config)
    assert factory.name == "ungrounded_answer"
    turn = view("Fact?", "It opened in 1889.", system="Facts: it opened in 1887.")
    assert detector.on_turn(turn)


# The support check compiles each claim into the literal forms that state it and looks for them
# with str.find; these cases pin the verdicts of the format-aware matching it replaced.
@pytest.mark.parametrize(
    ("answer", "context", "unsupported"),
    [
        ("The fee is $1,000.", "a fee of 1000 dollars applies", []),
        ("The fee is 1000 dollars.", "a fee of $1,000 applies", []),
        ("The fee is $1,000.", "a fee of 10000 dollars applies", ["$1,000"]),
        ("It was updated on March 5, 2024.", "updated 2024-03-05", []),
        ("It was updated on 2024-03-05.", "updated march 5th, 2024", []),
        ("It was updated on 5 March 2024.", "updated 03/05/2024", []),
        ("It was updated on March 6, 2024.", "updated 2024-03-05", ["March 6, 2024"]),
        ("It takes 14 days.", "it takes fourteen days", []),
        ("It takes fourteen days and 15 hours.", "it takes 14 days", ["15"]),
        ("We open at 9:00 AM.", "open 9am to 5pm", []),
        ("We open at 9 AM.", "open 9-5 on weekdays", []),
        ("It lasts 20 days.", "open until 20:00", ["20"]),
        ("Order ORD-12345 shipped.", "order ord_12345 shipped", []),
        ("Order ORD-12345 shipped.", "order ord_123456 shipped", ["ORD-12345"]),
        ("The price is 0.5 USD and 2.5 million users agree.", "0.5 usd; 2,500,000 users", []),
        ("Rates rose 5%.", "rates rose 5 percent", []),
        ("Rates rose 15%.", "rates rose 5 percent", ["15%"]),
        ("Call 1 800 555 0142.", "call (800) 555-0142", []),
        ("Please ask Jane Doe's team.", "jane doe leads the team", []),
        ("Please ask Jane Dow.", "jane doe leads the team", ["Jane Dow"]),
        ("It costs $5.", "it costs 5.00 usd", []),
        ("Visit acme.com/returns or email help@acme.com.", "see https://acme.com/returns, help@acme.com", []),
        ("Released in March 2024 as v2.1.0.", "version 2.1.0 shipped in march 2024", []),
    ],
)
def test_format_variants_give_the_same_verdicts(answer: str, context: str, unsupported: list[str]) -> None:
    found, _supported, _derived = unsupported_entities(answer, [context])
    assert [e.text for e in found] == unsupported


def test_a_cached_answer_is_judged_again_against_each_context() -> None:
    detector = UngroundedAnswerDetector(UngroundedAnswerConfig())
    answer = "Order ORD-12345 ships on March 9, 2024 for $89."
    bare = detector.on_turn(view("Where is my order?", answer, documents=[POLICY]))
    assert [e["text"] for e in bare[0].evidence["unsupported"]] == ["ORD-12345", "March 9, 2024", "$89"]
    result = '{"order": "ord_12345", "ship_date": "2024-03-09", "total": "89.00 USD"}'
    assert detector.on_turn(view("Where is my order?", answer, tool_results=[result])) == ()
    again = detector.on_turn(view("Where is my order?", answer, documents=[POLICY]))
    assert again[0].evidence == {
        **bare[0].evidence,
        **{k: again[0].evidence[k] for k in ("answer_span_id", "trace_id")},
    }


def test_a_large_turn_that_gains_no_kept_span_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past max_spans_per_turn the session state keeps no more spans but calls on_turn for each:
    # a large turn is judged once per set of spans; a small one (cheap to read) every time.
    detector = UngroundedAnswerDetector(UngroundedAnswerConfig())
    reads: list[int] = []
    judge = detector._judge
    monkeypatch.setattr(
        detector, "_judge", lambda turn, answer: reads.append(len(turn.spans)) or judge(turn, answer)
    )
    large = view("Policy?", "Returns within 45 days.", documents=[POLICY], tool_results=["ok"] * 40)
    small = view("Policy?", "Returns within 45 days.", documents=[POLICY])
    for _ in range(3):
        assert detector.on_turn(large)[0].evidence["unsupported"] == [{"kind": "number", "text": "45"}]
        assert detector.on_turn(small)[0].evidence["unsupported"] == [{"kind": "number", "text": "45"}]
    assert reads == [42, 2, 2, 2]
