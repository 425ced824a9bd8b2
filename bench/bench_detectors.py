"""Detector quality: precision, recall and F1 per detector on a labelled corpus of real sessions.

Builds the corpus if missing (``bench/corpus/generate.py``, cached in
``bench/.corpus/<split>-<seed>/``), starts ``tracesieve run`` on free ports with a fresh data
folder and ``processors.detectors.abandoned_session.idle_s: 120``, replays the corpus in its send
order over OTLP/HTTP (feedback to ``POST /v1/feedback``), sends a heartbeat span ten minutes of
event time after the corpus so every idle deadline passes, then sends what arrives "a day
later", waits until ``tracesieve.signals`` stops growing and scores what it holds against the
labels. A signal matches a label on (trace id, signal).

    .venv/bin/python bench/bench_detectors.py [--split heldout] [--seed 1] [--show-errors] [--min 0.9]
    .venv/bin/python bench/bench_detectors.py --corpus DIR      # a corpus someone else built

Exits 1 when ``--min`` is given and a detector's precision or recall is below it. ``--cost``
replays the corpus a second time with the session state and detectors off and reports the
collector's CPU time per span both ways.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".corpus"
sys.path[:0] = [str(HERE), str(HERE / "corpus")]

from _corpus_replay import run_once  # noqa: E402
from scenarios import GENERATOR_VERSION, SIGNALS  # noqa: E402

IDLE_S = 120.0  # processors.detectors.abandoned_session.idle_s for the run


# -- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Miss:
    trace_id: str
    session_id: str
    scenario: str
    library: str


@dataclass(slots=True)
class Score:
    signal: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[Miss] = field(default_factory=list)
    false_negatives: list[Miss] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """1.0 when nothing was predicted: no false alarm was raised."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(
    labels: Sequence[dict[str, Any]], rows: Iterable[Sequence[str]], signals: Sequence[str] = SIGNALS
) -> dict[str, Score]:
    """Score detected ``(trace_id, session_id, signal)`` rows against the labels.

    Per signal: a true positive is a labelled ``(trace_id, signal)`` that was detected, a false
    positive a detected one that is not labelled (on any trace, in the corpus or not), a false
    negative a labelled one that was not detected. Duplicate rows count once. Signals outside
    ``signals`` get a score of their own (all their rows are false positives).
    """
    session_of: dict[str, dict[str, Any]] = {}
    for label in labels:
        for trace in label["turns"]:
            session_of[trace] = label
    expected = {(e["trace_id"], e["signal"]) for label in labels for e in label["expected"]}
    detected: dict[tuple[str, str], str] = {}
    for trace, session, signal in rows:
        detected.setdefault((trace.lower(), signal), session)

    def miss(trace: str, session: str = "") -> Miss:
        label = session_of.get(trace)
        if label is None:
            return Miss(trace, session, "(not in the corpus)", "")
        return Miss(trace, label["session_id"], label["scenario"], label["library"])

    scores = {signal: Score(signal) for signal in signals}
    for (trace, signal), session in sorted(detected.items()):
        entry = scores.setdefault(signal, Score(signal))
        if (trace, signal) in expected:
            entry.tp += 1
        else:
            entry.fp += 1
            entry.false_positives.append(miss(trace, session))
    for trace, signal in sorted(expected - set(detected)):
        entry = scores.setdefault(signal, Score(signal))
        entry.fn += 1
        entry.false_negatives.append(miss(trace))
    return scores


def micro(scores: dict[str, Score]) -> Score:
    total = Score("all")
    for entry in scores.values():
        total.tp, total.fp, total.fn = total.tp + entry.tp, total.fp + entry.fp, total.fn + entry.fn
    return total


def below(scores: dict[str, Score], bar: float) -> list[str]:
    """Detectors whose precision or recall is under ``bar``."""
    return [s.signal for s in scores.values() if s.precision < bar or s.recall < bar]


# -- corpus ------------------------------------------------------------------------------------


def ensure_corpus(split: str, seed: int, n: int, rebuild: bool) -> Path:
    folder = CACHE / f"{split}-{seed}"
    summary = folder / "corpus.json"
    if not rebuild and summary.exists():
        built = json.loads(summary.read_text())
        if built.get("sessions_per_signal") == n and built.get("generator_version") == GENERATOR_VERSION:
            return folder
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")  # the cache is rebuilt, never committed
    try:
        from generate import generate
    except ImportError as exc:
        raise SystemExit(
            f"building the corpus needs the bench extra (pip install -e '.[bench]'): {exc}"
        ) from exc
    print(
        f"building the {split} corpus (seed {seed}, {n} sessions per signal) in {folder} …", file=sys.stderr
    )
    generate(folder, split, n, seed)
    return folder


# -- report ------------------------------------------------------------------------------------


def report(scores: dict[str, Score], bar: float | None, show_errors: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 100))  # a piped report keeps whole headers
    table = Table(title="detector quality (match on trace id and signal)")
    table.add_column("detector", no_wrap=True, min_width=24)
    for name in ("labelled", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(name, justify="right")
    for entry in [*scores.values(), micro(scores)]:
        weak = bar is not None and entry.signal != "all" and (entry.precision < bar or entry.recall < bar)
        style = "red" if weak else ("bold" if entry.signal == "all" else None)
        table.add_row(
            entry.signal,
            str(entry.tp + entry.fn),
            str(entry.tp),
            str(entry.fp),
            str(entry.fn),
            f"{entry.precision:.3f}",
            f"{entry.recall:.3f}",
            f"{entry.f1:.3f}",
            style=style,
        )
    console.print(table)
    if not show_errors:
        return
    for entry in scores.values():
        for title, misses in (
            ("false positives", entry.false_positives),
            ("false negatives", entry.false_negatives),
        ):
            if misses:
                console.print(f"[bold]{entry.signal}[/bold] {title}:", highlight=False)
                for m in misses:
                    console.print(
                        f"  {m.trace_id}  {m.scenario:<50} {m.library:<17} {m.session_id}",
                        highlight=False,
                        soft_wrap=True,
                    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "heldout"], default="dev")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sessions-per-signal", type=int, default=6)
    parser.add_argument("--corpus", type=Path, help="score this corpus folder instead of building one")
    parser.add_argument("--rebuild", action="store_true", help="build the cached corpus again")
    parser.add_argument("--show-errors", action="store_true", help="list false positives and negatives")
    parser.add_argument("--min", type=float, help="exit 1 if a detector's precision or recall is below this")
    parser.add_argument("--quiet-s", type=float, default=5.0, help="signal count stable this long = done")
    parser.add_argument("--cost", action="store_true", help="also replay with detectors off; CPU per span")
    args = parser.parse_args(argv)

    corpus = args.corpus or ensure_corpus(args.split, args.seed, args.sessions_per_signal, args.rebuild)
    labels = [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines()]
    result, rows, cpu = run_once(corpus, True, IDLE_S, args.quiet_s)
    if result.failures:
        print(
            f"{len(result.failures)} requests failed, e.g.:\n  " + "\n  ".join(result.failures[:5]),
            file=sys.stderr,
        )
    scores = score(labels, rows)
    print(
        f"corpus {corpus}: {len(labels)} sessions, {result.spans} spans in {result.requests} requests, "
        f"{result.feedback} feedback posts; sent in {result.seconds:.1f} s "
        f"({result.spans / result.seconds:,.0f} spans/s, one request at a time); "
        f"collector CPU {cpu / max(result.spans, 1) * 1e6:,.0f} µs/span; {len(rows)} signal rows"
    )
    report(scores, args.min, args.show_errors)
    if args.cost:
        off, _, cpu_off = run_once(corpus, False, IDLE_S, args.quiet_s)
        on_us, off_us = cpu / max(result.spans, 1) * 1e6, cpu_off / max(off.spans, 1) * 1e6
        print(
            f"collector CPU per span (replay until stored): detectors on {on_us:,.0f} µs, "
            f"off {off_us:,.0f} µs, detection ≈ {on_us - off_us:,.0f} µs/span (small corpus: indicative only)"
        )
    if args.min is not None and (failing := below(scores, args.min)):
        print(f"below {args.min}: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 1 if result.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
