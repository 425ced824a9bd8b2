"""`tracesieve regressions ...` end to end, each command a subprocess on a data folder of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from .regressions_testkit import batch_row, label_row


def _run(data_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracesieve.collector.cli", "regressions", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
    )  # fmt: skip


def _json(data_dir: Path, *args: str) -> Any:
    done = _run(data_dir, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _python(data_dir: Path, code: str) -> None:
    """Run ``code`` in a process of its own with ``client`` (clickhouse-connect) and ``store``
    (DirectEvalStore) open on the data folder."""
    script = textwrap.dedent(
        """
        import asyncio, json, sys
        from tracesieve.evals.store import DirectEvalStore
        from tracesieve.sinks.clickhouse.store import connect
        DSN = "chdb://" + sys.argv[1] + "/chdb"

        async def main():
            store = DirectEvalStore(DSN, "tracesieve")
            await store.open()
            client = connect(DSN)
            try:
        {body}
            finally:
                client.close()
                await store.aclose()

        asyncio.run(main())
        """
    ).format(body=textwrap.indent(textwrap.dedent(code), " " * 8))
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_add_sync_tag_retire_list_and_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    context = tmp_path / "context.json"
    context.write_text(
        json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    )
    added = _json(
        data, "add", "--input", "Cancel my subscription", "--criteria", "Explains how to cancel",
        "--category", "refusal", "--incident", "INC-12", "--tag", "billing", "--context-file", str(context),
    )  # fmt: skip
    [first] = added["appended"]
    more = tmp_path / "cases.json"
    more.write_text(json.dumps([
        {"input": "Cancel my subscription", "criteria": "Explains how to cancel", "categories": ["refusal"],
         "incident_id": "INC-12", "tags": ["billing"], "context": [{"user": "hi", "assistant": "hello"}],
         "notes": "", "severity": ""},
        {"input": "What is the price of Pro?", "expected": "$20 a month", "categories": ["hallucination"]},
    ]))  # fmt: skip
    again = _json(data, "add", "--from-json", str(more))
    # The first case is the same content as before (its context given as turns this time).
    assert again["already_present"] == [first["case_id"]] and len(again["appended"]) == 1

    rows = [batch_row(1)], [label_row(1)]
    _python(data, f"""
        await store.insert("review_batches", {rows[0]!r})
        await store.insert("labels", {rows[1]!r})
    """)  # fmt: skip
    synced = _json(data, "sync")
    assert len(synced["appended"]) == 1
    assert _json(data, "sync")["appended"] == []

    tagged = _json(data, "tag", first["case_id"][:10], "--severity", "critical", "--tag", "urgent")
    assert tagged["changed"] and tagged["current"] == first["case_id"]
    retired = _run(data, "retire", again["appended"][0]["case_id"][:12], "--reason", "duplicate")
    assert retired.returncode == 0 and "supersedes" in retired.stdout

    current = _json(data, "list")
    assert len(current) == 2  # the tagged case and the promoted one; the retired one left the set
    tags = {tuple(c["record"]["tags"]) for c in current}
    assert ("billing", "urgent") in tags
    everything = _json(data, "list", "--all")
    assert [c["seq"] for c in everything] == [1, 2, 3, 4, 5]

    verified = _run(data, "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("intact:"), (
        verified.stdout + verified.stderr
    )

    # A rogue deletes the last row: verify names it, and nothing more is appended.
    last = everything[-1]["case_id"]
    _python(data, 'client.command("DELETE FROM tracesieve.eval_cases WHERE Seq = 5")')
    broken = _run(data, "verify", "--format", "json")
    assert broken.returncode == 1
    problems = json.loads(broken.stdout)["reports"][0]["problems"]
    assert [(p["seq"], p["case_id"], p["kind"]) for p in problems] == [(5, last, "missing")]
    refused = _run(data, "add", "--input", "one more", "--expected", "x")
    assert refused.returncode == 1 and "no longer holds row 5" in refused.stderr.replace("\n", " ")


def test_export_a_suite_then_catch_a_deleted_case_in_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tagged = [
        ("refusal", "low"),
        ("retrieval", "high"),
        ("retrieval", "critical"),
        ("latency", ""),
        ("error", "low"),
    ]
    cases = [
        {"input": f"question {i}", "expected": f"answer {i}", "categories": [cat], "severity": sev}
        for i, (cat, sev) in enumerate(tagged)
    ]
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in cases))
    assert _run(data, "add", "--from-json", str(source)).returncode == 0
    done = _run(
        data, "export", "--format", "promptfoo", "--max-cases", "4", "--cover-all-categories", "--seed", "1",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    exported = tmp_path / "regressions.promptfoo.yaml"
    assert Path(summary["file"]).resolve() == exported.resolve()
    assert summary["cases"] == 4 and summary["covered"] == ["error", "latency", "refusal", "retrieval"]
    tests = yaml.safe_load(exported.read_text())
    assert [t["vars"]["input"] for t in tests] == ["question 0", "question 2", "question 3", "question 4"]

    ok = _run(data, "verify", "--file", str(exported))
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    removed = tests.pop(1)
    exported.write_text(yaml.safe_dump(tests))
    caught = _run(data, "verify", "--file", str(exported), "--format", "json")
    assert caught.returncode == 1
    [report] = json.loads(caught.stdout)["reports"]
    assert [(p["case_id"], p["kind"]) for p in report["problems"]] == [
        (removed["metadata"]["case_id"], "missing")
    ]
    table = _run(data, "verify", "--file", str(exported))
    assert table.returncode == 1 and removed["metadata"]["case_id"][:12] in table.stdout
