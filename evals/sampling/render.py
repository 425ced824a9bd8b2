"""``tracesieve sample``'s output: a rich table, or JSON for scripts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .batch import Batch

__all__ = ["batch_json", "print_batch"]


def _question(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def batch_json(batch: Batch, created: bool, files: list[Path]) -> dict[str, Any]:
    """The batch's summary: ids, settings, counts, files, and per case what the table shows."""
    return {
        "batch_id": batch.batch_id,
        "week": batch.week,
        "seed": batch.seed,
        "size": batch.size,
        "created": created,
        "created_at": datetime.fromtimestamp(batch.created_at_ms / 1000, UTC).isoformat(),
        "flagged_turns": batch.params.get("flagged_turns"),
        "counts_exact": batch.params.get("counts_exact"),
        "category_counts": batch.params.get("category_counts", {}),
        "files": [str(p) for p in files],
        "cases": [
            {
                "position": int(r["Position"]),
                "case_id": r["CaseId"],
                "category": r["Category"],
                "categories": list(r["Categories"]),
                "signals": list(r["Signals"]),
                "cluster_size": int(r["ClusterSize"]),
                "session_id": r["SessionId"],
                "trace_id": r["TraceId"],
                "span_id": r["SpanId"],
                "flag_score": round(float(r["FlagScore"]), 4),
                "question": r["UserMessage"],
            }
            for r in batch.rows
        ],
    }


def print_batch(console: Console, batch: Batch, created: bool, files: list[Path]) -> None:
    verb = "drew" if created else "stored batch (same week, seed and size)"
    console.print(
        f"[bold]{batch.batch_id}[/bold] · {verb} · week {batch.week} · seed {batch.seed} · "
        f"{len(batch.rows)} of {batch.size} cases",
        highlight=False,
    )
    table = Table(show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("category")
    table.add_column("cluster", justify="right")
    table.add_column("session")
    table.add_column("score", justify="right")
    table.add_column("question", overflow="fold")
    for r in batch.rows:
        table.add_row(
            str(r["Position"]),
            r["Category"],
            str(r["ClusterSize"]),
            r["SessionId"] or "-",
            f"{float(r['FlagScore']):.2f}",
            _question(r["UserMessage"]) or "(no question)",
        )
    console.print(table)
    counts = batch.params.get("category_counts") or {}
    if counts:
        approx = "" if batch.params.get("counts_exact", True) else "≈"
        listing = ", ".join(
            f"{c} {approx}{n}" for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        console.print(
            f"flagged turns in {batch.week}: {approx}{batch.params.get('flagged_turns')} ({listing})"
        )
    for path in files:
        console.print(f"wrote {path}", highlight=False)
