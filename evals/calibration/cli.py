"""``tracesieve calibrate``: how far an LLM judge agrees with the human labels.

    tracesieve calibrate --judge verdicts.jsonl [--judge-name NAME] [--threshold T]
    tracesieve calibrate --from-store [--judge-name NAME]
        [--min-kappa 0.6] [--min-cases 10] [--resamples 1000] [--seed 0]
        [--format table|json] [--html PATH] [store options]

With ``--judge`` the file's verdicts (format: ``tracesieve.evals.calibration.verdicts``) are
stored in ``judge_verdicts`` first; the calibration then reads the judge's stored verdicts
(latest per case), so earlier imports of other cases count too. Exit codes: 0 done, 1 error
(unreadable file, no verdict matching a human label, store unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.cli import add_store_options, eval_store_from_args

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "calibrate",
        help="judge calibration: agreement with human labels, kappa with CI, bias; where to keep humans",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--judge", type=Path, metavar="VERDICTS.jsonl", help="import this verdict file, then calibrate"
    )
    source.add_argument("--from-store", action="store_true", help="calibrate the verdicts already stored")
    p.add_argument("--judge-name", help="the judge's name (default: the file's `judge` field, else its stem)")
    p.add_argument("--threshold", type=float, help="verdicts given as a score: score >= threshold is fine")
    p.add_argument(
        "--min-kappa",
        type=float,
        default=0.6,
        help="trust a category when kappa's CI lower bound is >= this (0.6)",
    )
    p.add_argument("--min-cases", type=int, default=10, help="fewer cases than this: too few to tell (10)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for kappa's CI (1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed: same seed, same intervals (0)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--html", type=Path, default=None, help="also write a self-contained HTML report here")
    add_store_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .data import load_cases, stored_judges
    from .verdicts import judge_name, read_verdict_file, verdict_rows

    if not -1.0 <= args.min_kappa <= 1.0:
        raise PermanentError(f"--min-kappa must be between -1 and 1 (got {args.min_kappa})")
    if args.min_cases < 1 or args.resamples < 1:
        raise PermanentError("--min-cases and --resamples must be at least 1")
    verdicts = read_verdict_file(args.judge, threshold=args.threshold) if args.judge else []
    name: str | None = judge_name(verdicts, args.judge_name, args.judge) if args.judge else args.judge_name

    async def read() -> tuple[str, Any, int]:
        async with eval_store_from_args(args) as store:
            if verdicts:
                assert name is not None
                await store.insert("judge_verdicts", verdict_rows(verdicts, name, int(time.time() * 1000)))
            judge = name
            if judge is None:
                judges = await stored_judges(store)
                if len(judges) != 1:
                    listed = ", ".join(judges) if judges else "none stored"
                    raise PermanentError(f"name the judge with --judge-name (judges: {listed})")
                judge = judges[0]
            cases, unmatched = await load_cases(store, judge)
        return judge, cases, unmatched

    judge, cases, unmatched = asyncio.run(read())
    imported = len(verdicts) if verdicts else None
    if not cases:
        done = f"imported {imported} verdicts; " if imported else ""
        raise PermanentError(
            f"{done}no verdict of judge {judge!r} is on a case with a human bad/fine label "
            f"({unmatched} verdicts without one)"
        )
    from .report import Settings, calibrate  # scipy and scikit-learn: only once there is work for them

    settings = Settings(args.min_kappa, args.min_cases, args.resamples, args.seed)
    report = calibrate(cases, judge=judge, settings=settings, unmatched=unmatched, imported=imported)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)
    if args.html is not None:
        from tracesieve.evals.report import render_calibration, write_report

        write_report(args.html, render_calibration(report))
    return 0


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def print_report(report: dict[str, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    table = Table(
        title=f"Judge {report['judge']} against human labels",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("Category", overflow="fold", min_width=10)
    table.add_column("n", justify="right")
    table.add_column("Agree", justify="right")
    table.add_column("κ [95% CI]", justify="right", no_wrap=True, min_width=11)
    table.add_column("Lenient", justify="right", no_wrap=True)
    table.add_column("Strict", justify="right", no_wrap=True)
    table.add_column("Leans", no_wrap=True)
    table.add_column("Trust", no_wrap=True)
    leans = {"too lenient": "lenient", "too strict": "strict"}
    for g in [{**report["overall"], "category": "overall"}, *report["categories"]]:
        d = g["disagreement"]
        ci = g["kappa_ci"]
        kappa = "undef." if g["kappa"] is None else f"{g['kappa']:.2f}"
        table.add_row(
            Text(g["category"], style="bold" if g["category"] == "overall" else ""),
            str(g["n"]),
            _pct(g["agreement"]),
            f"{kappa}\n[{ci[0]:.2f},{ci[1]:.2f}]" if ci else kappa,
            f"{d['too_lenient']} ({_pct(d['lenient_rate'])})",
            f"{d['too_strict']} ({_pct(d['strict_rate'])})",
            leans.get(d["direction"], "–"),
            Text("✓", style="green") if g["trusted"] else Text("✗ humans", style="bold red"),
        )
    console.print(table)
    console.print(Text(report["headline"], style="bold"))
    for bias in report["bias"].values():
        console.print(
            Text(f"{bias['feature']}: {bias['summary']}", style="bold red" if bias["detected"] else "")
        )
    for u in report["untrusted"]:
        console.print(Text(f"✗ {u['category']}: {u['reason']}. {u['advice']}", style="red"))
    if report["unmatched"]:
        console.print(
            Text(
                f"{report['unmatched']} verdicts have no human bad/fine label yet (not counted).", style="dim"
            )
        )
