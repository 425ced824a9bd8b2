"""``tracesieve sample`` in a subprocess, on a data folder of its own: exit codes, JSON output,
the files, the stored batch shown again, ``--new``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from .traffic import make_week

WEEK = "2026-W40"

WRITE_ROWS = """
import asyncio, sys, time, orjson
from tracesieve.collector.contracts import FlaggedSpan, Signal
from tracesieve.sinks.clickhouse import ClickHouseSink, ClickHouseSinkConfig

async def main() -> None:
    data = orjson.loads(open(sys.argv[1], "rb").read())
    sink = ClickHouseSink(ClickHouseSinkConfig(dsn="chdb://" + sys.argv[2]))
    await sink.start()
    await sink.write_findings(
        [Signal(**s) for s in data["signals"]], [FlaggedSpan(**f) for f in data["flagged"]], []
    )
    await sink.aclose(time.monotonic() + 30)

asyncio.run(main())
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRACESIEVE_")}


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracesieve.collector.cli", "sample", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample-cli") / "data"
    traffic = make_week(
        WEEK,
        sizes={"negative_feedback": 300, "unhelpful_answer": 100, "retrieval": 30, "error": 4, "policy": 1},
    )
    rows = tmp_path_factory.getbasetemp() / "sample-cli-rows.json"
    rows.write_bytes(
        orjson.dumps(
            {
                "signals": [dataclasses.asdict(s) for s in traffic.signals],
                "flagged": [dataclasses.asdict(f) for f in traffic.flagged],
            }
        )
    )
    subprocess.run(
        [sys.executable, "-c", WRITE_ROWS, str(rows), str(folder / "chdb")],
        check=True,
        timeout=120,
        env=_env(),
    )
    return folder


def test_sample_draws_prints_json_and_writes_the_files(data_dir: Path, tmp_path: Path) -> None:
    first = run(data_dir, "--week", WEEK, "--format", "json", "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stderr
    batch = json.loads(first.stdout)
    assert batch["week"] == WEEK and batch["created"] is True and batch["size"] == 15
    assert len(batch["cases"]) == 15
    assert {c["category"] for c in batch["cases"]} == {
        "negative_feedback",
        "unhelpful_answer",
        "retrieval",
        "error",
        "policy",
    }
    assert len({c["session_id"] for c in batch["cases"]}) == 15
    assert batch["category_counts"]["policy"] == 1
    home = data_dir / "review-batches" / WEEK
    for folder in (home, tmp_path / "out"):
        assert (folder / f"{batch['batch_id']}.jsonl").read_text().count("\n") == 15
        assert (folder / f"{batch['batch_id']}.md").is_file()
    assert sorted(batch["files"]) == sorted(
        str(p) for p in [*home.glob(f"{batch['batch_id']}.*"), *(tmp_path / "out").glob("*")]
    )

    # Again: the stored batch, the same files; as a table this time.
    again = run(data_dir, "--week", WEEK)
    assert again.returncode == 0, again.stderr
    assert batch["batch_id"] in again.stdout and "stored batch" in again.stdout
    assert "category" in again.stdout and "question" in again.stdout

    # Other settings: refused without --new; --new draws another batch with none of the cases.
    other = run(data_dir, "--week", WEEK, "--size", "12")
    assert other.returncode == 1 and "--new" in other.stderr
    extra = run(data_dir, "--week", WEEK, "--new", "--size", "12", "--seed", "3", "--format", "json")
    assert extra.returncode == 0, extra.stderr
    second = json.loads(extra.stdout)
    assert second["batch_id"] != batch["batch_id"] and len(second["cases"]) == 12
    assert not {c["case_id"] for c in second["cases"]} & {c["case_id"] for c in batch["cases"]}


def test_sample_exit_codes(data_dir: Path) -> None:
    bad_week = run(data_dir, "--week", "2026-W60")
    assert bad_week.returncode == 2 and "2026 has no ISO week 60" in bad_week.stderr
    empty = run(data_dir, "--week", "2026-W41", "--format", "json")
    assert empty.returncode == 1 and "no flagged turns in 2026-W41" in empty.stderr
    assert empty.stdout == ""
