"""The streaming reservoirs: top K per category by deterministic key, independent of arrival
order and of rewritten rows, bounded memory, exact counts while small, estimates beyond."""

from __future__ import annotations

import random
from collections import Counter

from tracesieve.processors.sampling import (
    CategoryReservoir,
    FlaggedTurn,
    WeekSample,
    item_hash,
    reservoir_key,
)

CATEGORIES = [f"cat{i}" for i in range(10)]


def turns(n: int, seed: int = 5) -> list[FlaggedTurn]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        category = CATEGORIES[min(9, int(rng.expovariate(0.6)))]
        out.append(
            FlaggedTurn.of(
                f"{rng.getrandbits(128):032x}",
                f"{rng.getrandbits(64):016x}",
                f"s{i // 3}",
                0,
                round(rng.uniform(0.5, 1.0), 3),
                [category],
                f"question {i}",
            )
        )
    return out


def feed(items: list[FlaggedTurn], seed: int = 0, k: int = 40, sketch: int = 16384) -> WeekSample:
    sample = WeekSample(seed, k, sketch)
    for t in items:
        sample.offer(t)
    return sample


def test_each_reservoir_keeps_the_top_k_keys() -> None:
    items = turns(3000)
    sample = feed(items)
    for category in sample.categories():
        members = [t for t in items if category in t.categories]
        expected = sorted(
            members, key=lambda t: reservoir_key(item_hash(0, t.trace_id, t.span_id), t.flag_score)
        )
        want = [t.turn_id for t in reversed(expected[-40:])]
        assert [c.turn.turn_id for c in sample.ranked(category)] == want


def test_arrival_order_does_not_matter() -> None:
    items = turns(3000)
    # Rewritten rows: an earlier, weaker version of every fifth turn, with fewer categories.
    earlier = [
        FlaggedTurn.of(t.trace_id, t.span_id, t.session_id, 0, t.flag_score * 0.7, [], t.question)
        for t in items[::5]
    ]
    upgraded = [
        FlaggedTurn.of(
            t.trace_id, t.span_id, t.session_id, 0, t.flag_score, [*t.categories, "extra"], t.question
        )
        for t in items[::11]
    ]
    reference = feed(items + earlier + upgraded)
    for shuffle in range(3):
        rows = items + earlier + upgraded
        random.Random(shuffle).shuffle(rows)
        other = feed(rows)
        assert other.state() == reference.state()
        assert other.category_counts() == reference.category_counts()


def test_a_reflagged_turn_with_a_higher_score_replaces_its_entry() -> None:
    sample = WeekSample(0, 5, 1000)
    low = FlaggedTurn.of("t1", "s1", "sess", 0, 0.1, ["retrieval"], "q")
    sample.offer(low)
    before = sample.ranked("retrieval")[0].key
    sample.offer(FlaggedTurn.of("t1", "s1", "sess", 0, 0.9, ["hallucination", "retrieval"], "q"))
    [entry] = sample.ranked("retrieval")
    assert entry.key > before and entry.weight == sample.ranked("hallucination")[0].weight
    assert len(sample) == 1  # one entry, shared by its two reservoirs
    sample.offer(low)  # the older row again: ignored
    assert sample.ranked("retrieval")[0].key == entry.key


def test_memory_stays_bounded_after_100k_turns() -> None:
    sample = feed(turns(100_000, seed=9), k=120, sketch=4096)
    assert sum(len(r) for r in sample.reservoirs.values()) <= len(CATEGORIES) * 120
    assert len(sample) <= len(CATEGORIES) * 120
    assert len(sample.sketch) <= 4096


def test_counts_are_exact_while_small_and_estimated_beyond() -> None:
    items = turns(3000)
    truth = Counter(t.categories[0] for t in items)
    small = feed(items, k=40, sketch=8192)
    assert small.counts_exact() and small.category_counts() == dict(truth) and small.total() == 3000
    big_items = turns(60_000, seed=2)
    big_truth = Counter(t.categories[0] for t in big_items)
    big = feed(big_items, k=40, sketch=4096)
    assert not big.counts_exact()
    assert abs(big.total() - 60_000) / 60_000 < 0.1
    for category, n in big.category_counts().items():
        if big_truth[category] > 5000:
            assert abs(n - big_truth[category]) / big_truth[category] < 0.15
        elif big_truth[category] < 40:
            assert n == big_truth[category]  # the reservoir holds them all: exact


def test_the_reservoir_reports_what_it_pushes_out() -> None:
    reservoir = CategoryReservoir(2)
    assert reservoir.offer("a", (-1.0, 1)) == (True, None)
    assert reservoir.offer("b", (-2.0, 2)) == (True, None)
    assert reservoir.offer("c", (-3.0, 3)) == (False, None)
    assert reservoir.offer("d", (-0.5, 4)) == (True, "b")
    assert reservoir.offer("a", (-0.1, 1)) == (True, None)  # moves up in place
    assert [t for t, _ in reservoir.ranked()] == ["a", "d"]
