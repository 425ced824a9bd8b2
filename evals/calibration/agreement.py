"""Agreement between a judge and human labels on the same cases (labels ``bad``/``fine``).

- ``agreement``: share of cases where both say the same (``sklearn.metrics.accuracy_score``).
- ``kappa``: Cohen's κ (``sklearn.metrics.cohen_kappa_score``); None when undefined (both
  sides used one and the same class, so chance agreement is 1).
- ``kappa_ci``: a 95% percentile bootstrap interval: ``resamples`` paired resamples of the
  cases (a case keeps its human label and its verdict together) drawn with
  ``numpy.random.default_rng(seed)``, κ of each by scikit-learn, resamples where κ is undefined
  left out; None with fewer than 2 cases or when most resamples are undefined.
- ``confusion``: ``sklearn.metrics.confusion_matrix``, rows the human label, columns the judge,
  in the order (bad, fine).
- ``disagreement``: *too lenient* = the judge says fine where humans say bad (rate over the
  human-bad cases), *too strict* = the judge says bad where humans say fine (rate over the
  human-fine cases); ``direction`` from an exact binomial test of lenient vs strict among the
  disagreements (McNemar's exact test; ``scipy.stats.binomtest``) at p < 0.05.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

__all__ = ["LABELS", "Agreement", "Disagreement", "bootstrap_kappa_ci", "kappa", "measure"]

LABELS = ("bad", "fine")
DIRECTION_ALPHA = 0.05


@dataclass(frozen=True)
class Disagreement:
    too_lenient: int
    lenient_rate: float | None
    too_strict: int
    strict_rate: float | None
    direction: str  # "too lenient" | "too strict" | "no clear direction" | "no disagreement"
    p_value: float | None


@dataclass(frozen=True)
class Agreement:
    n: int
    agreement: float | None
    kappa: float | None
    kappa_ci: tuple[float, float] | None
    confusion: list[list[int]]
    disagreement: Disagreement


def kappa(human: Sequence[str], judge: Sequence[str]) -> float | None:
    """Cohen's κ by scikit-learn; None where it is undefined (sklearn's NaN)."""
    if not human:
        return None
    with warnings.catch_warnings():
        # Undefined κ (one class on both sides) is reported as None, not as a warning.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        value = float(cohen_kappa_score(list(human), list(judge), labels=list(LABELS)))
    return None if math.isnan(value) else value


def bootstrap_kappa_ci(
    human: Sequence[str], judge: Sequence[str], *, resamples: int, seed: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Percentile interval of κ over paired resamples of the cases (see the module docstring)."""
    n = len(human)
    if n < 2 or resamples < 1:
        return None
    fine_h = np.asarray([h == "fine" for h in human], dtype=np.int64)
    fine_j = np.asarray([j == "fine" for j in judge], dtype=np.int64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    # A resample's κ depends only on its four cell counts (bad/bad, bad/fine, fine/bad, fine/fine):
    # compute each distinct one once.
    cells = 2 * fine_h[picks] + fine_j[picks]
    counts = np.stack([(cells == k).sum(axis=1) for k in range(4)], axis=1)
    distinct, inverse = np.unique(counts, axis=0, return_inverse=True)
    pairs = [(h, j) for h in LABELS for j in LABELS]
    values = np.empty(len(distinct))
    for i, row in enumerate(distinct):
        h_sample = [p[0] for p, c in zip(pairs, row, strict=True) for _ in range(int(c))]
        j_sample = [p[1] for p, c in zip(pairs, row, strict=True) for _ in range(int(c))]
        k = kappa(h_sample, j_sample)
        values[i] = np.nan if k is None else k
    kappas = values[np.asarray(inverse).reshape(-1)]
    kappas = kappas[~np.isnan(kappas)]
    if len(kappas) < resamples / 2:
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(kappas, [tail, 100.0 - tail])
    return float(low), float(high)


def _disagreement(human: Sequence[str], judge: Sequence[str]) -> Disagreement:
    lenient = sum(1 for h, j in zip(human, judge, strict=True) if h == "bad" and j == "fine")
    strict = sum(1 for h, j in zip(human, judge, strict=True) if h == "fine" and j == "bad")
    human_bad = sum(1 for h in human if h == "bad")
    human_fine = len(human) - human_bad
    if lenient + strict == 0:
        direction, p_value = "no disagreement", None
    else:
        p_value = float(binomtest(lenient, lenient + strict, 0.5).pvalue)
        if p_value < DIRECTION_ALPHA:
            direction = "too lenient" if lenient > strict else "too strict"
        else:
            direction = "no clear direction"
    return Disagreement(
        too_lenient=lenient,
        lenient_rate=lenient / human_bad if human_bad else None,
        too_strict=strict,
        strict_rate=strict / human_fine if human_fine else None,
        direction=direction,
        p_value=p_value,
    )


def measure(
    human: Sequence[str],
    judge: Sequence[str],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Agreement:
    """Every agreement figure for paired labels ``human[i]``/``judge[i]`` in {"bad", "fine"}."""
    if len(human) != len(judge):
        raise ValueError(f"{len(human)} human labels but {len(judge)} judge verdicts")
    unknown = {*human, *judge} - set(LABELS)
    if unknown:
        raise ValueError(f"labels must be bad or fine (got {sorted(unknown)})")
    n = len(human)
    return Agreement(
        n=n,
        agreement=float(accuracy_score(list(human), list(judge))) if n else None,
        kappa=kappa(human, judge),
        kappa_ci=bootstrap_kappa_ci(human, judge, resamples=resamples, seed=seed, confidence=confidence),
        confusion=confusion_matrix(list(human), list(judge), labels=list(LABELS)).tolist()
        if n
        else [[0, 0], [0, 0]],
        disagreement=_disagreement(human, judge),
    )
