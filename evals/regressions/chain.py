"""Reading the regression set, and the one way rows get into it: :func:`append`.

``append`` reads the chain's head and writes after it, so it must run under the store's one
lock where the store lives: call it only from a ``@store_op`` (promote, add, tag, retire). It
never writes after a chain that lost rows since this ledger last saw it (see ``ledger``): a
rogue delete of the last rows is reported by ``verify`` instead of being papered over by the
next append. Nothing here, or anywhere in tracesieve, deletes or rewrites a row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore

from .ledger import Ledger, LedgerEntry, ledger_for
from .record import GENESIS, CaseRecord, EvalCase, chain_hash

__all__ = ["COLUMNS", "Appended", "append", "read_cases", "read_rows"]

COLUMNS = (
    "Seq, CaseId, PrevHash, ChainHash, Lineage, Supersedes, Status, "
    "toUnixTimestamp64Milli(CreatedAt) AS CreatedAt, Source, Input, Context, RetrievedDocuments, "
    "Output, Expected, Criteria, Categories, Severity, IncidentId, Tags, Signals, SessionId, TraceId, "
    "SpanId, ReviewCaseId, BatchId, LabelId, Reviewer, Provenance"
)
"""The columns :meth:`EvalCase.from_row` reads."""


async def read_rows(
    store: EvalStore, where: str = "", params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Rows of ``eval_cases`` (all columns of :data:`COLUMNS`) in Seq order."""
    sql = f"SELECT {COLUMNS} FROM eval_cases {where} ORDER BY Seq"
    return await store.select(sql, params)


async def read_cases(
    store: EvalStore, where: str = "", params: dict[str, Any] | None = None
) -> list[EvalCase]:
    cases = []
    for row in await read_rows(store, where, params):
        try:
            cases.append(EvalCase.from_row(row))
        except (ValueError, TypeError, KeyError) as exc:
            raise PermanentError(
                f"eval case seq {row.get('Seq')} no longer parses ({exc}): "
                "run `tracesieve regressions verify`"
            ) from exc
    return cases


@dataclass(frozen=True, slots=True)
class Appended:
    """What :func:`append` did: the rows written, and the ids it skipped as already present."""

    cases: list[EvalCase]
    skipped: list[str]


async def append(store: EvalStore, records: Sequence[CaseRecord], now_ms: int | None = None) -> Appended:
    """Append ``records`` after the chain's head, in order; skip any whose id is already present.

    Raises PermanentError when the table no longer holds what the ledger recorded (rows went
    missing or changed since the last append), or a record supersedes an unknown case.
    """
    ledger = ledger_for(store)
    head_seq, head_hash = await _checked_head(store, ledger)
    ids = [r.case_id() for r in records]
    present = await _present(store, ids)
    lineages = await _lineages(store, [r.supersedes for r in records if r.supersedes])
    created = int(time.time() * 1000) if now_ms is None else now_ms
    cases: list[EvalCase] = []
    skipped: list[str] = []
    for record, case_id in zip(records, ids, strict=True):
        if case_id in present:
            skipped.append(case_id)
            continue
        if record.supersedes and record.supersedes not in lineages:
            raise PermanentError(
                f"case {case_id[:12]} supersedes {record.supersedes[:12]}, which is not in the set"
            )
        lineage = lineages[record.supersedes] if record.supersedes else case_id
        link = chain_hash(head_hash, case_id)
        cases.append(EvalCase(head_seq + 1, case_id, head_hash, link, lineage, created, record))
        head_seq, head_hash = head_seq + 1, link
        present.add(case_id)
        lineages[case_id] = lineage
    if cases:
        await store.insert("eval_cases", [c.to_row() for c in cases])
        ledger.append([LedgerEntry(c.seq, c.case_id, c.chain_hash) for c in cases])
    return Appended(cases, skipped)


async def _checked_head(store: EvalStore, ledger: Ledger) -> tuple[int, str]:
    """The table's head (seq, chain hash), after checking it still holds the ledger's last row;
    rows appended elsewhere since are added to the ledger."""
    rows = await store.select("SELECT Seq, CaseId, ChainHash FROM eval_cases ORDER BY Seq DESC LIMIT 1")
    head_seq, head_hash = (int(rows[0]["Seq"]), str(rows[0]["ChainHash"])) if rows else (0, GENESIS)
    entries = ledger.read()
    last = entries[-1] if entries else None
    if last is None and head_seq:
        # A store this ledger never saw (a copied folder, another machine's server): adopt it.
        await _catch_up(store, ledger, 0)
        return head_seq, head_hash
    if last is None:
        return head_seq, head_hash
    found = await store.select(
        "SELECT CaseId, ChainHash FROM eval_cases WHERE Seq = {seq:UInt64}", {"seq": last.seq}
    )
    if [(r["CaseId"], r["ChainHash"]) for r in found] != [(last.case_id, last.chain_hash)]:
        raise PermanentError(
            f"the regression set no longer holds row {last.seq} (case {last.case_id[:12]}) as the ledger "
            f"{ledger.path} recorded it: rows went missing or changed; nothing was appended. "
            "Run `tracesieve regressions verify`."
        )
    if head_seq > last.seq:
        await _catch_up(store, ledger, last.seq)
    return head_seq, head_hash


async def _catch_up(store: EvalStore, ledger: Ledger, after_seq: int) -> None:
    rows = await store.select(
        "SELECT Seq, CaseId, ChainHash FROM eval_cases WHERE Seq > {seq:UInt64} ORDER BY Seq",
        {"seq": after_seq},
    )
    ledger.append([LedgerEntry(int(r["Seq"]), str(r["CaseId"]), str(r["ChainHash"])) for r in rows])


async def _present(store: EvalStore, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = await store.select(
        "SELECT DISTINCT CaseId FROM eval_cases WHERE has({ids:Array(String)}, CaseId)", {"ids": ids}
    )
    return {str(r["CaseId"]) for r in rows}


async def _lineages(store: EvalStore, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await store.select(
        "SELECT CaseId, any(Lineage) AS Lineage FROM eval_cases WHERE has({ids:Array(String)}, CaseId) "
        "GROUP BY CaseId",
        {"ids": ids},
    )
    return {str(r["CaseId"]): str(r["Lineage"]) for r in rows}
