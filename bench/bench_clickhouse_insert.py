"""ClickHouse sink write cost: ``consume()`` against a plain clickhouse-connect INSERT baseline.

Realistic OTel-GenAI chat spans of about 3 KB (system prompt, user question with retrieved
context, answer, gen_ai.* attributes, retrieved documents), 1,000 per call, many calls, into
embedded chDB (a fresh folder) or the server given by ``--dsn``. Measured in one run:

* baseline — ``client.insert()`` of the same columns, already built, 1,000 rows per INSERT,
  one at a time: the least it can cost to store these rows with clickhouse-connect;
* consume, sequential — one caller at a time, 1,000 spans per call, ``flush_interval_s=0``:
  every call becomes one INSERT, so the difference to the baseline is the sink's own cost
  (dedupe keys, building the columns, the worker thread, group-commit bookkeeping);
* consume, concurrent — ``--concurrency`` callers at once, each awaiting its call before the
  next, with the default linger (``flush_interval_s=0.2``) and with none: group commit folds
  their calls into larger INSERTs. (A closed loop: the callers all wait for the same INSERT,
  so the linger is dead time here that independent clients would overlap.)

Reports rows/s (wall clock) and µs of CPU per row (the whole process, chDB's threads
included), and the ratios to the baseline. Every ``consume()`` returns only once its rows are
in ClickHouse, so its rows/s is durable throughput.

    /work/venv/bin/python bench/bench_clickhouse_insert.py [--calls 40] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.sinks.clickhouse.config import BatchConfig, ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.migrate import migrate
from tracesieve.sinks.clickhouse.rows import COLUMN_NAMES, COLUMN_TYPES, build_columns
from tracesieve.sinks.clickhouse.sink import ClickHouseSink
from tracesieve.sinks.clickhouse.store import connect

BASE_NS = 1_760_000_000_000_000_000
SYSTEM = (
    "You are the support assistant of an online shop. Answer from the context only; when the "
    "context does not contain the answer, say so and offer to open a ticket. Be concise and kind."
)
PASSAGE = (
    "Orders placed before 2 pm ship the same day from the Rotterdam warehouse. Standard delivery "
    "takes two to four working days within the EU; express delivery takes one to two. "
)


def make_span(n: int) -> CanonicalSpan:
    """One ~3 KB chat span; ``n`` makes its ids and texts unique."""
    context = f"[doc-{n % 97}] {PASSAGE * 5}"
    question = f"Hi, my order #{n:08d} has not arrived yet, it has been five days. Where is it?"
    answer = (
        f"I'm sorry about the wait for order #{n:08d}. Standard delivery takes two to four working "
        "days, so it should arrive very soon. " + PASSAGE
    )
    start = BASE_NS + n * 1_000_003
    return CanonicalSpan(
        trace_id=os.urandom(16).hex(),
        span_id=os.urandom(8).hex(),
        parent_span_id=os.urandom(8).hex(),
        name="chat gpt-4o-mini",
        start_ns=start,
        end_ns=start + 850_000_000 + n % 1000 * 1_000_000,
        otel_kind="Client",
        status_code="Unset",
        service_name="shop-support",
        scope_name="opentelemetry.instrumentation.openai_v2",
        scope_version="2.4b0",
        resource_attributes={
            "service.name": "shop-support",
            "service.version": "1.8.2",
            "deployment.environment": "prod",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.38.0",
        },
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": f"chatcmpl-{n}",
            "gen_ai.response.finish_reasons": '["stop"]',
            "gen_ai.usage.input_tokens": "412",
            "gen_ai.usage.output_tokens": "96",
            "gen_ai.request.temperature": "0.2",
            "session.id": f"sess-{n // 6}",
            "user.id": f"user-{n // 30}",
            "server.address": "api.openai.com",
        },
        kind="llm",
        operation="chat",
        provider="openai",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        response_id=f"chatcmpl-{n}",
        session_id=f"sess-{n // 6}",
        user_id=f"user-{n // 30}",
        turn_index=n % 6,
        system_instructions=SYSTEM,
        input_messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
        ],
        output_messages=[{"role": "assistant", "content": answer}],
        output_text=answer,
        finish_reasons=["stop"],
        input_tokens=412,
        output_tokens=96,
        retrieved_documents=[{"id": f"doc-{n % 97}", "score": 0.82, "content": PASSAGE}],
        convention="otel_genai",
    )


def batches(first: int, calls: int, size: int) -> list[list[CanonicalSpan]]:
    """``calls`` lists of ``size`` distinct spans, generated before any clock starts.

    They are moved out of the garbage collector's sight (``gc.freeze``): a collector holds a
    few requests' spans at a time, not the whole run's, and full collections over all of them
    would be billed to whichever variant happens to trigger them.
    """
    made = [[make_span(first + c * size + i) for i in range(size)] for c in range(calls)]
    gc.collect()
    gc.freeze()
    return made


def span_bytes(span: CanonicalSpan) -> int:
    """The span's payload as stored: every string column, map and JSON column, in bytes."""
    row = build_columns([span], 0)
    total = 0
    for column in row:
        value = column[0]
        if isinstance(value, bytes | str):
            total += len(value.encode() if isinstance(value, str) else value)
        elif isinstance(value, dict):
            total += sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
        elif isinstance(value, list):
            total += sum(len(str(v).encode()) for v in value)
        else:
            total += 8
    return total


@dataclass
class Result:
    label: str
    rows: int
    wall_s: float
    cpu_s: float
    inserts: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s

    @property
    def cpu_us_per_row(self) -> float:
        return self.cpu_s / self.rows * 1e6


class Clock:
    """Accumulates wall and process-CPU time over the timed sections only."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def timed(self) -> Callable[[], None]:
        w, c = time.perf_counter(), time.process_time()

        def stop() -> None:
            self.wall += time.perf_counter() - w
            self.cpu += time.process_time() - c

        return stop


def run_baseline(dsn: str, calls: int, size: int, rep: int) -> Result:
    client = connect(dsn)
    database = f"bench_baseline_{rep}"
    try:
        migrate(client, database)
        clock = Clock()
        for spans in batches(rep * 100_000_000, calls, size):
            columns = build_columns(spans, int(time.time() * 1000))  # not timed: the baseline's input
            stop = clock.timed()
            client.insert(
                "spans",
                columns,
                database=database,
                column_names=COLUMN_NAMES,
                column_type_names=COLUMN_TYPES,
                column_oriented=True,
            )
            stop()
        return Result("baseline: client.insert()", calls * size, clock.wall, clock.cpu, calls)
    finally:
        client.close()
        gc.unfreeze()


async def run_consume(
    dsn: str, calls: int, size: int, concurrency: int, flush_interval_s: float, rep: int
) -> Result:
    """``concurrency`` callers, each calling ``consume()`` in a loop, all at once."""
    batch = BatchConfig(flush_interval_s=flush_interval_s)
    database = f"bench_c{concurrency}_l{int(flush_interval_s * 1000)}_{rep}"
    sink = ClickHouseSink(ClickHouseSinkConfig(dsn=dsn, database=database, batch=batch))
    await sink.start()
    try:
        per_caller = calls // concurrency
        first = rep * 100_000_000 + 10_000_000 * (concurrency + int(flush_interval_s * 10))
        work = batches(first, per_caller * concurrency, size)

        async def caller(mine: list[list[CanonicalSpan]]) -> None:
            for spans in mine:
                await sink.consume(spans)

        clock = Clock()
        stop = clock.timed()
        await asyncio.gather(*(caller(work[i::concurrency]) for i in range(concurrency)))
        stop()
        label = "consume(), sequential" if concurrency == 1 else f"consume(), {concurrency} concurrent"
        label += f", linger {flush_interval_s:g} s"
        return Result(label, per_caller * concurrency * size, clock.wall, clock.cpu, sink.stats.inserts)
    finally:
        await sink.aclose(time.monotonic() + 60)
        gc.unfreeze()


def set_merges(dsn: str, on: bool) -> None:
    """Background merges would bill one variant's parts to the next one's clock: off while timing."""
    client = connect(dsn)
    try:
        client.command("SYSTEM START MERGES" if on else "SYSTEM STOP MERGES")
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="consume() calls (and baseline INSERTs)")
    parser.add_argument("--size", type=int, default=1000, help="spans per call")
    parser.add_argument("--concurrency", type=int, default=8, help="callers in the concurrent run")
    parser.add_argument("--dsn", help="ClickHouse DSN (default: embedded chDB in a fresh temp folder)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; medians are shown")
    args = parser.parse_args()

    tmp = None if args.dsn else tempfile.mkdtemp(prefix="bench-ch-")
    dsn = args.dsn or f"chdb://{tmp}/chdb"
    print(
        f"store {dsn}; spans of {span_bytes(make_span(0)) / 1000:.1f} KB, {args.size} per call, "
        f"{args.calls} calls, median of {args.repeat} runs; merges stopped while timing"
    )
    c, n = args.calls, args.size
    variants: list[Callable[[int], Result]] = [
        lambda rep: run_baseline(dsn, c, n, rep),
        lambda rep: asyncio.run(run_consume(dsn, c, n, 1, 0.0, rep)),
        lambda rep: asyncio.run(run_consume(dsn, c, n, args.concurrency, 0.2, rep)),
        lambda rep: asyncio.run(run_consume(dsn, c, n, args.concurrency, 0.0, rep)),
    ]
    runs: list[list[Result]] = [[] for _ in variants]
    try:
        run_baseline(dsn, 3, n, rep=99)  # warm-up: engine start, first parts
        set_merges(dsn, on=False)
        for rep in range(args.repeat):  # interleaved, so drift hits every variant alike
            for i, variant in enumerate(variants):
                runs[i].append(variant(rep))
        set_merges(dsn, on=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    results = [
        Result(
            r[0].label,
            r[0].rows,
            statistics.median(x.wall_s for x in r),
            statistics.median(x.cpu_s for x in r),
            r[0].inserts,
        )
        for r in runs
    ]
    base = results[0]
    header = f"{'rows/s':>9} {'CPU µs/row':>11} {'INSERTs':>8} {'rows/s ÷ base':>14} {'CPU ÷ base':>11}"
    print(f"\n{'':40} {header}")
    for r in results:
        print(
            f"{r.label:40} {r.rows_per_s:9,.0f} {r.cpu_us_per_row:11.1f} {r.inserts:8d} "
            f"{r.rows_per_s / base.rows_per_s:14.2f} {r.cpu_us_per_row / base.cpu_us_per_row:11.2f}"
        )


if __name__ == "__main__":
    main()
