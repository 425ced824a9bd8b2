"""The shared text utilities: folding, concepts, similarity, entities and their normalisation."""

from __future__ import annotations

import pytest
from tracesieve.processors.detectors._text import (
    SYNONYMS,
    Support,
    concepts,
    extract_entities,
    fold,
    is_question,
    one_typo,
    similar_words,
    stem,
    surface,
    surface_similarity,
    tokens,
)
from tracesieve.processors.detectors._text_answers import matched
from tracesieve.processors.detectors._text_lexicon import SYNONYM_GROUPS, SYNONYM_SENSES


def test_fold_and_surface_ignore_case_quotes_whitespace_and_punctuation() -> None:
    assert fold("  What\u2019s   the FEE\u2014now? ") == "what's the fee-now?"
    assert surface("What's the fee?") == surface("whats  the fee") == "whats the fee"
    assert surface_similarity("How do I cancel?", "how do i cancel") == 1.0
    assert surface_similarity("How do I recieve a refund?", "How do I receive a refund?") > 0.9
    assert surface_similarity("hello", "") == 0.0


def test_tokens_drop_possessives_but_keep_contractions() -> None:
    assert tokens("Acme's plan doesn't work") == ("acme", "plan", "doesn't", "work")


def test_stem_merges_inflections() -> None:
    assert stem("charges") == stem("charged") == stem("charging") == stem("charge")
    assert stem("deliveries") == stem("delivery")
    assert stem("stopped") == stem("stop")


def test_every_word_belongs_to_at_most_one_synonym_group() -> None:
    owner: dict[str, str] = {}
    for line in (*SYNONYM_GROUPS, *(line for line, _ in SYNONYM_SENSES)):
        words = line.split()
        for w in words:
            assert owner.setdefault(stem(w), words[0]) == words[0], (w, owner[stem(w)], words[0])
    # the senses of a two-sense word are concepts of the groups
    assert all(set(senses) <= set(SYNONYMS.values()) for _, senses in SYNONYM_SENSES)


def test_a_two_sense_word_matches_a_concept_of_either_sense() -> None:
    payment = concepts("payments going to Brazil")
    assert matched(payment, concepts("transfers to Brazil")) == list(payment)
    assert matched(payment, concepts("the fee to Brazil")) == list(payment)
    assert matched(concepts("the fee"), payment) == ["price"]
    assert matched(concepts("a parcel sent to Japan"), concepts("shipping a parcel to Japan")) == [
        "parcel",
        "send",
        "japan",
    ]
    assert not matched(concepts("payments"), concepts("shipping"))
    assert matched(concepts("how long am I covered"), concepts("warranty")) == ["cover"]
    # a concept both messages hold matches only itself: "payments" is not "send" here
    assert matched(concepts("send payments by API"), concepts("send reports by API")) == ["send", "api"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I cancel my subscription?", "I want to stop paying for my plan"),
        ("Can I get my money back?", "refund"),
        ("How do I log in?", "sign in help"),
        ("How much does shipping cost?", "delivery price"),
    ],
)
def test_concepts_map_synonyms_and_phrases_to_one_concept(a: str, b: str) -> None:
    assert set(concepts(b)) & set(concepts(a))


def test_concepts_drop_stop_and_filler_words() -> None:
    assert concepts("Hi, can you please tell me how I can get help with this?") == ()
    assert concepts("I want to know how to reset my password") == ("reset", "password")


def test_similar_words_accepts_variants_and_typos_only() -> None:
    assert similar_words("subscrib", "subscript")
    assert similar_words("recieve", "receive")
    assert not similar_words("paris", "rome")
    assert not similar_words("1234", "1235")


def test_is_question() -> None:
    assert is_question("how do I cancel")
    assert is_question("My order is late?")
    assert not is_question("thanks a lot")


def _keys(text: str) -> list[tuple[str, str]]:
    return [(e.kind, e.keys[0]) for e in extract_entities(text)]


def test_numbers_are_normalised_with_units_currency_and_percent() -> None:
    found = _keys("It costs $1,000.00, or 5 USD per unit, with 15% off and 2.5 million users.")
    assert ("number", "n:1000") in found and ("number", "n:5") in found
    assert ("number", "n:15") in found and ("number", "n:2.5") in found
    million = next(e for e in extract_entities("2.5 million users") if e.kind == "number")
    assert "n:2500000" in million.keys


def test_small_numbers_list_markers_and_steps_are_not_claims() -> None:
    text = "1. Open the app.\n2) Tap Settings.\nStep 3: choose one of 2 options."
    assert [k for k in _keys(text) if k[0] == "number"] == []
    assert ("number", "n:3") in _keys("Refunds take 3 business days.")
    assert {k for _, k in _keys("Shipping takes 5-7 business days.")} >= {"n:5", "n:7"}


def test_dates_in_any_format_share_a_key() -> None:
    iso = extract_entities("on 2024-03-05")[0]
    us = extract_entities("on March 5, 2024")[0]
    eu = extract_entities("on 5 March 2024")[0]
    slash = extract_entities("on 03/05/2024")[0]
    assert iso.keys[0] == us.keys[0] == eu.keys[0] == "d:2024-03-05"
    assert "d:2024-03-05" in slash.keys
    assert extract_entities("see you on Monday in March") == []


def test_times_identifiers_emails_urls_phones() -> None:
    found = dict((k, kind) for kind, k in _keys(
        "Order ORD-12345 ships at 9:00 AM; mail help@acme.com, see https://www.acme.com/returns/ "
        "or call 1-800-555-0199; use v2.3.1."
    ))  # fmt: skip
    assert found["i:ORD12345"] == "id"
    assert found["t:09:00"] == "time"
    assert found["e:help@acme.com"] == "email"
    assert found["u:acme.com/returns"] == "url"
    assert found["p:8005550199"] == "phone"
    assert found["v:2.3.1"] == "id"
    assert _keys("Enable 2FA and COVID-19 checks") == []


def test_names_skip_sentence_openers_common_words_months_and_possessives() -> None:
    text = "However, Acme's CEO Jane Doe moved to Paris. The Settings page is new."
    names = [e.keys for e in extract_entities(text) if e.kind == "name"]
    assert ("w:acme",) in names and ("w:jane", "w:doe") in names and ("w:paris",) in names
    assert all("w:however" not in k and "w:settings" not in k and "w:the" not in k for k in names)


def _supported(answer: str, context: str) -> list[bool]:
    support = Support([context])
    return [support.has(e) for e in extract_entities(answer)]


@pytest.mark.parametrize(
    ("answer", "context"),
    [
        ("It costs $1,000.", "The fee is 1000 USD."),
        ("It costs 1000 dollars.", "The fee is $1,000.00."),
        ("A $5 fee.", "A fee of 5.00 EUR."),
        ("Save 15%.", "Save 15 percent."),
        ("Returns within 30 days.", "Returns within thirty days."),
        ("1.5 million users", "1,500,000 users"),
        ("1,500,000 users", "1.5 million users"),
        ("Updated on March 5, 2024.", "updated 2024-03-05"),
        ("Updated on 5 March 2024.", "updated 03/05/2024"),
        ("Updated on 2024-03-05.", "Updated: March 5th, 2024"),
        ("Open at 9:00 AM.", "Hours: 9am-5pm"),
        ("Closes at 5 PM.", "Hours: 09:00-17:00"),
        ("Order ORD-12345 shipped.", '{"order_id": "ord_12345"}'),
        ("Order ORD12345 shipped.", "order ORD-12345"),
        ("Mail help@acme.com.", "Contact: HELP@ACME.COM"),
        ("See https://www.acme.com/returns/.", "docs at acme.com/returns"),
        ("Call 1-800-555-0199.", "phone (800) 555-0199"),
        ("Call 1 800 555 0142.", "phone 1-800-555-0142"),
        ("Acme's CEO Jane Doe.", "jane doe runs acme"),
        ("Version v2.3.1 fixed it.", "fixed in 2.3.1"),
    ],
)
def test_support_finds_the_same_fact_in_another_format(answer: str, context: str) -> None:
    assert _supported(answer, context) and all(_supported(answer, context))


@pytest.mark.parametrize(
    ("answer", "context"),
    [
        ("It costs $1,500.", "The fee is $1,000."),
        ("Refunds take 3 business days.", "Updated 2024-03-05; refunds take 5-7 business days."),
        ("Save 15.5%.", "Save 15 percent."),
        ("Updated on March 6, 2024.", "updated 2024-03-05"),
        ("Order ORD-12346 shipped.", "order ORD-12345"),
        ("Call 1-800-555-0198.", "phone 1-800-555-0199"),
        ("John Smith approves it.", "Jane Smith approves refunds."),
        ("It is ready within 20 business days.", "The clinic is open until 20:00."),
    ],
)
def test_support_rejects_a_different_fact(answer: str, context: str) -> None:
    assert not all(_supported(answer, context))


def test_contractions_of_i_are_not_names() -> None:
    # mid-sentence "I'm" is capitalised like a name, and is none
    for text in ("What I'm asking is: the fee?", "So I\u2019ve tried, and I'd like the fee. I'll wait."):
        assert [e for e in extract_entities(text) if e.kind == "name"] == []
    assert [e.text for e in extract_entities("What I'm asking: is Lisbon open?") if e.kind == "name"] == [
        "Lisbon"
    ]


def test_one_typo_is_one_letter_inserted_dropped_replaced_or_swapped() -> None:
    assert one_typo("singapore", "signapore") and one_typo("amsterdam", "amsterdma")
    assert one_typo("lisbon", "lisbn") and one_typo("london", "lundon") and one_typo("berlin", "berlin")
    assert not one_typo("austria", "australia")  # a shared prefix is not a typo
    assert not one_typo("paris", "parma") and not one_typo("rome", "roma")  # two edits; too short
    assert not one_typo("12345", "12346")
