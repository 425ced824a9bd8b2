"""``tracesieve review`` in a subprocess, answered through its stdin: on a data folder of its own,
and through a running collector."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tracesieve.collector.service import Service

CLI = [sys.executable, "-m", "tracesieve.collector.cli"]

# Inserts the rows given on stdin into review_batches of a data folder (chDB: one process per folder).
INSERT = """
import asyncio, json, sys
from tracesieve.evals.store import DirectEvalStore

async def main():
    store = DirectEvalStore(sys.argv[1])
    await store.open()
    try:
        await store.insert("review_batches", json.load(sys.stdin))
    finally:
        await store.aclose()

asyncio.run(main())
"""

LABELS = (
    "SELECT CaseId, Verdict, Categories, Expected, Criteria, Notes, Severity, Reviewer FROM labels "
    "ORDER BY LabelledAt, LabelId"
)


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACESIEVE_")}
    return {**clean, "COLUMNS": "120", "NO_COLOR": "1"}


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, timeout=120, env=env(), check=False
    )


def test_the_terminal_review_saves_each_label_and_resumes_after_q(tmp_path: Path, make_batch: Any) -> None:
    rows = make_batch("T1", [{"OutputText": "[bold red]not markup[/] <b>x</b>"}, {}, {"Category": "refusal"}])
    inserted = subprocess.run(
        [sys.executable, "-c", INSERT, f"chdb://{tmp_path / 'chdb'}"],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),
        check=False,
    )
    assert inserted.returncode == 0, inserted.stderr
    folder = ["--data-dir", str(tmp_path)]

    # Case 1 bad (a category by number and a new one), case 2 fine, then q.
    first = run(
        ["review", "--batch", "T1", "--reviewer", "ana", *folder],
        "b\n1, Wrong Plan\nThe Pro plan is $20.\n\nhigh\nmade up a price\nf\nlooks right\nq\n",
    )
    assert first.returncode == 0, first.stderr
    assert "[bold red]not markup[/] <b>x</b>" in first.stdout  # store content is text, not markup
    assert "saved: bad negative_feedback, wrong_plan (1/3)" in first.stdout
    assert "saved: fine unhelpful_answer (2/3)" in first.stdout
    assert "stopped; `tracesieve review` resumes at the first unlabelled case" in first.stdout

    # The next run starts at case 3; a wrong answer is asked again; the defaults apply.
    second = run(["review", "--reviewer", "bo", *folder], "x\nb\n\n\nnames the refund policy\n\n\n")
    assert second.returncode == 0, second.stderr
    assert "Case 3/3" in second.stdout and "Case 1/3" not in second.stdout
    assert "answer one of b, f, s (q quits)" in second.stdout
    assert "saved: bad refusal (3/3)" in second.stdout
    assert "3/3 labelled, 2 bad" in second.stdout

    third = run(["review", *folder])
    assert third.returncode == 0, third.stderr
    assert "Every case of this batch is labelled." in third.stdout

    query = run(["query", LABELS, *folder, "--format", "json"])
    assert query.returncode == 0, query.stderr
    ids = [r["CaseId"] for r in rows]
    assert json.loads(query.stdout) == [
        {"CaseId": ids[0], "Verdict": "bad", "Categories": ["negative_feedback", "wrong_plan"],
         "Expected": "The Pro plan is $20.", "Criteria": "", "Notes": "made up a price", "Severity": "high",
         "Reviewer": "ana"},
        {"CaseId": ids[1], "Verdict": "fine", "Categories": ["unhelpful_answer"], "Expected": "",
         "Criteria": "", "Notes": "looks right", "Severity": "", "Reviewer": "ana"},
        {"CaseId": ids[2], "Verdict": "bad", "Categories": ["refusal"], "Expected": "",
         "Criteria": "names the refund policy", "Notes": "", "Severity": "medium", "Reviewer": "bo"},
    ]  # fmt: skip


async def test_the_terminal_review_goes_through_a_running_collector(
    service: Service, make_batch: Any, admin_token: str
) -> None:
    rows = make_batch("T2", [{}, {}])
    await service.eval_store.insert("review_batches", rows)

    async def review(*args: str, stdin: str = "") -> tuple[int, str, str]:
        # The collector serves on this event loop: the CLI must not block it.
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            *args,
            "--data-dir",
            str(service.data_dir),
            "--token",
            admin_token,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env(),
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    # No --reviewer: the name is asked first. No --batch: the newest with unlabelled cases.
    code, out, err = await review("review", stdin="cy\nf\n\nq\n")
    assert code == 0, err
    assert "Batch T2" in out and "saved: fine unhelpful_answer (1/2)" in out
    code, out, err = await review("review", "--list", "--format", "json")
    assert code == 0, err
    assert [(b["batch_id"], b["labelled"], b["total"]) for b in json.loads(out)] == [("T2", 1, 2)]

    [label] = await service.eval_store.select("SELECT CaseId, Verdict, Reviewer FROM labels")
    assert label == {"CaseId": rows[0]["CaseId"], "Verdict": "fine", "Reviewer": "cy"}
