"""Deterministic keys, and the near-duplicate signature of a question."""

from __future__ import annotations

import math

import pytest
from tracesieve.processors.sampling import (
    as_float32,
    content_words,
    item_hash,
    question_signature,
    reservoir_key,
)
from tracesieve.processors.sampling.keys import unit_interval


def test_keys_depend_on_the_seed_and_the_turn_only() -> None:
    a = item_hash(0, "AB" * 16, "CD" * 8)
    assert a == item_hash(0, "ab" * 16, "cd" * 8)  # ids compare lower-case
    assert a != item_hash(1, "ab" * 16, "cd" * 8)
    assert a != item_hash(0, "ab" * 16, "ce" * 8)
    assert 0 <= a < 1 << 64


@pytest.mark.parametrize("h", [0, 1, (1 << 64) - 1, 1 << 63])
def test_the_uniform_is_strictly_inside_0_1(h: int) -> None:
    assert 0.0 < unit_interval(h) < 1.0
    assert math.isfinite(reservoir_key(h, 0.0))


def test_a_heavier_weight_raises_the_key() -> None:
    h = item_hash(3, "t", "s")
    assert reservoir_key(h, 0.9) > reservoir_key(h, 0.5) > reservoir_key(h, 0.1)


def test_weights_round_as_the_float32_column() -> None:
    assert as_float32(0.1) != 0.1 and as_float32(as_float32(0.1)) == as_float32(0.1)


@pytest.mark.parametrize(
    "a, b",
    [
        ("How do I reset my password?", "how can I reset my password please"),
        ("How do I reset my password?", "Password reset?"),
        ("What's the refund policy?", "Refund policies"),
        ("Café opening hours", "cafe opening hours!!"),
        ("Export all invoices as CSV", "export invoices csv"),
    ],
)
def test_near_duplicates_share_a_signature(a: str, b: str) -> None:
    assert question_signature(a) == question_signature(b) is not None


@pytest.mark.parametrize(
    "a, b",
    [
        ("How do I reset my password?", "How do I reset my password on iOS?"),
        ("Why does the export work?", "Why does the export not work?"),
        ("Error 404 on login", "Error 500 on login"),
        ("why?", "how?"),
    ],
)
def test_different_questions_differ(a: str, b: str) -> None:
    assert question_signature(a) != question_signature(b)


def test_empty_questions_have_no_signature() -> None:
    assert question_signature("") is None and question_signature("  ?! ") is None
    assert content_words("Why?") == ("why",)  # only function words: the words themselves
