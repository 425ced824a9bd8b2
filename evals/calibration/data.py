"""The cases a calibration is computed on: a judge's stored verdicts matched with human labels.

- **The judge's verdict** on a case: its latest row in ``judge_verdicts`` (by ``ImportedAt``).
- **The human label**: the case's latest row in ``labels`` (by ``LabelledAt``); only ``bad``
  and ``fine`` count. A verdict on a case without such a label is *unmatched*.
- **The categories of a case**: the human label's ``Categories`` plus the verdict's
  ``Category``; when both are empty, the categories the turn was flagged with
  (``review_batches.Categories``); when still empty, ``uncategorised``.
- **The answer** (for the bias analysis): the verdict's ``Output``, else the sampled turn's
  ``OutputText`` in ``review_batches``; empty when neither has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracesieve.evals.store import EvalStore

__all__ = ["UNCATEGORISED", "CalibrationCase", "load_cases", "stored_judges"]

UNCATEGORISED = "uncategorised"

_CASES = """
SELECT v.CaseId AS CaseId, v.Verdict AS Judge, v.Category AS JudgeCategory, v.Output AS JudgeOutput,
       l.Verdict AS Human, l.Categories AS HumanCategories,
       b.Categories AS FlaggedCategories, b.OutputText AS BatchOutput
FROM (
    SELECT CaseId, argMax(Verdict, ImportedAt) AS Verdict, argMax(Category, ImportedAt) AS Category,
           argMax(Output, ImportedAt) AS Output
    FROM judge_verdicts WHERE Judge = {judge:String} GROUP BY CaseId
) AS v
LEFT JOIN (
    SELECT CaseId, argMax(Verdict, LabelledAt) AS Verdict, argMax(Categories, LabelledAt) AS Categories
    FROM labels GROUP BY CaseId
) AS l ON v.CaseId = l.CaseId
LEFT JOIN (
    SELECT CaseId, any(Categories) AS Categories, any(OutputText) AS OutputText
    FROM review_batches GROUP BY CaseId
) AS b ON v.CaseId = b.CaseId
ORDER BY CaseId
"""


@dataclass(frozen=True)
class CalibrationCase:
    case_id: str
    human: str  # "bad" | "fine"
    judge: str  # "bad" | "fine"
    categories: tuple[str, ...]
    output: str


async def stored_judges(store: EvalStore) -> list[str]:
    """The judges with verdicts in the store."""
    rows = await store.select("SELECT DISTINCT Judge FROM judge_verdicts ORDER BY Judge")
    return [str(r["Judge"]) for r in rows]


def _categories(human: list[str], judge: str, flagged: list[str]) -> tuple[str, ...]:
    named = [c for c in [*human, judge] if c]
    if not named:
        named = [c for c in flagged if c]
    return tuple(dict.fromkeys(named)) or (UNCATEGORISED,)


async def load_cases(store: EvalStore, judge: str) -> tuple[list[CalibrationCase], int]:
    """The judge's cases that have a human bad/fine label, and how many verdicts have none."""
    rows = await store.select(_CASES, {"judge": judge})
    cases: list[CalibrationCase] = []
    unmatched = 0
    for r in rows:
        human = str(r["Human"] or "")
        verdict = str(r["Judge"])
        if human not in ("bad", "fine") or verdict not in ("bad", "fine"):
            unmatched += 1
            continue
        cases.append(
            CalibrationCase(
                case_id=str(r["CaseId"]),
                human=human,
                judge=verdict,
                categories=_categories(
                    list(r["HumanCategories"] or []),
                    str(r["JudgeCategory"] or ""),
                    list(r["FlaggedCategories"] or []),
                ),
                output=str(r["JudgeOutput"] or r["BatchOutput"] or ""),
            )
        )
    return cases, unmatched
