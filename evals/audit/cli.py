"""``tracesieve audit``: which failure categories seen in production have no eval case.

    tracesieve audit [--since 90d] [--until ISO] [--min-count N] [--fail-on-gap]
                     [--format table|json] [--html PATH] [store options]

Exit codes: 0 done; 1 error (store unreachable, bad option value); 3 with ``--fail-on-gap``
when a category has failures (at least ``--min-count``) in the window and no eval case, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.cli import add_store_options, eval_store_from_args

__all__ = ["EXIT_GAP", "add_parser"]

EXIT_GAP = 3
_BLOCKS = "▁▂▃▄▅▆▇█"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="coverage audit: failure categories seen in production vs the regression set",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--since", default="90d", help="window start: 90d, 12w, 24h, or an ISO date (default 90d)")
    p.add_argument("--until", default=None, help="window end, an ISO date/time (default now)")
    p.add_argument(
        "--min-count",
        type=int,
        default=1,
        help="flag a category as a gap only with at least this many failures (default 1)",
    )
    p.add_argument(
        "--fail-on-gap", action="store_true", help=f"exit {EXIT_GAP} when a category is a gap (for CI)"
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--html", type=Path, default=None, help="also write a self-contained HTML report here")
    add_store_options(p)
    p.set_defaults(handler=run)


def _window(args: argparse.Namespace) -> tuple[int, int]:
    from tracesieve.collector.flagged import parse_since

    try:
        until_s = time.time()
        if args.until:
            until_s = datetime.fromisoformat(args.until.replace("Z", "+00:00")).timestamp()
        since_ns = parse_since(args.since, now_s=until_s)
    except ValueError as exc:
        raise PermanentError(
            str(exc) if "--since" in str(exc) else f"--until {args.until!r}: {exc}"
        ) from None
    until_ns = int(until_s * 1e9)
    if since_ns >= until_ns:
        raise PermanentError(f"--since {args.since!r} is not before the end of the window")
    return since_ns, until_ns


def run(args: argparse.Namespace) -> int:
    from .coverage import build_report
    from .query import Window, current_eval_cases, failure_counts, weekly_failures

    if args.min_count < 1:
        raise PermanentError(f"--min-count must be at least 1 (got {args.min_count})")
    window = Window(*_window(args))

    async def read() -> Any:
        async with eval_store_from_args(args) as store:
            failures = await failure_counts(store, window)
            weekly = await weekly_failures(store, window)
            cases = await current_eval_cases(store)
        return build_report(window, failures, weekly, cases, min_count=args.min_count)

    report = asyncio.run(read())
    data = report.to_json()
    if args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print_table(data)
    if args.html is not None:
        from tracesieve.evals.report import render_audit, write_report

        write_report(args.html, render_audit(data))
    if args.fail_on_gap and data["gaps"]:
        print(f"coverage gap: {', '.join(data['gaps'])} (exit {EXIT_GAP})", file=sys.stderr)
        return EXIT_GAP
    return 0


def spark(values: list[int]) -> str:
    """Weekly counts as block characters, scaled to the largest week."""
    top = max(values, default=0)
    if top == 0:
        return _BLOCKS[0] * len(values)
    return "".join(_BLOCKS[min(len(_BLOCKS) - 1, round(v / top * (len(_BLOCKS) - 1)))] for v in values)


def print_table(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    window = data["window"]
    table = Table(
        title=f"Coverage audit, {window['since'][:10]} → {window['until'][:10]} ({window['weeks']} weeks)",
    )
    table.add_column("Category", overflow="fold", min_width=12)
    table.add_column("Failures", justify="right")
    table.add_column("Weekly", no_wrap=True, min_width=min(window["weeks"], 26))
    table.add_column("4 wk vs 4 before", justify="right")
    table.add_column("Eval cases", justify="right")
    table.add_column("Status")
    styles = {"gap": "bold red", "rare": "yellow", "covered": "green", "unseen": "dim"}
    for c in data["categories"]:
        trend = c["trend"]
        change = "" if trend["change_pct"] is None else f" {trend['change_pct']:+.0f}%"
        arrow = {"up": "↑", "down": "↓", "flat": "→", "new": "↑ new", "gone": "↓ gone", "quiet": "·"}
        style = styles.get(c["status"], "")
        counts = f"{trend['last_4_weeks']} vs {trend['previous_4_weeks']}"
        table.add_row(
            Text(c["category"], style=style),
            str(c["failures"]),
            spark(c["weekly"]),
            f"{counts} {arrow.get(trend['direction'], '–')}{change}"
            if trend["direction"] != "n/a"
            else "n/a",
            str(c["eval_cases"]),
            Text(c["status"].upper() if c["status"] == "gap" else c["status"], style=style),
        )
    console.print(table)
    console.print(Text(data["headline"], style="bold red" if data["gaps"] else "bold green"))
    if data["unseen_in_production"]:
        names = ", ".join(f"{u['category']} ({u['eval_cases']})" for u in data["unseen_in_production"])
        console.print(
            Text(f"Eval cases whose category had no production failure in the window: {names}", style="dim")
        )
