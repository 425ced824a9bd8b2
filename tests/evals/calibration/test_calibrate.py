"""Calibration from the store: verdicts imported, matched with the current labels, reported."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest
from tracesieve.evals.calibration.cli import print_report
from tracesieve.evals.calibration.data import load_cases, stored_judges
from tracesieve.evals.calibration.report import Settings, calibrate
from tracesieve.evals.calibration.verdicts import parse_verdicts, verdict_rows
from tracesieve.evals.report import render_calibration
from tracesieve.evals.store import DirectEvalStore

SETTINGS = Settings(min_kappa=0.6, min_cases=10, resamples=200, seed=0)


@pytest.fixture
async def store(chdb_dsn: str, database_name: str, seed: ModuleType) -> AsyncIterator[DirectEvalStore]:
    await seed.seed(chdb_dsn, database_name)
    store = DirectEvalStore(chdb_dsn, database_name)
    await store.open()
    await store.insert(
        "judge_verdicts", verdict_rows(parse_verdicts(seed.verdict_lines()), "judge-v1", 1_000)
    )
    yield store
    await store.aclose()


async def report(store: DirectEvalStore) -> dict[str, Any]:
    cases, unmatched = await load_cases(store, "judge-v1")
    return calibrate(cases, judge="judge-v1", settings=SETTINGS, unmatched=unmatched)


async def test_verdicts_match_the_current_labels(store: DirectEvalStore, seed: ModuleType) -> None:
    assert await stored_judges(store) == ["judge-v1"]
    cases, unmatched = await load_cases(store, "judge-v1")
    assert unmatched == 5  # verdicts on cases nobody labelled
    expected = {c["case_id"]: c for c in seed.cases()}
    assert {c.case_id for c in cases} == set(expected)
    for case in cases:
        want = expected[case.case_id]
        assert (case.human, case.judge) == (want["human"], want["judge"])
        # Bad labels name the category; fine ones fall back to the category the turn was flagged with.
        assert case.categories == (want["category"],)
        assert case.output == want["output"]  # from the verdict file or from the batch


async def test_a_later_import_replaces_a_verdict(store: DirectEvalStore, seed: ModuleType) -> None:
    first = seed.cases()[0]
    flipped = json.dumps({"case_id": first["case_id"], "verdict": "fine"})
    await store.insert("judge_verdicts", verdict_rows(parse_verdicts([flipped]), "judge-v1", 2_000))
    cases, _ = await load_cases(store, "judge-v1")
    assert next(c for c in cases if c.case_id == first["case_id"]).judge == "fine"
    assert len(cases) == len(seed.cases())


async def test_per_category_figures_direction_and_untrusted_named(
    store: DirectEvalStore, seed: ModuleType
) -> None:
    data = await report(store)
    groups = {g["category"]: g for g in data["categories"]}
    assert list(groups) == ["hallucination", "retrieval", "refusal", seed.XSS]

    hallucination = groups["hallucination"]
    assert hallucination["n"] == 60 and hallucination["trusted"] and hallucination["reason"] is None
    assert hallucination["agreement"] == pytest.approx(58 / 60)
    assert hallucination["kappa_ci"][0] >= 0.6

    retrieval = groups["retrieval"]
    assert retrieval["confusion"]["matrix"] == [[15, 15], [0, 30]]
    assert retrieval["disagreement"]["direction"] == "too lenient"
    assert retrieval["disagreement"]["lenient_rate"] == pytest.approx(0.5)
    assert not retrieval["trusted"]

    untrusted = {u["category"]: u for u in data["untrusted"]}
    assert set(untrusted) - {"overall"} == {"retrieval", "refusal", seed.XSS}
    assert "the lower bound is below 0.6" in untrusted["retrieval"]["reason"]
    assert untrusted["retrieval"]["advice"] == (
        "Use human review for retrieval: the judge cannot be trusted there. "
        "It is too lenient: it passes 50% of the answers humans call bad."
    )
    assert untrusted["refusal"]["reason"] == "only 6 cases (at least 10 needed to tell)"
    overall = data["overall"]
    assert overall["n"] == 130
    assert overall["trusted"] == (overall["kappa_ci"][0] >= 0.6) == ("overall" not in untrusted)
    assert "retrieval" in data["headline"] and "refusal" in data["headline"]


async def test_json_shape_and_reproducible_with_the_seed(store: DirectEvalStore) -> None:
    data = await report(store)
    assert set(data) == {
        "judge",
        "imported",
        "unmatched",
        "headline",
        "settings",
        "overall",
        "categories",
        "bias",
        "untrusted",
    }
    group_keys = {"n", "agreement", "kappa", "kappa_ci", "confusion", "disagreement", "trusted", "reason"}
    assert set(data["overall"]) == group_keys
    assert all(set(g) == group_keys | {"category"} for g in data["categories"])
    assert set(data["bias"]) == {"length", "hedging"}
    assert data["settings"] == {
        "min_kappa": 0.6,
        "min_cases": 10,
        "resamples": 200,
        "seed": 0,
        "confidence": 0.95,
    }
    assert await report(store) == data


async def test_html_is_self_contained_with_charts_and_escapes(
    store: DirectEvalStore, seed: ModuleType
) -> None:
    data = await report(store)
    html = render_calibration(data)
    assert not re.search(r"https?://", html)
    assert "<script" not in html and "<link" not in html
    groups = 1 + len(data["categories"])
    # κ axis, a confusion grid and a disagreement bar per group, a chart per bias.
    assert html.count("<svg") == 1 + 2 * groups + 2
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Use human review for retrieval" in html


async def test_terminal_report_names_untrusted_categories(
    store: DirectEvalStore, seed: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    print_report(await report(store))
    out = " ".join(capsys.readouterr().out.split())
    assert "Judge judge-v1 against human labels" in out
    assert out.count("✗ humans") == 3 and "lenient" in out
    assert "✗ retrieval: κ 0.50" in out and "Use human review for retrieval" in out
    assert "✗ refusal: only 6 cases (at least 10 needed to tell)." in out
    assert "5 verdicts have no human bad/fine label yet (not counted)." in out
