"""``tracesieve flagged``: filters, JSON output and the table, against a running collector."""

from __future__ import annotations

import asyncio
import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from tracesieve.collector.cli import main
from tracesieve.collector.config import load_config
from tracesieve.collector.contracts import FlaggedSpan
from tracesieve.collector.flagged import evidence_summary, parse_since
from tracesieve.collector.service import Service

NOW_S = 1_800_000_000.0


def test_since_accepts_durations_and_dates() -> None:
    assert parse_since("24h", NOW_S) == int((NOW_S - 86_400) * 1e9)
    assert parse_since("30m", NOW_S) == int((NOW_S - 1_800) * 1e9)
    assert parse_since("7d", NOW_S) == int((NOW_S - 7 * 86_400) * 1e9)
    assert parse_since("2026-11-01T00:00:00Z") == 1_793_491_200 * 1_000_000_000
    with pytest.raises(ValueError, match="--since 'yesterday'"):
        parse_since("yesterday")


def test_evidence_summary_shows_the_why_not_the_ids() -> None:
    summary = evidence_summary(
        {
            "rephrase": {
                "score": 0.8,
                "span_id": "ab",
                "earlier_trace_id": "x",
                "later_user_message": "again?",
            },
            "ungrounded_answer": {"score": 0.6, "unsupported": [{"kind": "number", "text": "10"}]},
        }
    )
    assert summary.splitlines() == [
        "rephrase (0.80): later_user_message=again?",
        "ungrounded_answer (0.60): unsupported=10",
    ]


def _flag(session: str, signals: list[str], at_ns: int) -> FlaggedSpan:
    return FlaggedSpan(
        at_ns, session, f"{abs(hash(session)) % 16**32:032x}", "1" * 16, 0.9, signals, ["unhelpful_answer"],
        {name: {"score": 0.9} for name in signals}, user_message="Where is my order?",
        output_text="I can't help.",
    )  # fmt: skip


async def test_flagged_filters_and_prints_json(tmp_path: Path, chdb_dsn: str, database_name: str) -> None:
    config = load_config(
        None,
        environ={},
        overrides={
            "service.data_dir": str(tmp_path),
            "sinks.clickhouse.dsn": chdb_dsn,
            "sinks.clickhouse.database": database_name,
            "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
            "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
            "admin.endpoint": "127.0.0.1:0",
        },
    )
    now = time.time_ns()
    async with Service(config) as service:
        await service.sink.write_findings(
            [],
            [
                _flag("s-refusal", ["refusal"], now - 3_600 * 10**9),
                _flag("s-rephrase", ["rephrase", "refusal"], now - 60 * 10**9),
                _flag("s-old", ["rephrase"], now - 3 * 86_400 * 10**9),
            ],
            [],
        )

        def run(*args: str) -> str:
            out = io.StringIO()
            with redirect_stdout(out):
                assert main(["flagged", "--data-dir", str(tmp_path), "--database", database_name, *args]) == 0
            return out.getvalue()

        rows = json.loads(await asyncio.to_thread(run, "--format", "json"))
        assert [r["SessionId"] for r in rows] == ["s-rephrase", "s-refusal"]  # newest first, last 24 h
        assert rows[0]["Evidence"] == {"rephrase": {"score": 0.9}, "refusal": {"score": 0.9}}
        rows = json.loads(
            await asyncio.to_thread(run, "--since", "7d", "--signal", "rephrase", "--format", "json")
        )
        assert [r["SessionId"] for r in rows] == ["s-rephrase", "s-old"]
        rows = json.loads(await asyncio.to_thread(run, "--session", "s-refusal", "--format", "json"))
        assert [r["Signals"] for r in rows] == [["refusal"]]
        table = await asyncio.to_thread(run)
        assert "2 flagged turn(s)" in table and "Where is" in table  # wrapped to the terminal width
