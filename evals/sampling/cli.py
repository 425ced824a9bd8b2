"""``tracesieve sample``: the week's review batch, drawn on demand or shown again.

    tracesieve sample [--week 2026-W48] [--size N] [--seed S] [--new] [--out DIR]
                      [--format table|json] [--config FILE] [--store DSN] [--data-dir DIR] ...

Defaults: the last complete ISO week (UTC), and ``evals.sampling`` of ``--config`` (and the
``TRACESIEVE_EVALS__SAMPLING__*`` environment) for size and seed, so that it finds the batch
the schedule drew. A second run with the same week, seed and size shows the stored batch;
``--new`` draws another one that leaves out everything sent before. The batch is written to
``<data-dir>/review-batches/<week>/<batch_id>.jsonl`` and ``.md`` (and into ``--out DIR``).
Exit codes: 0 a batch shown or drawn, 1 nothing to sample or another error, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from tracesieve.evals.cli import add_store_options, eval_store_from_args

__all__ = ["add_parser"]


def _week(text: str) -> str:
    from .weeks import parse_week

    try:
        return parse_week(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"size must be between 1 and 500 (got {value})")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"seed must be between 0 and 2**64-1 (got {value})")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sample",
        help="draw (or show) an ISO week's review batch of flagged turns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--week", type=_week, help="ISO week, e.g. 2026-W48 (default: the last complete week, UTC)"
    )
    p.add_argument("--size", type=_size, help="cases in the batch (default evals.sampling.batch_size: 15)")
    p.add_argument("--seed", type=_seed, help="seed of the draw (default evals.sampling.seed: 0)")
    p.add_argument("--new", action="store_true", help="draw an additional batch, leaving out earlier ones")
    p.add_argument("--out", type=Path, help="also write the batch's .jsonl and .md into this folder")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output (default table)")
    p.add_argument("--config", type=Path, help="YAML config file (for evals.sampling defaults)")
    add_store_options(p)
    p.set_defaults(handler=_cmd_sample)


def _cmd_sample(args: argparse.Namespace) -> int:
    return asyncio.run(_sample(args))


async def _sample(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from tracesieve.collector.config import load_config

    from .files import write_batch_files
    from .render import batch_json, print_batch
    from .sampler import SampleSettings, sample_week
    from .schedule import BATCH_FOLDER
    from .weeks import last_complete_week

    config = load_config(args.config).evals.sampling
    settings = SampleSettings.from_config(config, size=args.size, seed=args.seed)
    week = args.week or last_complete_week(time.time())
    err = Console(stderr=True)
    with Progress(
        TextColumn(f"scanning flagged turns of {week}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("scan", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        async with eval_store_from_args(args) as store:
            outcome = await sample_week(store, week, settings, new=args.new, progress=progress)
    batch = outcome.batch
    folders = [args.data_dir / BATCH_FOLDER / week]
    if args.out is not None:
        folders.append(args.out)
    paths: list[Path] = []
    for folder in folders:
        paths.extend(await asyncio.to_thread(write_batch_files, batch, folder))
    if args.format == "json":
        import orjson

        sys.stdout.buffer.write(
            orjson.dumps(batch_json(batch, outcome.created, paths), option=orjson.OPT_INDENT_2)
        )
        sys.stdout.buffer.write(b"\n")
    else:
        print_batch(Console(), batch, outcome.created, paths)
    return 0
