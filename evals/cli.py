"""The review loop's commands in ``tracesieve``: each module in COMMAND_MODULES adds its own.

A command module has ``add_parser(sub)`` that adds its sub-command(s) with a ``handler``. It
imports heavy libraries (scipy, scikit-learn, jinja2) inside its handler, not at the top:
every ``tracesieve`` invocation imports the module to build the parser.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tracesieve.evals.store import EvalStore, open_eval_store

__all__ = ["COMMAND_MODULES", "add_commands", "add_store_options", "eval_store_from_args"]

COMMAND_MODULES: tuple[str, ...] = (
    "tracesieve.evals.sampling.cli",
    "tracesieve.evals.review.cli",
    "tracesieve.evals.regressions.cli",
    "tracesieve.evals.audit.cli",
    "tracesieve.evals.calibration.cli",
)

DEFAULT_DATA_DIR = Path("tracesieve-data")


def add_commands(sub: Any) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)


def add_store_options(p: argparse.ArgumentParser) -> None:
    """--store, --data-dir, --database and --token, as ``tracesieve query`` has them."""
    p.add_argument("--store", help="DSN (chdb:///path or http://host:8123); default: the local data folder")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="local data folder")
    p.add_argument("--database", default=None, help="database name (default tracesieve)")
    p.add_argument(
        "--token",
        default=os.environ.get("TRACESIEVE_ADMIN__TOKEN"),
        help="admin API token of a running collector (default $TRACESIEVE_ADMIN__TOKEN)",
    )


@asynccontextmanager
async def eval_store_from_args(args: argparse.Namespace) -> AsyncIterator[EvalStore]:
    """The store the options name: through a running collector, or opened here."""
    async with open_eval_store(
        store=args.store, data_dir=args.data_dir, database=args.database, token=args.token
    ) as store:
        yield store
