"""The issue's first bar, on the drawing itself: a week of ten categories of very different
frequency gives a batch of the configured size that represents every category, has one case
per session, collapses near-duplicates (with the right cluster size) and is reproducible."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from tracesieve.evals.ids import review_case_id
from tracesieve.evals.sampling.draw import Exclusions, Pick, draw_batch
from tracesieve.processors.sampling import FlaggedTurn, WeekSample, question_signature

from .traffic import CATEGORY_SIZES, Week, make_week


def sample_of(rows: list, seed: int = 0, k: int = 120) -> WeekSample:
    sample = WeekSample(seed, k, 16384)
    for row in rows:
        sample.offer(FlaggedTurn.from_flagged(row))
    return sample


def ids(picks: list[Pick]) -> list[str]:
    return [p.candidate.turn.turn_id for p in picks]


@pytest.fixture(scope="module")
def week() -> Week:
    return make_week()


@pytest.mark.parametrize("size", [10, 15, 20])
def test_batch_has_the_size_every_category_one_case_per_session(week: Week, size: int) -> None:
    picks = draw_batch(sample_of(week.versions()), size)
    assert len(picks) == size
    assert {p.category for p in picks} == set(CATEGORY_SIZES)  # 10 categories, 2000 … 1 turns each
    for p in picks:
        assert p.category in p.candidate.categories
    sessions = [p.candidate.turn.session_id for p in picks]
    assert len(set(sessions)) == len(sessions)
    assert len(set(ids(picks))) == size


def test_remaining_slots_follow_the_square_root_of_the_counts(week: Week) -> None:
    picks = draw_batch(sample_of(week.versions()), 20)
    per = Counter(p.category for p in picks)
    # 10 first slots, then sqrt allocation: the two big categories get the extra ones.
    assert per["negative_feedback"] > per["unhelpful_answer"] > per["policy"] == 1
    assert per["negative_feedback"] + per["unhelpful_answer"] + per["retrieval"] == 20 - 7


def test_near_duplicates_collapse_with_their_cluster_size(week: Week) -> None:
    true_sizes = Counter(question_signature(r.user_message) for r in week.flagged)
    picks = draw_batch(sample_of(week.versions()), 20)
    signatures = [p.candidate.signature for p in picks]
    assert len(set(signatures)) == len(signatures)
    for p in picks:
        assert p.cluster_size == true_sizes[p.candidate.signature]
    # Latency has three turns, all one question in three wordings: one case, cluster of 3.
    [latency] = [p for p in picks if p.category == "latency"]
    assert latency.cluster_size == 3
    assert len(latency.cluster_examples) == 2
    assert set(latency.cluster_examples) | {latency.candidate.turn.question} == {
        "Export all invoices as CSV",
        "export invoices csv",
        "Invoices CSV export?",
    }


def test_a_cluster_that_fills_its_category_yields_one_case_however_many_slots() -> None:
    # 60 turns in one category, 50 of them one question: the category gets all the slots.
    week = make_week(sizes={"retrieval": 60})
    planted = [r for r in week.flagged if "password" in r.user_message.lower()]
    assert len(planted) == 10
    sample = sample_of(week.flagged)
    picks = draw_batch(sample, 15)
    assert len(picks) == 15
    password = [p for p in picks if "password" in p.candidate.turn.question.lower()]
    assert len(password) == 1 and password[0].cluster_size == 10


def test_same_seed_same_batch_whatever_the_arrival_order(week: Week) -> None:
    first = ids(draw_batch(sample_of(week.versions(), seed=11), 15))
    for shuffle_seed in (1, 2, 3):
        rows = week.versions()
        random.Random(shuffle_seed).shuffle(rows)
        assert ids(draw_batch(sample_of(rows, seed=11), 15)) == first


def test_a_different_seed_draws_a_different_batch(week: Week) -> None:
    batches = {tuple(ids(draw_batch(sample_of(week.versions(), seed=s), 15))) for s in (0, 1, 2)}
    assert len(batches) == 3


def test_reviewed_and_earlier_batch_cases_are_never_drawn(week: Week) -> None:
    sample = sample_of(week.versions())
    first = draw_batch(sample, 15)
    sent = {review_case_id(p.candidate.turn.trace_id, p.candidate.turn.span_id) for p in first}
    reviewed = {
        review_case_id(c.turn.trace_id, c.turn.span_id) for c in sample.ranked("negative_feedback")[:30]
    }
    second = draw_batch(sample, 15, Exclusions(frozenset(sent | reviewed)))
    drawn = {review_case_id(p.candidate.turn.trace_id, p.candidate.turn.span_id) for p in second}
    assert len(second) == 15
    assert not drawn & (sent | reviewed)


def test_rare_categories_win_when_the_batch_is_smaller_than_the_categories(week: Week) -> None:
    picks = draw_batch(sample_of(week.versions()), 4)
    assert [p.category for p in picks] == ["policy", "tone", "latency", "error"]


def test_a_category_present_only_beside_a_stronger_one_still_gets_its_slot() -> None:
    # Every "tone" turn is also negative feedback: it still has a stratum of its own.
    week = make_week(sizes={"negative_feedback": 300})
    rows = week.flagged
    for row in rows[:3]:
        row.categories = sorted([*row.categories, "tone"])
    picks = draw_batch(sample_of(rows), 10)
    assert "tone" in {p.category for p in picks}


def test_candidates_run_out_gracefully() -> None:
    week = make_week(sizes={"error": 5, "latency": 3})
    picks = draw_batch(sample_of(week.flagged), 15)
    # 8 turns, but the three latency turns are one question: 6 cases.
    assert len(picks) == 6
