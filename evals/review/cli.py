"""``tracesieve review``: label a review batch in the terminal, or list the batches.

    tracesieve review                        # the newest batch with unlabelled cases
    tracesieve review --batch 2026-W48-1a2b --reviewer ana
    tracesieve review --list [--format json] # batches with their progress

With a collector running on the data folder it goes through the collector's admin API
(``--token`` or ``$TRACESIEVE_ADMIN__TOKEN``); the same walk runs in a browser at ``/review``
on the admin port.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from tracesieve.evals.cli import add_store_options, eval_store_from_args

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "review",
        help="label a review batch in the terminal (in a browser: /review on the admin port)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--batch", help="the batch id (default: the newest batch with unlabelled cases)")
    p.add_argument("--reviewer", help="your name, stored with each label (asked when not given)")
    p.add_argument("--list", action="store_true", help="list the batches with their progress and exit")
    p.add_argument("--format", choices=["table", "json"], default="table", help="output of --list")
    add_store_options(p)
    p.set_defaults(handler=_cmd_review)


def _cmd_review(args: argparse.Namespace) -> int:
    return asyncio.run(_review(args))


async def _review(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .batches import list_batches
    from .terminal import review_in_terminal

    console = Console()
    async with eval_store_from_args(args) as store:
        if args.list:
            batches = await list_batches(store)
            if args.format == "json":
                print(json.dumps([b.model_dump(mode="json") for b in batches]))
                return 0
            from rich.table import Table

            table = Table("batch", "week", "labelled", "total", "bad")
            for b in batches:
                table.add_row(b.batch_id, b.week, str(b.labelled), str(b.total), str(b.bad))
            console.print(table)
            return 0
        return await review_in_terminal(store, console, batch_id=args.batch, reviewer=args.reviewer)
