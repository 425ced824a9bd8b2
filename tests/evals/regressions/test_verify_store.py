"""`verify` on the store: rows removed, edited or reordered by a rogue SQL user are named.

The rogue client runs what tracesieve never does (the store layer refuses it: see
tests/evals/test_store.py), on the same data folder.
"""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.regressions.chain import read_cases
from tracesieve.evals.regressions.record import EvalCase
from tracesieve.evals.store import DirectEvalStore

from .regressions_testkit import new_case

VERIFY = "regressions.verify:verify"
N = 5


async def _five(store: DirectEvalStore) -> list[EvalCase]:
    await store.call("regressions.edit:add", {"cases": [new_case(i) for i in range(N)]})
    return await read_cases(store)


def _problems(report: dict[str, Any]) -> set[tuple[int, str, str]]:
    return {(p["seq"], p["case_id"], p["kind"]) for p in report["problems"]}


async def test_an_intact_set_verifies(store: DirectEvalStore) -> None:
    await _five(store)
    report = await store.call(VERIFY, {})
    assert report["ok"] and report["rows"] == N and report["ledger_rows"] == N
    assert report["problems"] == [] and report["warnings"] == []


@pytest.mark.parametrize("how", ["alter-delete", "lightweight-delete"])
@pytest.mark.parametrize("seq", [1, 3, N], ids=["first", "middle", "last"])
async def test_a_deleted_row_is_named(
    store: DirectEvalStore, rogue: Client, database_name: str, how: str, seq: int
) -> None:
    cases = await _five(store)
    table = f"{database_name}.eval_cases"
    if how == "alter-delete":
        rogue.command(f"ALTER TABLE {table} DELETE WHERE Seq = {seq}", settings={"mutations_sync": 1})
    else:
        rogue.command(f"DELETE FROM {table} WHERE Seq = {seq}")
    report = await store.call(VERIFY, {})
    assert not report["ok"]
    assert (seq, cases[seq - 1].case_id, "missing") in _problems(report)


async def test_an_edited_row_is_named(store: DirectEvalStore, rogue: Client, database_name: str) -> None:
    cases = await _five(store)
    rogue.command(
        f"ALTER TABLE {database_name}.eval_cases UPDATE Expected = 'anything goes' WHERE Seq = 2",
        settings={"mutations_sync": 1},
    )
    report = await store.call(VERIFY, {})
    assert _problems(report) == {(2, cases[1].case_id, "changed")}


async def test_a_row_rewritten_with_a_fresh_id_is_named_by_the_chain_and_the_ledger(
    store: DirectEvalStore, rogue: Client, database_name: str
) -> None:
    cases = await _five(store)
    forged = cases[2].record.replace(expected="forged")
    rogue.command(
        f"ALTER TABLE {database_name}.eval_cases UPDATE Expected = 'forged', CaseId = '{forged.case_id()}' "
        "WHERE Seq = 3",
        settings={"mutations_sync": 1},
    )
    problems = _problems(await store.call(VERIFY, {}))
    assert (3, forged.case_id(), "changed") in problems  # its chain hash no longer matches
    assert (3, cases[2].case_id, "changed") in problems  # not what the ledger recorded


async def test_reordered_rows_are_named(store: DirectEvalStore, rogue: Client, database_name: str) -> None:
    cases = await _five(store)
    table = f"{database_name}.eval_cases"
    # Seq is the sort key (no UPDATE): a rogue reorders by deleting and inserting swapped copies.
    result = rogue.query(f"SELECT * FROM {table} WHERE Seq IN (2, 3) ORDER BY Seq")
    rows = [list(r) for r in result.result_rows]
    seq_at = result.column_names.index("Seq")
    rows[0][seq_at], rows[1][seq_at] = 3, 2
    rogue.command(f"ALTER TABLE {table} DELETE WHERE Seq IN (2, 3)", settings={"mutations_sync": 1})
    rogue.insert(table, rows, column_names=list(result.column_names))
    problems = _problems(await store.call(VERIFY, {}))
    assert (2, cases[2].case_id, "reordered") in problems
    assert {(2, cases[1].case_id, "changed"), (3, cases[2].case_id, "changed")} <= problems


async def test_nothing_is_appended_after_rows_went_missing(
    store: DirectEvalStore, rogue: Client, database_name: str
) -> None:
    await _five(store)
    rogue.command(f"DELETE FROM {database_name}.eval_cases WHERE Seq = {N}")
    with pytest.raises(PermanentError, match="no longer holds row 5"):
        await store.call("regressions.edit:add", {"cases": [new_case(99)]})
    assert len(await read_cases(store)) == N - 1


async def test_without_a_ledger_verify_checks_the_chain_and_warns(store: DirectEvalStore) -> None:
    from tracesieve.evals.regressions.ledger import ledger_for

    await _five(store)
    ledger_for(store).path.unlink()
    report = await store.call(VERIFY, {})
    assert report["ok"] and "cannot be detected" in report["warnings"][0]
    # The next append adopts the table's chain into a new ledger.
    await store.call("regressions.edit:add", {"cases": [new_case(7)]})
    assert (await store.call(VERIFY, {}))["ledger_rows"] == N + 1
