"""The bias report finds a planted length or hedging bias, and none on an unbiased judge."""

from __future__ import annotations

import random

import pytest
from tracesieve.evals.calibration.bias import hedging_bias, hedging_score, length_bias

N = 300
FILLER = [
    "the",
    "refund",
    "policy",
    "covers",
    "orders",
    "placed",
    "within",
    "thirty",
    "days",
    "of",
    "delivery",
]
HEDGED_OPENING = ["i", "think", "it", "might", "possibly"]


def answers(seed: int = 5) -> tuple[list[str], list[str], list[bool], list[int]]:
    """Human labels (half bad), answers of varied length, and which answers hedge.

    Hedging is independent of length: a hedged answer swaps its first words for a hedge, so it
    has as many words as it would have had."""
    rng = random.Random(seed)
    human, outputs, hedged, lengths = [], [], [], []
    for i in range(N):
        words = round(2 ** rng.uniform(2.5, 7.5))  # 6 to 180 words
        body = [FILLER[(i + k) % len(FILLER)] for k in range(words)]
        hedge = rng.random() < 0.35
        if hedge:
            body[: len(HEDGED_OPENING)] = HEDGED_OPENING
        human.append("bad" if i % 2 == 0 else "fine")
        outputs.append(" ".join(body) + ".")
        hedged.append(hedge)
        lengths.append(len(outputs[-1]))
    return human, outputs, hedged, lengths


def noisy(human: list[str], rng: random.Random, flip: float = 0.15) -> list[str]:
    return [("fine" if h == "bad" else "bad") if rng.random() < flip else h for h in human]


def test_no_bias_reported_on_an_unbiased_judge() -> None:
    human, outputs, _, _ = answers()
    judge = noisy(human, random.Random(1))
    length = length_bias(human, judge, outputs)
    hedging = hedging_bias(human, judge, outputs)
    assert not length.detected and not hedging.detected
    assert length.n == hedging.n == N
    assert length.summary.startswith("no length bias found")
    assert abs(length.effect or 0) < 0.2 and abs(hedging.effect or 0) < 0.2


def test_a_planted_length_bias_is_detected() -> None:
    # The judge says fine for long answers whatever the human label; otherwise it is the unbiased one.
    human, outputs, _, lengths = answers()
    base = noisy(human, random.Random(1))
    long_enough = sorted(lengths)[int(N * 0.6)]
    judge = ["fine" if n >= long_enough else j for j, n in zip(base, lengths, strict=True)]
    result = length_bias(human, judge, outputs)
    assert result.detected
    assert result.effect is not None and result.effect > 0.3
    assert result.p_value is not None and result.p_value < 1e-6
    assert "favours longer answers" in result.summary
    # Held fixed within the human label: the bad stratum shows it (fine rate, short half vs long half).
    bad = next(s for s in result.strata if s.human == "bad")
    assert bad.high_fine_rate is not None and bad.low_fine_rate is not None
    assert bad.high_fine_rate > bad.low_fine_rate + 0.4
    assert not hedging_bias(human, judge, outputs).detected


def test_a_planted_hedging_bias_is_detected() -> None:
    # The judge says bad for hedged answers whatever the human label.
    human, outputs, hedged, _ = answers()
    base = noisy(human, random.Random(1))
    judge = ["bad" if h else j for j, h in zip(base, hedged, strict=True)]
    result = hedging_bias(human, judge, outputs)
    assert result.detected
    assert result.effect is not None and result.effect > 0.3
    assert "favours confidently worded answers" in result.summary
    fine = next(s for s in result.strata if s.human == "fine")
    assert fine.low_name == "hedged" and fine.low_fine_rate == 0.0
    assert fine.high_fine_rate is not None and fine.high_fine_rate > 0.7
    assert not length_bias(human, judge, outputs).detected


def test_a_judge_that_favours_short_answers_is_reported_the_other_way() -> None:
    human, outputs, _, lengths = answers()
    short = sorted(lengths)[int(N * 0.3)]
    judge = [
        "bad" if n > short and h == "fine" and i % 2 else h
        for i, (h, n) in enumerate(zip(human, lengths, strict=True))
    ]
    result = length_bias(human, judge, outputs)
    assert result.detected and result.effect is not None and result.effect < 0
    assert "favours shorter answers" in result.summary


def test_too_little_to_tell_is_said_not_guessed() -> None:
    result = length_bias(["bad", "fine"], ["bad", "fine"], ["short", "a much longer answer"])
    assert not result.detected and result.p_value is None
    assert result.summary.startswith("not enough data")
    # Answers without text are left out.
    assert length_bias(["bad", "fine"], ["bad", "fine"], ["", " "]).n == 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("I think it might work, but I'm not sure.", 1),
        ("I\u2019m not sure this is right.", 1),
        ("It definitely works; of course you can.", -1),
        ("Refunds take five business days.", 0),
        ("Surely the answer is definitely 5, perhaps.", -1),
    ],
)
def test_hedging_score_counts_hedges_against_confident_markers(text: str, sign: int) -> None:
    score = hedging_score(text)
    assert (score > 0) - (score < 0) == sign


def test_not_sure_counts_once_as_a_hedge() -> None:
    assert hedging_score("not sure " + "word " * 18) == pytest.approx(100 / 20)
