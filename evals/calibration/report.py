"""The calibration report: agreement per category and overall, bias, and where not to trust it.

A group (``overall``, or one category: the cases that carry it, see ``data``) is **trusted**
when it has at least ``min_cases`` cases and the lower bound of κ's 95% bootstrap interval is at
least ``min_kappa``. Every untrusted group is named with its reason and the advice to keep human
review there. Bias (``bias``) is measured over all matched cases.

The JSON form, which ``--format json`` prints and the HTML report is drawn from::

    {"judge": str, "imported": int | null, "unmatched": int, "headline": str,
     "settings": {"min_kappa", "min_cases", "resamples", "seed", "confidence"},
     "overall": GROUP, "categories": [GROUP, ...],
     "bias": {"length": BIAS, "hedging": BIAS},
     "untrusted": [{"category", "reason", "advice"}, ...]}
    GROUP = {"category", "n", "agreement", "kappa", "kappa_ci": [low, high] | null,
             "confusion": {"labels": ["bad", "fine"], "rows": "human", "columns": "judge",
                           "matrix": [[bad/bad, bad/fine], [fine/bad, fine/fine]]},
             "disagreement": {"too_lenient", "lenient_rate", "too_strict", "strict_rate",
                              "direction", "p_value"},
             "trusted": bool, "reason": str | null}
    BIAS = {"feature", "measure", "n", "effect", "p_value", "detected", "alpha", "min_effect",
            "summary", "strata": [{"human", "n", "judge_fine", "judge_bad", "effect", "p_value",
                                    "low_name", "low_fine_rate", "high_name", "high_fine_rate"}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .agreement import LABELS, Agreement, measure
from .bias import hedging_bias, length_bias
from .data import CalibrationCase

__all__ = ["Settings", "calibrate"]


@dataclass(frozen=True)
class Settings:
    min_kappa: float = 0.6
    min_cases: int = 10
    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95


def _trust(a: Agreement, s: Settings) -> str | None:
    """None when the group can be trusted, else why not."""
    if a.n < s.min_cases:
        return f"only {a.n} case{'s' if a.n != 1 else ''} (at least {s.min_cases} needed to tell)"
    if a.kappa is None:
        return "κ undefined: humans and judge used one and the same label only"
    if a.kappa_ci is None:
        return f"κ {a.kappa:.2f} without a confidence interval (too few varied cases)"
    low, high = a.kappa_ci
    if low < s.min_kappa:
        return f"κ {a.kappa:.2f}, 95% CI [{low:.2f}, {high:.2f}]: the lower bound is below {s.min_kappa:g}"
    return None


def _group(name: str, cases: Sequence[CalibrationCase], s: Settings) -> dict[str, Any]:
    a = measure(
        [c.human for c in cases],
        [c.judge for c in cases],
        resamples=s.resamples,
        seed=s.seed,
        confidence=s.confidence,
    )
    reason = _trust(a, s)
    return {
        "category": name,
        "n": a.n,
        "agreement": a.agreement,
        "kappa": a.kappa,
        "kappa_ci": list(a.kappa_ci) if a.kappa_ci else None,
        "confusion": {"labels": list(LABELS), "rows": "human", "columns": "judge", "matrix": a.confusion},
        "disagreement": asdict(a.disagreement),
        "trusted": reason is None,
        "reason": reason,
    }


def _advice(group: dict[str, Any]) -> str:
    where = "overall" if group["category"] == "overall" else f"for {group['category']}"
    advice = f"Use human review {where}: the judge cannot be trusted there."
    d = group["disagreement"]
    if d["direction"] == "too lenient" and d["lenient_rate"] is not None:
        advice += f" It is too lenient: it passes {d['lenient_rate']:.0%} of the answers humans call bad."
    elif d["direction"] == "too strict" and d["strict_rate"] is not None:
        advice += f" It is too strict: it fails {d['strict_rate']:.0%} of the answers humans call fine."
    return advice


def _headline(overall: dict[str, Any], categories: list[dict[str, Any]], untrusted: list[str]) -> str:
    k = overall["kappa"]
    ci = overall["kappa_ci"]
    figures = f"κ {k:.2f}" if k is not None else "κ undefined"
    if ci:
        figures += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    figures += f" over {overall['n']} cases"
    bad = [c for c in untrusted if c != "overall"]
    if not untrusted:
        return f"The judge can be trusted overall and in every category ({figures})."
    if "overall" in untrusted:
        tail = f"; nor in {len(bad)} of {len(categories)} categories" if bad else ""
        return f"The judge cannot be trusted overall ({figures}){tail}."
    return (
        f"The judge is trusted overall ({figures}) but not in {len(bad)} of {len(categories)} categories: "
        + ", ".join(bad)
        + "."
    )


def calibrate(
    cases: Sequence[CalibrationCase],
    *,
    judge: str,
    settings: Settings = Settings(),
    unmatched: int = 0,
    imported: int | None = None,
) -> dict[str, Any]:
    """The report of the module docstring for ``cases`` (the judge's matched cases)."""
    overall = _group("overall", cases, settings)
    names = sorted({c for case in cases for c in case.categories})
    members = {name: [case for case in cases if name in case.categories] for name in names}
    categories = sorted(
        (_group(name, members[name], settings) for name in names), key=lambda g: (-g["n"], g["category"])
    )
    untrusted = [g for g in [overall, *categories] if not g["trusted"]]
    human = [c.human for c in cases]
    verdicts = [c.judge for c in cases]
    outputs = [c.output for c in cases]
    bias = {
        "length": asdict(length_bias(human, verdicts, outputs)),
        "hedging": asdict(hedging_bias(human, verdicts, outputs)),
    }
    return {
        "judge": judge,
        "imported": imported,
        "unmatched": unmatched,
        "headline": _headline(overall, categories, [g["category"] for g in untrusted]),
        "settings": asdict(settings),
        "overall": {k: v for k, v in overall.items() if k != "category"},
        "categories": categories,
        "bias": bias,
        "untrusted": [
            {"category": g["category"], "reason": g["reason"], "advice": _advice(g)} for g in untrusted
        ],
    }
