"""Suite selection for CI: `--max-cases 30 --cover-all-categories` on 200 cases in 12 categories."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.regressions.exports import FORMATS, export
from tracesieve.evals.regressions.exports.manifest import verify_export
from tracesieve.evals.regressions.record import EvalCase
from tracesieve.evals.regressions.suite import select_suite
from tracesieve.evals.store import DirectEvalStore

from .regressions_testkit import chained, sample_record

CATEGORIES = [
    "negative_feedback", "unhelpful_answer", "retrieval", "hallucination", "refusal", "truncation",
    "error", "latency", "pricing", "tone", "privacy", "tool_misuse",
]  # fmt: skip
SEVERITIES = ["", "low", "medium", "high", "critical"]
SIGNALS = ["rephrase", "regenerate", "empty_retrieval", "ungrounded_answer", "user_correction", "refusal"]


def _set_of_200() -> list[EvalCase]:
    """200 cases; category frequencies fall off steeply (the last ones appear once or twice)."""
    rng = random.Random(7)
    weights = [2.0**-i for i in range(len(CATEGORIES))]
    records = []
    for i in range(200):
        cats = {rng.choices(CATEGORIES, weights)[0] for _ in range(rng.choice([1, 1, 2]))}
        records.append(
            sample_record(
                i,
                categories=sorted(cats),
                severity=rng.choice(SEVERITIES),
                signals=rng.sample(SIGNALS, rng.randint(1, 3)),
            )
        )
    # Make sure every category occurs (the rarest ones at least once).
    for i, cat in enumerate(CATEGORIES):
        records[10 * i] = records[10 * i].replace(categories=sorted({*records[10 * i].categories, cat}))
    return chained(records)


def test_thirty_cases_cover_all_twelve_categories_the_same_way_twice() -> None:
    cases = _set_of_200()
    assert {c for case in cases for c in case.record.categories} == set(CATEGORIES)
    first = select_suite(cases, max_cases=30, cover_all=True, seed=0)
    again = select_suite(list(reversed(cases)), max_cases=30, cover_all=True, seed=0)
    assert len(first.cases) == 30 and first.pool_size == 200
    assert {c for case in first.cases for c in case.record.categories} == set(CATEGORIES)
    assert [c.case_id for c in first.cases] == [c.case_id for c in again.cases]
    assert [c.seq for c in first.cases] == sorted(c.seq for c in first.cases)


def test_after_the_cover_the_most_severe_cases_fill_the_suite() -> None:
    cases = _set_of_200()
    suite = select_suite(cases, max_cases=30, cover_all=True, seed=0).cases
    critical = [c for c in cases if c.record.severity == "critical"]
    assert len(critical) > 30 - len(CATEGORIES)
    # Beyond the few cases the cover needs, every place goes to a critical case.
    assert sum(c.record.severity == "critical" for c in suite) >= 30 - len(CATEGORIES)


def test_the_seed_only_breaks_ties() -> None:
    cases = chained(
        [sample_record(i, categories=["retrieval"], severity="high") for i in range(40)], start_ms=0
    )
    picks = {tuple(c.case_id for c in select_suite(cases, max_cases=5, seed=s).cases) for s in range(5)}
    assert len(picks) > 1  # equal cases: the seed decides
    assert select_suite(cases, max_cases=5, seed=3).cases == select_suite(cases, max_cases=5, seed=3).cases


def test_a_budget_too_small_for_the_categories_is_refused() -> None:
    with pytest.raises(PermanentError, match="cannot cover all 12 categories"):
        select_suite(_set_of_200(), max_cases=5, cover_all=True)


def test_category_filter_limits_the_pool_and_the_cover() -> None:
    suite = select_suite(_set_of_200(), categories=["privacy", "tone"], max_cases=3, cover_all=True)
    assert suite.categories == ["privacy", "tone"]
    assert all({"privacy", "tone"} & set(c.record.categories) for c in suite.cases)


async def test_export_writes_the_suite_with_a_verifiable_manifest(
    store: DirectEvalStore, tmp_path: Path
) -> None:
    cases = _set_of_200()
    payload = [
        {
            "input": c.record.input,
            "expected": "x",
            "categories": c.record.categories,
            "severity": c.record.severity,
        }
        for c in cases
    ]
    await store.call("regressions.edit:add", {"cases": payload})
    out = tmp_path / "suite.jsonl"
    first = await export(store, FORMATS["jsonl"], out, max_cases=30, cover_all=True, seed=0)
    text = out.read_text()
    again = await export(store, FORMATS["jsonl"], out, max_cases=30, cover_all=True, seed=0)
    assert out.read_text() == text
    assert first["cases"] == again["cases"] == 30 and first["covered"] == sorted(CATEGORIES)
    assert verify_export(Path(first["manifest"]), FORMATS)["ok"]
