"""Review batches in the store: building a drawn batch's rows, finding and reading stored ones.

A batch is one INSERT into ``review_batches``, one row per case (``migrations/0003``), in
drawing order (``Position`` 1, 2, …). Its id is content-addressed:
``<week>-<first 12 hex of SHA-256(week, seed, case ids in order)>``, so the same draw gives the
same id. Each row copies the turn from ``flagged_spans FINAL`` (question, answer, input
messages, session context, retrieved documents) and its signals from ``signals FINAL`` (score,
category and evidence per signal), so a batch reads the same after the spans expire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.ids import review_case_id
from tracesieve.evals.json_columns import json_column
from tracesieve.evals.store import EvalStore
from tracesieve.processors.sampling import WeekSample, as_float32, question_signature

from .draw import Exclusions, Pick
from .weeks import week_bounds_ns

__all__ = [
    "BATCH_COLUMNS",
    "Batch",
    "BatchInfo",
    "batch_id_of",
    "build_batch",
    "list_batches",
    "load_batch",
    "load_exclusions",
]

BATCH_COLUMNS = (
    "BatchId", "Week", "CreatedAt", "Seed", "Position", "CaseId", "Category", "Timestamp", "SessionId",
    "TraceId", "SpanId", "ServiceName", "UserId", "TurnIndex", "FlagScore", "Signals", "Categories",
    "Evidence", "Model", "UserMessage", "OutputText", "InputMessages", "RetrievedDocuments",
    "SessionContext", "ClusterSize", "ClusterExamples", "Params",
)  # fmt: skip
"""The columns of ``review_batches``; rows are dicts with these keys, as stored and read back."""

_TIMES = {"CreatedAt": "toUnixTimestamp64Milli(CreatedAt)", "Timestamp": "toUnixTimestamp64Nano(Timestamp)"}
_READ = ", ".join(f"{_TIMES[c]} AS {c}" if c in _TIMES else c for c in BATCH_COLUMNS)

_TURN_COLUMNS = (
    "toUnixTimestamp64Nano(Timestamp) AS ts, SessionId, TraceId, SpanId, ServiceName, UserId, "
    "TurnIndex, FlagScore, Signals, Categories, Evidence, Model, UserMessage, OutputText, InputMessages, "
    "RetrievedDocuments, SessionContext"
)


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A stored batch, as listed for its week."""

    batch_id: str
    week: str
    seed: int
    size: int
    cases: int
    created_at_ms: int
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch's rows (dicts with BATCH_COLUMNS, JSON values, ``Position`` order)."""

    batch_id: str
    week: str
    seed: int
    created_at_ms: int
    params: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def size(self) -> int:
        """The size asked for (the batch may hold fewer cases when candidates ran out)."""
        return int(self.params.get("size", len(self.rows)))

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> Batch:
        if not rows:
            raise PermanentError("a batch has at least one case")
        first = rows[0]
        return cls(
            batch_id=str(first["BatchId"]),
            week=str(first["Week"]),
            seed=int(first["Seed"]),
            created_at_ms=int(first["CreatedAt"]),
            params=orjson.loads(first["Params"] or "{}"),
            rows=[dict(r) for r in sorted(rows, key=lambda r: int(r["Position"]))],
        )


def batch_id_of(week: str, seed: int, case_ids: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join([week, str(seed), *case_ids]).encode()).hexdigest()
    return f"{week}-{digest[:12]}"


async def list_batches(store: EvalStore, week: str) -> list[BatchInfo]:
    """The week's stored batches, oldest first."""
    rows = await store.select(
        "SELECT BatchId, any(Seed) AS Seed, any(Params) AS Params, count() AS cases, "
        "min(toUnixTimestamp64Milli(CreatedAt)) AS created FROM review_batches "
        "WHERE Week = {week:String} GROUP BY BatchId ORDER BY created, BatchId",
        {"week": week},
    )
    out = []
    for row in rows:
        params = orjson.loads(row["Params"] or "{}")
        out.append(
            BatchInfo(
                batch_id=row["BatchId"],
                week=week,
                seed=int(row["Seed"]),
                size=int(params.get("size", 0)),
                cases=int(params.get("cases", row["cases"])),
                created_at_ms=int(row["created"]),
                params=params,
            )
        )
    return out


async def load_batch(store: EvalStore, batch_id: str) -> Batch:
    """A stored batch (a case written twice by a retried INSERT is read once)."""
    rows = await store.select(
        f"SELECT {_READ} FROM review_batches WHERE BatchId = {{id:String}} "
        "ORDER BY Position, CreatedAt LIMIT 1 BY Position",
        {"id": batch_id},
    )
    if not rows:
        raise PermanentError(f"no review batch {batch_id!r}")
    return Batch.from_rows(rows)


async def load_exclusions(store: EvalStore, week: str, sample: WeekSample) -> Exclusions:
    """Which of the sample's candidates were reviewed or sent before, and the questions already
    represented in the week's earlier batches."""
    ids = sorted({review_case_id(c.turn.trace_id, c.turn.span_id) for c in sample.candidates()})
    excluded: set[str] = set()
    if ids:
        for table in ("labels", "review_batches"):
            rows = await store.select(
                f"SELECT DISTINCT CaseId FROM {table} WHERE CaseId IN {{ids:Array(String)}}", {"ids": ids}
            )
            excluded.update(r["CaseId"] for r in rows)
    earlier = await store.select(
        "SELECT DISTINCT UserMessage FROM review_batches WHERE Week = {week:String}", {"week": week}
    )
    signatures = {s for r in earlier if (s := question_signature(r["UserMessage"])) is not None}
    return Exclusions(frozenset(excluded), frozenset(signatures))


async def build_batch(
    store: EvalStore,
    week: str,
    picks: Sequence[Pick],
    *,
    seed: int,
    created_at_ms: int,
    params: Mapping[str, Any],
) -> Batch:
    """The batch's rows: each pick with its turn's content and signals read from the store.

    A pick whose turn is no longer in ``flagged_spans`` (expired between the draw and now) is
    left out; ``params`` gets ``size``-independent facts added (``cases``)."""
    turns = await _turn_rows(store, week, picks)
    signals = await _signal_rows(store, sorted({p.candidate.turn.trace_id for p in picks}))
    kept = [(p, turns[p.candidate.turn.turn_id]) for p in picks if p.candidate.turn.turn_id in turns]
    case_ids = [review_case_id(p.candidate.turn.trace_id, p.candidate.turn.span_id) for p, _ in kept]
    batch_id = batch_id_of(week, seed, case_ids)
    all_params = {**params, "cases": len(kept)}
    params_text = orjson.dumps(all_params, option=orjson.OPT_SORT_KEYS).decode()
    rows: list[dict[str, Any]] = []
    for position, ((pick, turn), case_id) in enumerate(zip(kept, case_ids, strict=True), start=1):
        rows.append(
            {
                "BatchId": batch_id,
                "Week": week,
                "CreatedAt": created_at_ms,
                "Seed": seed,
                "Position": position,
                "CaseId": case_id,
                "Category": pick.category,
                "Timestamp": int(turn["ts"]),
                "SessionId": turn["SessionId"],
                "TraceId": turn["TraceId"],
                "SpanId": turn["SpanId"],
                "ServiceName": turn["ServiceName"],
                "UserId": turn["UserId"],
                "TurnIndex": int(turn["TurnIndex"]),
                "FlagScore": as_float32(float(turn["FlagScore"])),
                "Signals": list(turn["Signals"]),
                "Categories": list(turn["Categories"]),
                "Evidence": _evidence(turn, signals),
                "Model": turn["Model"],
                "UserMessage": turn["UserMessage"],
                "OutputText": turn["OutputText"],
                "InputMessages": turn["InputMessages"],
                "RetrievedDocuments": turn["RetrievedDocuments"],
                "SessionContext": turn["SessionContext"],
                "ClusterSize": pick.cluster_size,
                "ClusterExamples": orjson.dumps(list(pick.cluster_examples)).decode(),
                "Params": params_text,
            }
        )
    return Batch(batch_id, week, seed, created_at_ms, all_params, rows)


async def _turn_rows(store: EvalStore, week: str, picks: Sequence[Pick]) -> dict[str, dict[str, Any]]:
    if not picks:
        return {}
    start, end = week_bounds_ns(week)
    wanted = {p.candidate.turn.turn_id for p in picks}
    rows = await store.select(
        f"SELECT {_TURN_COLUMNS} FROM flagged_spans FINAL WHERE TraceId IN {{traces:Array(String)}} "
        "AND Timestamp >= fromUnixTimestamp64Nano({start:Int64}) "
        "AND Timestamp < fromUnixTimestamp64Nano({end:Int64})",
        {"traces": sorted({p.candidate.turn.trace_id for p in picks}), "start": start, "end": end},
    )
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        turn_id = f"{row['TraceId'].lower()}/{row['SpanId'].lower()}"
        if turn_id in wanted:
            found[turn_id] = row
    return found


async def _signal_rows(
    store: EvalStore, traces: Sequence[str]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``(trace_id, signal)`` → its rows in ``signals FINAL`` (one per span it is on)."""
    if not traces:
        return {}
    rows = await store.select(
        "SELECT TraceId, SpanId, Signal, Category, Score, Evidence FROM signals FINAL "
        "WHERE TraceId IN {traces:Array(String)}",
        {"traces": list(traces)},
    )
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault((row["TraceId"].lower(), row["Signal"]), []).append(row)
    return out


def _evidence(turn: Mapping[str, Any], signals: Mapping[tuple[str, str], list[dict[str, Any]]]) -> str:
    """``{signal: {...evidence, "score", "span_id", "category"}}``, strongest signal first: the
    shape of ``flagged_spans.Evidence``, with each signal's category and its stored score."""
    flagged = _json_object(turn["Evidence"])
    trace_id = str(turn["TraceId"]).lower()
    out: list[tuple[float, str, dict[str, Any]]] = []
    for name in turn["Signals"]:
        base = flagged.get(name)
        base = dict(base) if isinstance(base, dict) else {}
        span_id = str(base.get("span_id") or turn["SpanId"]).lower()
        stored = signals.get((trace_id, name), [])
        match = next((r for r in stored if r["SpanId"].lower() == span_id), stored[0] if stored else None)
        if match is not None:
            evidence = _json_object(match["Evidence"])
            evidence.update(
                score=round(float(match["Score"]), 4), span_id=match["SpanId"], category=match["Category"]
            )
        else:  # the signal row expired or never came: what the flagged row says
            evidence = {**base, "category": base.get("category", "")}
            evidence.setdefault("span_id", span_id)
            evidence.setdefault("score", 0.0)
        out.append((float(evidence.get("score") or 0.0), name, evidence))
    out.sort(key=lambda item: (-item[0], item[1]))
    return orjson.dumps({name: evidence for _, name, evidence in out}).decode()


def _json_object(text: Any) -> dict[str, Any]:
    value = json_column(text, {})
    return dict(value) if isinstance(value, dict) else {}
