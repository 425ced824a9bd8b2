"""Does the judge's verdict follow the answer's length or wording once the human label is fixed?

A fair judge's verdict depends on the answer's quality, which the human label stands for; within
the cases humans called bad (and, separately, fine), it should not depend on how long the answer
is or how confident it sounds. For a measure (higher = longer / more confident):

1. Within each human-label stratum, compare the measure of the answers the judge called fine
   with those it called bad: Mann-Whitney U (``scipy.stats.mannwhitneyu``); effect size = the
   rank-biserial correlation ``2U/(n_fine·n_bad) − 1`` (+1: every answer the judge called fine
   scores higher than every one it called bad).
2. Combine the strata: one-sided p-values (fine > bad) by Stouffer's method weighted by √n
   (``scipy.stats.combine_pvalues``), turned into a two-sided p-value; the effect pooled as the
   mean of the strata's effects weighted by ``n_fine·n_bad``. A stratum where the judge used one
   verdict only, or where every answer has the same measure, tells nothing and is left out.
3. **Bias detected** when p < 0.01 and |effect| ≥ 0.2.

Measures:

- **length**: log(1 + characters of the answer);
- **hedging**: confidence = −(hedge markers − confident markers) per 100 words (at least 20
  words counted), matched case-insensitively on word boundaries, longest phrase first:
  hedges :data:`HEDGE_MARKERS`, confident :data:`CONFIDENT_MARKERS`. Positive effect: the
  judge favours confident wording (penalises hedged answers).

Answers with no text are left out. The chart data per stratum: the judge's "fine" rate among
shorter vs longer answers (split at the stratum's median length), and among hedged (more hedges
than confident markers) vs other answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import combine_pvalues, mannwhitneyu, norm

__all__ = [
    "CONFIDENT_MARKERS",
    "HEDGE_MARKERS",
    "BiasResult",
    "Stratum",
    "hedging_bias",
    "hedging_score",
    "length_bias",
    "stratified_bias",
]

ALPHA = 0.01
MIN_EFFECT = 0.2

HEDGE_MARKERS = (
    "might", "may", "maybe", "perhaps", "possibly", "probably", "likely", "unlikely", "could be",
    "i think", "i believe", "i guess", "i suppose", "i suspect", "i assume", "not sure", "i'm not sure",
    "not certain", "uncertain", "unclear", "it seems", "seems", "seem to", "it appears", "appears to",
    "as far as i know", "to my knowledge", "if i recall", "roughly", "approximately",
    "generally", "typically", "usually", "in some cases", "it depends", "may be", "might be",
    "i'm not certain", "hard to say", "not entirely",
)  # fmt: skip
CONFIDENT_MARKERS = (
    "definitely", "certainly", "clearly", "absolutely", "undoubtedly", "without a doubt",
    "no doubt", "of course", "guaranteed", "for sure", "exactly", "precisely", "in fact", "indeed",
    "obviously", "surely", "i am certain", "i'm certain", "rest assured", "without question",
)  # fmt: skip

_KIND = {**{m: "hedge" for m in HEDGE_MARKERS}, **{m: "confident" for m in CONFIDENT_MARKERS}}
_MARKER = re.compile(
    r"\b(?:" + "|".join(re.escape(m) for m in sorted(_KIND, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_WORD = re.compile(r"\w+")


def hedging_score(text: str) -> float:
    """(hedge markers − confident markers) per 100 words, with at least 20 words counted."""
    normalised = text.replace("\u2019", "'")
    hedges = confident = 0
    for match in _MARKER.finditer(normalised):
        if _KIND[match.group(0).lower()] == "hedge":
            hedges += 1
        else:
            confident += 1
    words = max(len(_WORD.findall(normalised)), 20)
    return (hedges - confident) * 100.0 / words


@dataclass(frozen=True)
class Stratum:
    human: str
    n: int
    judge_fine: int
    judge_bad: int
    effect: float | None
    p_value: float | None
    low_name: str
    low_fine_rate: float | None
    high_name: str
    high_fine_rate: float | None


@dataclass(frozen=True)
class BiasResult:
    feature: str
    measure: str
    n: int
    effect: float | None
    p_value: float | None
    detected: bool
    alpha: float
    min_effect: float
    summary: str
    strata: list[Stratum]


def _rate(flags: np.ndarray) -> float | None:
    return float(flags.mean()) if len(flags) else None


def stratified_bias(
    human: Sequence[str],
    judge: Sequence[str],
    values: Sequence[float],
    *,
    feature: str,
    measure: str,
    split: Callable[[np.ndarray], float],
    names: tuple[str, str],
    favours: tuple[str, str],
) -> BiasResult:
    """The test of the module docstring for one measure. ``split(values)`` gives the threshold
    above which an answer is "high" for the chart; ``favours`` words the summary for a positive
    and a negative effect."""
    h = np.asarray(human)
    fine = np.asarray(judge) == "fine"
    x = np.asarray(values, dtype=float)
    strata: list[Stratum] = []
    one_sided: list[float] = []
    weights: list[float] = []
    effects: list[tuple[float, float]] = []
    for label in ("bad", "fine"):
        mask = h == label
        if not mask.any():
            continue
        xs, fs = x[mask], fine[mask]
        high = xs > split(xs)
        effect = p_two = None
        n_fine, n_bad = int(fs.sum()), int((~fs).sum())
        if n_fine and n_bad and np.ptp(xs) > 0:
            u = mannwhitneyu(xs[fs], xs[~fs], alternative="two-sided")
            effect = float(2.0 * u.statistic / (n_fine * n_bad) - 1.0)
            p_two = float(u.pvalue)
            greater = float(mannwhitneyu(xs[fs], xs[~fs], alternative="greater").pvalue)
            one_sided.append(min(max(greater, 1e-300), 1.0 - 1e-12))
            weights.append(math.sqrt(len(xs)))
            effects.append((effect, float(n_fine * n_bad)))
        strata.append(
            Stratum(
                human=label,
                n=int(mask.sum()),
                judge_fine=n_fine,
                judge_bad=n_bad,
                effect=effect,
                p_value=p_two,
                low_name=names[0],
                low_fine_rate=_rate(fs[~high]),
                high_name=names[1],
                high_fine_rate=_rate(fs[high]),
            )
        )
    if not one_sided:
        why = (
            f"not enough data for a {feature} test: within a human label, the judge must have said "
            "both bad and fine on answers that differ"
        )
        return BiasResult(feature, measure, len(x), None, None, False, ALPHA, MIN_EFFECT, why, strata)
    if len(one_sided) == 1:
        z = float(norm.isf(one_sided[0]))
    else:
        z = float(combine_pvalues(one_sided, method="stouffer", weights=weights).statistic)
    p_value = float(min(1.0, 2.0 * norm.sf(abs(z))))
    pooled = sum(e * w for e, w in effects) / sum(w for _, w in effects)
    detected = p_value < ALPHA and abs(pooled) >= MIN_EFFECT
    figures = f"effect {pooled:+.2f}, p={p_value:.2g}"
    if detected:
        favoured = favours[0] if pooled > 0 else favours[1]
        summary = f"bias: the judge favours {favoured} answers at the same human label ({figures})"
    else:
        summary = f"no {feature} bias found ({figures})"
    return BiasResult(feature, measure, len(x), pooled, p_value, detected, ALPHA, MIN_EFFECT, summary, strata)


def length_bias(human: Sequence[str], judge: Sequence[str], outputs: Sequence[str]) -> BiasResult:
    """Does the judge say fine more often for longer answers at the same human label?"""
    keep = [i for i, o in enumerate(outputs) if o.strip()]
    return stratified_bias(
        [human[i] for i in keep],
        [judge[i] for i in keep],
        [math.log1p(len(outputs[i])) for i in keep],
        feature="length",
        measure="answer length (log characters)",
        split=lambda xs: float(np.median(xs)),
        names=("shorter half", "longer half"),
        favours=("longer", "shorter"),
    )


def hedging_bias(human: Sequence[str], judge: Sequence[str], outputs: Sequence[str]) -> BiasResult:
    """Does the judge say fine more often for confident wording at the same human label?"""
    keep = [i for i, o in enumerate(outputs) if o.strip()]
    return stratified_bias(
        [human[i] for i in keep],
        [judge[i] for i in keep],
        [-hedging_score(outputs[i]) for i in keep],
        feature="hedging",
        measure="confident wording (− hedging score)",
        split=lambda xs: -1e-9,
        names=("hedged", "not hedged"),
        favours=("confidently worded", "hedged"),
    )
