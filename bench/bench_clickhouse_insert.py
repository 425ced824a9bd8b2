"""ClickHouse sink write cost: the JSONCompactEachRow INSERT against the old Native one, and consume().

Realistic OTel-GenAI chat spans of about 3 KB (system prompt, user question with retrieved
context, answer, gen_ai.* attributes, retrieved documents), 1,000 per call, many calls, into
embedded chDB (a fresh folder) or the server given by ``--dsn``. Measured in one run:

* old: Native — what the sink did before: ``build_columns()`` (kept here, only as the
  baseline) and clickhouse-connect's column-oriented ``client.insert()``, which encodes the
  Native format in the calling thread;
* new: JSONCompactEachRow — what the sink does now: ``build_rows()`` (one ``orjson.dumps`` per
  batch) and ``client.raw_insert(fmt="JSONCompactEachRow")``; ClickHouse parses the text;
* consume, sequential — one caller at a time, 1,000 spans per call, ``flush_interval_s=0``:
  every call becomes one INSERT, so the difference to "new" is the sink's own cost (dedupe
  keys, the worker thread, group-commit bookkeeping);
* consume, concurrent — ``--concurrency`` callers at once, each awaiting its call before the
  next, with the default linger (``flush_interval_s=0.2``) and with none: group commit folds
  their calls into larger INSERTs. (A closed loop: the callers all wait for the same INSERT,
  so the linger is dead time here that independent clients would overlap.)

Reports rows/s (wall clock), µs of CPU per row for the whole process (chDB's threads
included) and, for the two direct paths, µs of CPU per row of the calling thread (building
the rows plus the client's INSERT call) — on chDB split into the part inside the engine call,
which releases the GIL, and the rest, which holds it: the part that limits how many spans/s
one Python process can ingest. Ratios are to the old path. Every ``consume()`` returns only
once its rows are in ClickHouse, so its rows/s is durable throughput.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.sinks.clickhouse.config import BatchConfig, ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.migrate import migrate
from tracesieve.sinks.clickhouse.rows import (
    COLUMN_NAMES,
    COLUMNS,
    INSERT_FORMAT,
    SPAN_INSERT_SETTINGS,
    build_rows,
)
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


# -- the old write path, kept only as the baseline ----------------------------------------------

COLUMN_TYPES: tuple[str, ...] = tuple(type_ for _, type_ in COLUMNS)
_EMPTY_JSON_LIST = b"[]"


def _json(value: Any) -> bytes:
    return orjson.dumps(value) if value else _EMPTY_JSON_LIST


def build_columns(spans: Sequence[CanonicalSpan], ingest_time_ms: int) -> list[list[Any]]:
    """The sink's former column builder: column arrays for a Native ``client.insert()``."""
    cols: list[list[Any]] = [[] for _ in COLUMNS]
    (
        timestamp, trace_id, span_id, parent_span_id, trace_state, span_name, span_kind,
        service_name, resource_attributes, scope_name, scope_version, span_attributes, duration,
        status_code, status_message, ev_ts, ev_name, ev_attrs, ln_trace, ln_span, ln_state,
        ln_attrs, session_id, user_id, turn_index, kind, operation, provider, request_model,
        response_model, response_id, system_instructions, input_messages, output_messages,
        output_text, refusal, finish_reasons, input_tokens, output_tokens, error_type,
        retrieval_query, retrieved_documents, tool_calls, convention, ingest_time,
    ) = (c.append for c in cols)  # fmt: skip
    dumps = orjson.dumps
    for s in spans:
        timestamp(s.start_ns)
        trace_id(s.trace_id)
        span_id(s.span_id)
        parent_span_id(s.parent_span_id)
        trace_state(s.trace_state)
        span_name(s.name)
        span_kind(s.otel_kind)
        service_name(s.service_name)
        resource_attributes(s.resource_attributes)
        scope_name(s.scope_name)
        scope_version(s.scope_version)
        span_attributes(s.attributes)
        duration(s.end_ns - s.start_ns if s.end_ns > s.start_ns else 0)
        status_code(s.status_code)
        status_message(s.status_message)
        events = s.events
        if events:
            ev_ts([e[0] for e in events])
            ev_name([e[1] for e in events])
            ev_attrs([e[2] for e in events])
        else:
            ev_ts([])
            ev_name([])
            ev_attrs([])
        links = s.links
        if links:
            ln_trace([k[0] for k in links])
            ln_span([k[1] for k in links])
            ln_state([k[2] for k in links])
            ln_attrs([k[3] for k in links])
        else:
            ln_trace([])
            ln_span([])
            ln_state([])
            ln_attrs([])
        session_id(s.session_id)
        user_id(s.user_id)
        turn_index(s.turn_index)
        kind(s.kind)
        operation(s.operation)
        provider(s.provider)
        request_model(s.request_model)
        response_model(s.response_model)
        response_id(s.response_id)
        system_instructions(s.system_instructions)
        input_messages(dumps(s.input_messages))
        output_messages(dumps(s.output_messages))
        output_text(s.output_text)
        refusal(s.refusal)
        finish_reasons(s.finish_reasons)
        input_tokens(s.input_tokens)
        output_tokens(s.output_tokens)
        error_type(s.error_type)
        retrieval_query(s.retrieval_query)
        retrieved_documents(_json(s.retrieved_documents))
        tool_calls(_json(s.tool_calls))
        convention(s.convention)
        ingest_time(ingest_time_ms)
    return cols


def insert_native(client: Client, database: str, spans: Sequence[CanonicalSpan]) -> None:
    """The old INSERT: Native format, encoded by clickhouse-connect in this thread."""
    client.insert(
        "spans",
        build_columns(spans, int(time.time() * 1000)),
        database=database,
        column_names=COLUMN_NAMES,
        column_type_names=COLUMN_TYPES,
        column_oriented=True,
    )


def insert_json(client: Client, database: str, spans: Sequence[CanonicalSpan]) -> None:
    """The new INSERT, as ``ClickHouseSink`` runs it."""
    client.raw_insert(
        f"{database}.spans",
        column_names=list(COLUMN_NAMES),
        insert_block=build_rows(spans, int(time.time() * 1000)),  # type: ignore[arg-type]
        settings=SPAN_INSERT_SETTINGS,
        fmt=INSERT_FORMAT,
    )


# -- the workload -------------------------------------------------------------------------------


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
    cpu_s: float  # the whole process
    inserts: int
    thread_s: float | None = None  # the calling thread (direct INSERTs only)
    engine_s: float | None = None  # of which inside chDB's engine call, GIL released (chDB only)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s

    @property
    def cpu_us_per_row(self) -> float:
        return self.cpu_s / self.rows * 1e6

    def per_row_us(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.rows * 1e6


class Clock:
    """Accumulates wall, process-CPU and calling-thread CPU time over the timed sections only."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.thread = 0.0

    def timed(self) -> Callable[[], None]:
        w, c, t = time.perf_counter(), time.process_time(), time.thread_time()

        def stop() -> None:
            self.wall += time.perf_counter() - w
            self.cpu += time.process_time() - c
            self.thread += time.thread_time() - t

        return stop


class EngineMeter:
    """Calling-thread CPU spent inside chDB's engine calls, which run with the GIL released.

    Wraps the query method of the client's chDB connection (a private attribute of
    clickhouse-connect 1.12, hence the guard); ``seconds`` stays None for a server DSN or
    another client version.
    """

    def __init__(self, client: Client) -> None:
        self.seconds: float | None = None
        conn: Any = getattr(getattr(getattr(client, "_backend", None), "_handle", None), "conn", None)
        inner = getattr(conn, "query", None)
        if inner is None:
            return
        self.seconds = 0.0

        def query(*args: Any, **kwargs: Any) -> Any:
            t = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds = (self.seconds or 0.0) + time.thread_time() - t

        conn.query = query


def run_direct(dsn: str, calls: int, size: int, rep: int, new: bool) -> Result:
    """One INSERT per call of ``size`` spans, built and sent in this thread, one at a time."""
    client = connect(dsn)
    database = f"bench_{'json' if new else 'native'}_{rep}"
    insert = insert_json if new else insert_native
    try:
        migrate(client, database)
        meter = EngineMeter(client)
        clock = Clock()
        for spans in batches(rep * 100_000_000 + (50_000_000 if new else 0), calls, size):
            stop = clock.timed()
            insert(client, database, spans)  # building the rows is part of the cost
            stop()
        label = "new: JSONCompactEachRow, raw_insert()" if new else "old: Native, insert()"
        return Result(label, calls * size, clock.wall, clock.cpu, calls, clock.thread, meter.seconds)
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
    parser.add_argument("--calls", type=int, default=40, help="INSERTs of the direct paths, consume() calls")
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
        lambda rep: run_direct(dsn, c, n, rep, new=False),
        lambda rep: run_direct(dsn, c, n, rep, new=True),
        lambda rep: asyncio.run(run_consume(dsn, c, n, 1, 0.0, rep)),
        lambda rep: asyncio.run(run_consume(dsn, c, n, args.concurrency, 0.2, rep)),
        lambda rep: asyncio.run(run_consume(dsn, c, n, args.concurrency, 0.0, rep)),
    ]
    runs: list[list[Result]] = [[] for _ in variants]
    try:
        run_direct(dsn, 3, n, rep=99, new=False)  # warm-up: engine start, first parts
        run_direct(dsn, 3, n, rep=99, new=True)
        set_merges(dsn, on=False)
        for rep in range(args.repeat):  # interleaved, so drift hits every variant alike
            for i, variant in enumerate(variants):
                runs[i].append(variant(rep))
        set_merges(dsn, on=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    results = [median_result(r) for r in runs]
    print_table(results)


def median_result(runs: list[Result]) -> Result:
    def median(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    first = runs[0]
    return Result(
        first.label,
        first.rows,
        statistics.median(x.wall_s for x in runs),
        statistics.median(x.cpu_s for x in runs),
        first.inserts,
        median([x.thread_s for x in runs]),
        median([x.engine_s for x in runs]),
    )


def print_table(results: list[Result]) -> None:
    """Per row: rows/s, process CPU, calling-thread CPU (engine part / GIL-held rest); ratios to old."""

    def us(value: float | None, width: int) -> str:
        return f"{value:{width}.1f}" if value is not None else f"{'–':>{width}}"

    def ratio(new: float | None, old: float | None) -> str:
        return f"{new / old:6.2f}" if new is not None and old else f"{'–':>6}"

    old = results[0]
    old_thread, old_engine = old.per_row_us(old.thread_s), old.per_row_us(old.engine_s)
    old_held = None if old_thread is None or old_engine is None else old_thread - old_engine
    print(
        f"\n{'µs per row':40} {'rows/s':>8} {'process':>8} {'thread':>7} {'engine':>7} {'GIL':>6}"
        f" {'INSERTs':>8} | ÷ old: {'rows/s':>6} {'process':>7} {'thread':>6} {'GIL':>6}"
    )
    for r in results:
        thread, engine = r.per_row_us(r.thread_s), r.per_row_us(r.engine_s)
        held = None if thread is None or engine is None else thread - engine
        speed, cpu = r.rows_per_s / old.rows_per_s, r.cpu_us_per_row / old.cpu_us_per_row
        print(
            f"{r.label:40} {r.rows_per_s:8,.0f} {r.cpu_us_per_row:8.1f} {us(thread, 7)} {us(engine, 7)}"
            f" {us(held, 6)} {r.inserts:8d} |        {speed:6.2f} {cpu:7.2f}"
            f" {ratio(thread, old_thread)} {ratio(held, old_held)}"
        )
    print(
        "\nprocess: CPU of every thread; thread: the calling thread (building the rows and the "
        "client's INSERT call); engine: its part inside chDB's engine call (GIL released); GIL: "
        "the rest, which holds the GIL."
    )


if __name__ == "__main__":
    main()
