"""κ, agreement and confusion matrices: equal to scikit-learn's, and right on a worked example."""

from __future__ import annotations

import math
import random
import warnings

import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix
from tracesieve.evals.calibration.agreement import bootstrap_kappa_ci, measure


def _random_sets() -> list[tuple[list[str], list[str]]]:
    rng = random.Random(11)
    sets = []
    for n in (2, 5, 17, 60, 250):
        for agree in (0.5, 0.8, 0.95):
            human = [rng.choice(("bad", "fine")) for _ in range(n)]
            judge = [h if rng.random() < agree else ("fine" if h == "bad" else "bad") for h in human]
            sets.append((human, judge))
    return sets


DEGENERATE = [
    (["bad"] * 12, ["bad"] * 12),  # all one class, both sides: κ undefined
    (["fine"] * 7, ["fine"] * 6 + ["bad"]),  # humans one class only
    (["bad", "fine"] * 6, ["bad", "fine"] * 6),  # perfect agreement
    (["bad", "fine"] * 6, ["fine", "bad"] * 6),  # perfect disagreement
    (["bad"], ["bad"]),  # n = 1
    (["bad"], ["fine"]),
]


@pytest.mark.parametrize(("human", "judge"), _random_sets() + DEGENERATE)
def test_kappa_agreement_and_confusion_equal_scikit_learn(human: list[str], judge: list[str]) -> None:
    result = measure(human, judge, resamples=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected_kappa = cohen_kappa_score(human, judge, labels=["bad", "fine"])
    if math.isnan(expected_kappa):
        assert result.kappa is None
    else:
        assert result.kappa == pytest.approx(expected_kappa, abs=1e-12)
    assert result.agreement == pytest.approx(accuracy_score(human, judge), abs=1e-12)
    assert result.confusion == confusion_matrix(human, judge, labels=["bad", "fine"]).tolist()
    assert result.n == len(human)


def test_kappa_by_hand_on_the_grant_readers_example() -> None:
    # Wikipedia, "Cohen's kappa", worked example: 50 proposals, two readers; both yes 20, A yes /
    # B no 5, A no / B yes 10, both no 15. p_o = 35/50 = 0.7; p_yes = 0.5 * 0.6 = 0.3,
    # p_no = 0.5 * 0.4 = 0.2, p_e = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    human = ["bad"] * 25 + ["fine"] * 25  # reader A (yes = bad)
    judge = ["bad"] * 20 + ["fine"] * 5 + ["bad"] * 10 + ["fine"] * 15  # reader B
    result = measure(human, judge, resamples=50)
    assert result.kappa == pytest.approx(0.4, abs=1e-12)
    assert result.agreement == pytest.approx(0.7)
    assert result.confusion == [[20, 5], [10, 15]]
    assert (result.disagreement.too_lenient, result.disagreement.too_strict) == (5, 10)
    assert result.disagreement.lenient_rate == pytest.approx(5 / 25)
    assert result.disagreement.strict_rate == pytest.approx(10 / 25)


def _grant_example(copies: int) -> tuple[list[str], list[str]]:
    human = (["bad"] * 25 + ["fine"] * 25) * copies
    judge = (["bad"] * 20 + ["fine"] * 5 + ["bad"] * 10 + ["fine"] * 15) * copies
    return human, judge


def test_bootstrap_interval_contains_the_estimate_is_seeded_and_narrows_with_more_cases() -> None:
    human, judge = _grant_example(1)
    ci = bootstrap_kappa_ci(human, judge, resamples=400, seed=3)
    assert ci is not None and ci[0] < 0.4 < ci[1]
    assert bootstrap_kappa_ci(human, judge, resamples=400, seed=3) == ci
    assert bootstrap_kappa_ci(human, judge, resamples=400, seed=4) != ci
    big = bootstrap_kappa_ci(*_grant_example(10), resamples=400, seed=3)
    assert big is not None and big[0] < 0.4 < big[1]
    # Ten times the cases: about sqrt(10) ~ 3.2 times narrower.
    assert (big[1] - big[0]) < (ci[1] - ci[0]) / 2.5


def test_no_interval_without_variation_to_resample() -> None:
    assert bootstrap_kappa_ci(["bad"], ["bad"], resamples=100, seed=0) is None
    assert bootstrap_kappa_ci(["bad"] * 9, ["bad"] * 9, resamples=100, seed=0) is None
    assert measure(["bad"] * 9, ["bad"] * 9, resamples=100).kappa_ci is None


def test_direction_of_disagreement_on_a_planted_lenient_and_strict_judge() -> None:
    human = ["bad"] * 40 + ["fine"] * 40
    lenient = ["fine" if i % 5 < 2 else "bad" for i in range(40)] + ["fine"] * 39 + ["bad"]
    result = measure(human, lenient, resamples=50).disagreement
    assert (result.too_lenient, result.too_strict) == (16, 1)
    assert result.direction == "too lenient"
    assert result.lenient_rate == pytest.approx(0.4) and result.strict_rate == pytest.approx(1 / 40)
    assert result.p_value is not None and result.p_value < 0.001

    strict = ["bad"] * 40 + ["bad" if i % 4 == 0 else "fine" for i in range(40)]
    assert measure(human, strict, resamples=50).disagreement.direction == "too strict"
    balanced = ["fine"] * 3 + ["bad"] * 37 + ["bad"] * 3 + ["fine"] * 37
    assert measure(human, balanced, resamples=50).disagreement.direction == "no clear direction"
    assert measure(human, human, resamples=50).disagreement.direction == "no disagreement"


def test_labels_other_than_bad_and_fine_are_refused() -> None:
    with pytest.raises(ValueError, match="bad or fine"):
        measure(["bad", "pass"], ["bad", "fine"])
