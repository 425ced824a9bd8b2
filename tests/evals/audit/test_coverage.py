"""The coverage audit on a store with failures across weeks, labels and a regression set."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest
from tracesieve.evals.audit.coverage import AuditReport, build_report, trend_of
from tracesieve.evals.audit.query import Window, current_eval_cases, failure_counts, weekly_failures
from tracesieve.evals.report import render_audit
from tracesieve.evals.store import DirectEvalStore


async def audit(store: DirectEvalStore, seed: ModuleType, *, min_count: int = 1) -> AuditReport:
    window = Window(seed.UNTIL_NS - 90 * seed.DAY_NS, seed.UNTIL_NS)
    failures = await failure_counts(store, window)
    weekly = await weekly_failures(store, window)
    cases = await current_eval_cases(store)
    return build_report(window, failures, weekly, cases, min_count=min_count)


def by_category(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["category"]: c for c in data["categories"]}


async def test_counts_trend_coverage_and_gaps(audit_store: DirectEvalStore, seed: ModuleType) -> None:
    data = (await audit(audit_store, seed)).to_json()
    rows = by_category(data)
    # error: its only case is superseded; truncation: the bad label was changed to fine.
    assert set(rows) == {"retrieval", seed.XSS, "refusal", "hallucination", "latency"}
    assert [c["category"] for c in data["categories"]] == [
        "retrieval",
        seed.XSS,
        "refusal",
        "hallucination",
        "latency",
    ]

    retrieval = rows["retrieval"]
    assert (retrieval["failures"], retrieval["from_signals"], retrieval["from_labels"]) == (8, 8, 0)
    assert retrieval["weekly"] == [0] * 5 + [1] * 8
    assert retrieval["trend"] == {
        "last_4_weeks": 4,
        "previous_4_weeks": 4,
        "change_pct": 0.0,
        "direction": "flat",
    }
    assert (retrieval["eval_cases"], retrieval["status"]) == (0, "gap")

    hallucination = rows["hallucination"]
    # Six spans with a signal; the bad label on one of them does not count it twice.
    assert (hallucination["failures"], hallucination["from_signals"], hallucination["from_labels"]) == (
        6,
        6,
        1,
    )
    assert hallucination["weekly"] == [0] * 7 + [1, 0, 0, 0, 2, 3]
    assert hallucination["trend"] == {
        "last_4_weeks": 5,
        "previous_4_weeks": 1,
        "change_pct": 400.0,
        "direction": "up",
    }
    assert (hallucination["eval_cases"], hallucination["status"]) == (2, "covered")

    custom = rows[seed.XSS]  # from a bad label only, dated by its sampled turn (week 3)
    assert (custom["failures"], custom["from_signals"], custom["from_labels"]) == (1, 0, 1)
    assert custom["weekly"][-4] == 1 and sum(custom["weekly"]) == 1
    assert custom["status"] == "gap"
    assert rows["refusal"]["status"] == "gap" and rows["refusal"]["trend"]["direction"] == "new"

    latency = rows["latency"]  # its only failure is 100 days old: the other direction
    assert (latency["failures"], latency["eval_cases"], latency["status"]) == (0, 1, "unseen")
    assert data["unseen_in_production"] == [{"category": "latency", "eval_cases": 1, "case_ids": ["case-b"]}]

    assert data["gaps"] == ["retrieval", seed.XSS, "refusal"]
    assert data["headline"] == "3 of 4 failure categories seen in production have no eval case."
    assert data["eval_cases_total"] == 3


async def test_min_count_leaves_one_offs_unflagged(audit_store: DirectEvalStore, seed: ModuleType) -> None:
    data = (await audit(audit_store, seed, min_count=2)).to_json()
    assert data["gaps"] == ["retrieval"]
    assert by_category(data)["refusal"]["status"] == "rare"
    assert data["headline"] == (
        "1 of 4 failure categories seen in production has no eval case. "
        "Of the others, 2 have no case but fewer than 2 failures: not flagged."
    )


async def test_json_shape(audit_store: DirectEvalStore, seed: ModuleType) -> None:
    data = (await audit(audit_store, seed)).to_json()
    assert set(data) == {
        "window",
        "min_count",
        "headline",
        "categories",
        "gaps",
        "unseen_in_production",
        "eval_cases_total",
    }
    assert data["window"]["until"] == seed.UNTIL and data["window"]["weeks"] == 13
    assert len(data["window"]["week_starts"]) == 13
    assert data["window"]["week_starts"][-1] == "2026-02-23T00:00:00Z"
    for c in data["categories"]:
        assert set(c) == {
            "category",
            "failures",
            "from_signals",
            "from_labels",
            "weekly",
            "trend",
            "eval_cases",
            "status",
        }
        assert len(c["weekly"]) == 13
        assert set(c["trend"]) == {"last_4_weeks", "previous_4_weeks", "change_pct", "direction"}


async def test_html_is_self_contained_with_a_chart_each_and_escapes(
    audit_store: DirectEvalStore, seed: ModuleType
) -> None:
    data = (await audit(audit_store, seed)).to_json()
    html = render_audit(data)
    assert html.startswith("<!doctype html>")
    assert not re.search(r"https?://", html), "no URL at all: nothing to fetch"
    assert "<script" not in html and "<link" not in html and "@import" not in html
    # One bar chart, and a sparkline per category.
    assert html.count("<svg") == 1 + len(data["categories"])
    assert html.count("</svg>") == html.count("<svg")
    assert "3 of 4 failure categories seen in production have no eval case." in html
    # The custom category is shown, escaped, in the chart, the table and the gap list.
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3


@pytest.mark.parametrize(
    ("weekly", "expected"),
    [
        ([0] * 8, ("quiet", None)),
        ([1, 1, 1, 1, 0, 0, 0, 0], ("gone", -100.0)),
        ([2, 2, 2, 2, 1, 1, 1, 1], ("down", -50.0)),
        ([20, 0, 0, 0, 0, 0, 0, 21], ("flat", 5.0)),
        ([10, 0, 0, 0, 0, 0, 0, 11], ("up", 10.0)),
        ([1, 1, 1, 1, 1, 1, 1, 2], ("up", 25.0)),
        ([1, 2, 3], ("n/a", None)),
    ],
)
def test_trend_directions(weekly: list[int], expected: tuple[str, float | None]) -> None:
    trend = trend_of(weekly)
    assert (trend.direction, trend.change_pct) == expected
