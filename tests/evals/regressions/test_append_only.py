"""Nothing tracesieve offers can shrink the regression set (the issue's second bar).

- Property-style: random sequences of every operation that writes (promote after new, changed or
  fine labels; add, with repeats; tag; retire; restore) never remove or change a row that was
  there before, and leave a set that verifies.
- Static: no SQL string in the tracesieve package that names eval_cases deletes, alters, drops,
  truncates, optimizes or replaces; the migration has no TTL and an append-only engine.
- The store layer refuses those statements (also through a running collector's admin API).
"""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path
from typing import Any

import pytest
from tracesieve.collector.errors import PermanentError
from tracesieve.collector.service import Service
from tracesieve.evals.regressions.chain import read_cases, read_rows
from tracesieve.evals.store import DirectEvalStore, EvalStore, open_eval_store

from .regressions_testkit import batch_row, label_row, new_case, review

ROOT = Path(__file__).resolve().parents[3]
PACKAGE_DIRS = ("collector", "processors", "sinks", "evals")
FORBIDDEN = ("DELETE", "ALTER", "DROP", "TRUNCATE", "OPTIMIZE", "REPLACE")


async def _random_operation(store: EvalStore, rng: random.Random, step: int) -> None:
    op = rng.choice(["label", "relabel", "fine", "promote", "add", "tag", "retire", "restore"])
    turn = rng.randrange(6)
    if op == "label":
        await store.insert("review_batches", [batch_row(turn, batch=f"b{step}")])
        await store.insert("labels", [label_row(turn, at=step, BatchId=f"b{step}")])
    elif op == "relabel":
        expected = rng.choice(["30 days", "Within 30 days of delivery.", "Two weeks."])
        await store.insert(
            "labels", [label_row(turn, at=step, Expected=expected, Severity=rng.choice(["", "low"]))]
        )
    elif op == "fine":
        await store.insert("labels", [label_row(turn, at=step, verdict="fine")])
    elif op == "promote":
        await store.call("regressions.promote:promote", rng.choice([{}, {"case_ids": []}]))
    elif op == "add":
        await store.call("regressions.edit:add", {"cases": [new_case(rng.randrange(4))]})
    else:
        cases = await read_cases(store)
        if not cases:
            return
        target = rng.choice(cases).case_id[: rng.choice([8, 64])]
        if op == "tag":
            payload = {
                "case_id": target,
                "add_tags": [rng.choice(["a", "b"])],
                "remove_tags": [rng.choice(["a", "b"])],
                "add_categories": [rng.choice(["refusal", "latency"])],
                "severity": rng.choice([None, "high"]),
            }
            await store.call("regressions.edit:tag", payload)
        else:
            status = "retired" if op == "retire" else "active"
            await store.call("regressions.edit:set_status", {"case_id": target, "status": status})


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_no_sequence_of_operations_removes_or_changes_a_row(store: DirectEvalStore, seed: int) -> None:
    rng = random.Random(seed)
    await review(store, [0, 1])
    before: list[dict[str, Any]] = []
    for step in range(1, 31):
        await _random_operation(store, rng, step)
        rows = await read_rows(store)
        assert rows[: len(before)] == before, f"step {step} changed or removed a row"
        before = rows
    assert len(before) > 5  # the sequence did append
    report = await store.call("regressions.verify:verify", {})
    assert report["ok"], report["problems"]


def _sql_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants and f-string texts, docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def test_no_sql_in_the_package_can_shrink_eval_cases() -> None:
    files = [p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 50
    offending = []
    named = 0
    for path in files:
        for line, text in _sql_strings(ast.parse(path.read_text(encoding="utf-8"))):
            if "eval_cases" not in text.lower():
                continue
            named += 1
            words = set(re.findall(r"[A-Za-z_]+", text.upper()))
            if words & set(FORBIDDEN):
                offending.append(f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}")
    assert named >= 5  # the scan does see the package's SQL on eval_cases
    assert offending == []


def test_the_migration_keeps_eval_cases_append_only() -> None:
    migrations = ROOT / "sinks" / "clickhouse" / "migrations"
    for path in migrations.glob("*.sql"):
        sql = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8")).upper()
        if "EVAL_CASES" not in sql:
            continue
        assert "TTL" not in sql, path.name
        assert not set(re.findall(r"[A-Z_]+", sql)) & set(FORBIDDEN), path.name
        engines = re.findall(r"ENGINE\s*=\s*(\w+)", sql)
        assert engines == ["MERGETREE"], f"{path.name}: {engines}"


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM eval_cases WHERE 1",
        "ALTER TABLE eval_cases DELETE WHERE Seq = 1",
        "ALTER TABLE eval_cases UPDATE Input = '' WHERE 1",
        "TRUNCATE TABLE eval_cases",
        "DROP TABLE eval_cases",
        "OPTIMIZE TABLE eval_cases FINAL",
        "RENAME TABLE eval_cases TO gone",
        "SELECT 1; DELETE FROM eval_cases WHERE 1",
        "INSERT INTO eval_cases (Seq) SELECT 1",
    ],
)
async def test_the_store_refuses_sql_that_writes(store: DirectEvalStore, sql: str) -> None:
    await store.call("regressions.edit:add", {"cases": [new_case(1)]})
    with pytest.raises(PermanentError):
        await store.select(sql)
    assert len(await read_cases(store)) == 1


async def test_through_a_running_collector_promotion_appends_and_sql_cannot_delete(service: Service) -> None:
    [review_id] = await review(service.eval_store, [1])
    async with open_eval_store(store=None, data_dir=service.data_dir, token="s3cret") as admin:
        result = await admin.call("regressions.promote:promote", {"case_ids": [review_id]})
        assert len(result["appended"]) == 1
        for sql in ("ALTER TABLE eval_cases DELETE WHERE 1", "DELETE FROM eval_cases WHERE 1"):
            with pytest.raises(PermanentError):
                await admin.select(sql)
        report = await admin.call("regressions.verify:verify", {})
    assert report["ok"] and report["rows"] == 1 and report["ledger_rows"] == 1
    assert len(await read_cases(service.eval_store)) == 1
