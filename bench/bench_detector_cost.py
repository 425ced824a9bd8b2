"""In-process cost of the session processor and of each detector, in µs per span.

Feeds normalised spans through :class:`SessionProcessor` in batches of 100, as the pipeline
does, with the service's GC settings (gen0 threshold 50,000), and times it: first with no
detector (the session state alone, the baseline), then with each detector alone, then with
all of them. Two loads:

* ``ingest``: the throughput benchmarks' load (``_load.genai_request``): every span an LLM turn
  of one of 200 sessions per request, with history and a long answer: the worst case, every
  span a new turn compared with the turns before it;
* ``ingest, steady``: the same load timed after ``--warm`` requests went through first (by
  default 10,000 spans: 2,000 more sessions held, caches warm), as a collector that has been
  running a while;
* ``corpus``: the spans of the detector-quality corpus (``bench/.corpus/dev-1``, built by
  ``bench_detectors.py``), when it is there: realistic sessions, several spans per turn.

    .venv/bin/python bench/bench_detector_cost.py [--requests 5] [--warm 10] [--only rephrase,refusal]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _load import genai_request, machine_speed_s
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.processors.detectors import build_detectors
from tracesieve.processors.normalise import NormaliseConfig, normalise_traces
from tracesieve.processors.scoring import Scorer, ScoringConfig
from tracesieve.processors.sessions import SessionProcessor, SessionsConfig

CORPUS = Path(__file__).parent / ".corpus" / "dev-1"


def ingest_spans(requests: int) -> list[CanonicalSpan]:
    spans: list[CanonicalSpan] = []
    for seed in range(requests):
        request = ExportTraceServiceRequest.FromString(genai_request(1000, seed))
        spans.extend(normalise_traces(request, NormaliseConfig())[0])
    return spans


def corpus_spans() -> list[CanonicalSpan]:
    spans: list[CanonicalSpan] = []
    for path in sorted(CORPUS.glob("*_traces.pb")):
        request = ExportTraceServiceRequest.FromString(path.read_bytes())
        spans.extend(normalise_traces(request, NormaliseConfig())[0])
    # Session ids are on root spans for some libraries: give every span of a trace its session.
    by_trace = {s.trace_id: s.session_id for s in spans if s.session_id}
    for span in spans:
        span.session_id = span.session_id or by_trace.get(span.trace_id, "")
    return spans


def cost_us(
    spans: Sequence[CanonicalSpan],
    names: Sequence[str],
    rounds: int = 3,
    warm: Sequence[CanonicalSpan] = (),
) -> float:
    best = float("inf")
    for _ in range(rounds):
        # Fresh detectors every round: caches must not carry over from the previous round.
        detectors = [d for d in build_detectors({}) if d.name in names]
        processor = SessionProcessor(SessionsConfig(), detectors, Scorer(ScoringConfig()))
        for i in range(0, len(warm), 100):
            processor.process(warm[i : i + 100])
        gc.collect()
        start = time.perf_counter()
        for i in range(0, len(spans), 100):
            processor.process(spans[i : i + 100])
        best = min(best, time.perf_counter() - start)
    return best / len(spans) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5, help="requests of 1,000 spans in the ingest load")
    parser.add_argument(
        "--warm", type=int, default=10, help="requests sent before the clock in the steady-state column"
    )
    parser.add_argument("--only", default="", help="comma-separated detector names (default: all)")
    args = parser.parse_args()
    gc.set_threshold(50_000, 50, 100)
    console = Console()
    console.print(f"machine speed: a 10M-step Python loop takes {machine_speed_s():.2f} s (lower is faster)")
    both = ingest_spans(args.warm + args.requests)
    warm_spans = both[: args.warm * 1000]
    loads = {"ingest": both[: args.requests * 1000], "ingest, steady": both[args.warm * 1000 :]}
    warmed = {"ingest, steady": warm_spans}
    if CORPUS.is_dir():
        loads["corpus"] = corpus_spans()
    gc.freeze()
    every = build_detectors({})
    names = [n for n in args.only.split(",") if n] or [d.name for d in every]
    table = Table(title="session processor cost, µs per span (best of 3)")
    table.add_column("detectors")
    for name, spans in loads.items():
        table.add_column(f"{name} ({len(spans):,} spans)", justify="right")
    rows: list[tuple[str, list[str]]] = [("none (session state only)", [])]
    rows += [(name, [name]) for name in names]
    rows.append(("all", [d.name for d in every]))
    base = {load: cost_us(spans, [], warm=warmed.get(load, ())) for load, spans in loads.items()}
    for label, chosen in rows:
        cells = []
        for load, spans in loads.items():
            us = base[load] if not chosen else cost_us(spans, chosen, warm=warmed.get(load, ()))
            cells.append(f"{us:.1f}" if not chosen else f"{us:.1f} (+{us - base[load]:.1f})")
        table.add_row(label, *cells)
    console.print(table)


if __name__ == "__main__":
    main()
