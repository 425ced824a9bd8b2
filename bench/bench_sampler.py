"""Cost and memory of the weekly sampler's streaming reservoirs, against keeping the whole week.

The sampler sees every flagged turn the collector writes (on the event loop, after the findings
INSERT), so its per-turn cost and its memory matter. The baseline is what a sampler without
reservoirs would do: keep every flagged turn of the week and, at the week's end, sort each
category by the same key. Both are fed the same synthetic week: ``--turns`` flagged turns over
10 categories of very different frequency (each turn in one or two of them), 4 turns per
session, a fifth of the questions rephrasings of a few hundred common ones. Prints µs per turn,
peak traced memory, and the ratios; then the time to draw a batch from the reservoirs.

    .venv/bin/python bench/bench_sampler.py [--turns 200000] [--size 15]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import machine_speed_s
from tracesieve.evals.sampling.draw import draw_batch
from tracesieve.processors.sampling import FlaggedTurn, WeekSample, question_signature
from tracesieve.processors.sampling.keys import as_float32, item_hash, reservoir_key

CATEGORIES = [
    ("unhelpful_answer", 0.45), ("hallucination", 0.2), ("retrieval", 0.12), ("error", 0.08),
    ("negative_feedback", 0.06), ("truncation", 0.04), ("latency", 0.025), ("refusal", 0.01),
    ("billing_confusion", 0.004), ("pii_leak", 0.001),
]  # fmt: skip
WEEK_START_NS = 1_795_000_000 * 1_000_000_000


def week_of_turns(n: int, seed: int = 7) -> Iterator[FlaggedTurn]:
    """The week's flagged turns, made as they are consumed (as the stream delivers them)."""
    rng = random.Random(seed)
    names = [c for c, _ in CATEGORIES]
    weights = [w for _, w in CATEGORIES]
    common = [f"how do I {verb} my {thing}" for verb in ("reset", "cancel", "export", "move") for thing in
              ("password", "plan", "invoice", "account", "data", "team", "card", "order")]  # fmt: skip
    for i in range(n):
        cats = {rng.choices(names, weights)[0]}
        if rng.random() < 0.3:
            cats.add(rng.choices(names, weights)[0])
        if rng.random() < 0.2:
            question = rng.choice(common) + rng.choice(["?", " please", "", " again?"])
        else:
            question = f"question {i} about item {rng.randrange(10**6)} and order {rng.randrange(10**6)}"
        yield FlaggedTurn(
            trace_id=f"{i:032x}",
            span_id=f"{i:016x}",
            session_id=f"s{i // 4}",
            time_ns=WEEK_START_NS + i * 1_000_000,
            flag_score=rng.uniform(0.5, 1.0),
            categories=tuple(sorted(cats)),
            question=question,
        )


def keep_everything(
    turns: Iterable[FlaggedTurn], seed: int, k: int
) -> tuple[dict[str, list[FlaggedTurn]], Counter[int]]:
    """The baseline: hold the whole week; at its end, sort each category by the same key and
    count the near-duplicate clusters exactly (the same two answers the reservoirs give)."""
    held: dict[str, list[tuple[float, FlaggedTurn]]] = defaultdict(list)
    week: list[FlaggedTurn] = []
    for turn in turns:
        week.append(turn)
    for turn in week:
        key = reservoir_key(item_hash(seed, turn.trace_id, turn.span_id), as_float32(turn.flag_score))
        for category in turn.categories:
            held[category].append((key, turn))
    clusters = Counter(question_signature(turn.question) for turn in week)
    top = {c: [t for _, t in sorted(items, key=lambda kt: -kt[0])[:k]] for c, items in held.items()}
    return top, clusters


def measure(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(seconds, peak traced MiB, result); timed without tracing, traced in a second run."""
    gc.collect()
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200_000, help="flagged turns in the week (200,000)")
    parser.add_argument("--size", type=int, default=15, help="batch size (15)")
    parser.add_argument("--factor", type=int, default=8, help="reservoir size = size × factor (8)")
    parser.add_argument("--sketch", type=int, default=16_384, help="count sketch size (16,384)")
    args = parser.parse_args()
    out = Console()
    out.print(f"machine speed: {machine_speed_s():.2f} s for a fixed 10M-step Python loop")
    k = args.size * args.factor

    def stream() -> WeekSample:
        sample = WeekSample(0, k, args.sketch)
        for turn in week_of_turns(args.turns):
            sample.offer(turn)
        return sample

    started = time.perf_counter()
    for _ in week_of_turns(args.turns):
        pass
    making_s = time.perf_counter() - started  # subtracted: both sides make the same turns

    s_time, s_mem, sample = measure(stream)
    b_time, b_mem, _ = measure(lambda: keep_everything(week_of_turns(args.turns), 0, k))
    s_time, b_time = s_time - making_s, b_time - making_s
    assert isinstance(sample, WeekSample)
    started = time.perf_counter()
    picks = draw_batch(sample, args.size)
    draw_ms = (time.perf_counter() - started) * 1000
    held = len(sample)

    table = Table(title=f"{args.turns:,} flagged turns, 10 categories, K = {k}")
    for column in ("", "µs per turn", "peak memory (MiB)", "turns held"):
        table.add_column(column, justify="right")
    table.add_row("streaming reservoirs", f"{s_time / args.turns * 1e6:.1f}", f"{s_mem:.1f}", f"{held:,}")
    table.add_row("baseline: keep the week, sort", f"{b_time / args.turns * 1e6:.1f}", f"{b_mem:.1f}",
                  f"{args.turns:,}")  # fmt: skip
    table.add_row("ratio (reservoirs ÷ baseline)", f"{s_time / b_time:.2f}", f"{s_mem / b_mem:.3f}", "")
    out.print(table)
    categories = {p.category for p in picks}
    out.print(
        f"draw: {len(picks)} cases from {len(categories)} categories in {draw_ms:.1f} ms; "
        f"largest cluster {max(p.cluster_size for p in picks)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
