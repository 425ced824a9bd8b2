"""``tracesieve regressions``: sync, add, list, tag, retire, restore, verify, export.

Every command that appends runs as a store operation (``store.call``): in this process when no
collector holds the data folder, else inside the running collector through its admin API, so
appends are serialised under the store's one lock. ``verify --file`` needs no store at all.
Exit codes: 0 done (verify: intact), 1 refused or (verify) something missing or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.cli import add_store_options, eval_store_from_args

from . import _render

__all__ = ["add_parser"]

_FORMAT_NAMES = ("deepeval", "promptfoo", "braintrust", "langsmith", "openai-evals", "jsonl")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("regressions", help="the append-only regression set: sync, add, tag, verify, export")
    actions = p.add_subparsers(dest="regressions_command", metavar="ACTION", required=True)

    sync = _action(actions, "sync", "promote every case labelled bad into the set (idempotent)", _cmd_sync)
    _output(sync)

    add = _action(actions, "add", "add cases directly, e.g. from an incident's post-mortem", _cmd_add)
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="the user's message the app must answer")
    source.add_argument("--from-json", type=Path, help="a JSON list (or JSONL) of cases with the same fields")
    add.add_argument("--expected", default="", help="the expected answer")
    add.add_argument("--criteria", default="", help="a property a correct answer must have")
    add.add_argument("--output", dest="observed", default="", help="the answer that failed")
    add.add_argument(
        "--context-file",
        type=Path,
        help='JSON: the conversation before ([{"user","assistant"}] turns or [{"role","content"}] messages)',
    )
    _tag_options(add)
    add.add_argument("--notes", default="", help="kept in the case's provenance")
    _output(add)

    ls = _action(
        actions, "list", "the current set (latest version of each case, retired ones left out)", _cmd_list
    )
    ls.add_argument("--all", action="store_true", help="every row: old versions and retired cases too")
    ls.add_argument(
        "--category", action="append", default=[], help="only cases in this category (repeatable)"
    )
    ls.add_argument(
        "--limit", type=int, default=100, help="at most this many rows in the table (default 100)"
    )
    _output(ls)

    tag = _action(actions, "tag", "change a case's tags (appends a version that supersedes it)", _cmd_tag)
    tag.add_argument("case_id", help="a case id or a unique prefix (6+ hex digits)")
    _tag_options(tag)
    tag.add_argument("--remove-category", action="append", default=[], help="drop a category (repeatable)")
    tag.add_argument("--untag", action="append", default=[], help="drop a free tag (repeatable)")
    _output(tag)

    for name, helptext in (
        ("retire", "take a case out of the current set (a new version; the rows stay)"),
        ("restore", "bring a retired case back into the current set"),
    ):
        action = _action(actions, name, helptext, _cmd_status)
        action.add_argument("case_id", help="a case id or a unique prefix (6+ hex digits)")
        action.add_argument("--reason", default="", help="why (kept in the case's provenance)")
        action.add_argument("--by", default=os.environ.get("USER", ""), help="who (default $USER)")
        _output(action)

    verify = _action(
        actions, "verify", "check every content address and chain link (store or files)", _cmd_verify
    )
    verify.add_argument(
        "--file", action="append", type=Path, default=[],
        help="check this export (its manifest beside it) instead of the store (repeatable)",
    )  # fmt: skip
    _output(verify)

    export = _action(actions, "export", "write the set (or a CI suite) for an eval framework", _cmd_export)
    export.add_argument("--format", required=True, choices=_FORMAT_NAMES, dest="export_format")
    export.add_argument("--out", type=Path, help="file (openai-evals: folder) to write; default by format")
    export.add_argument(
        "--category", action="append", default=[], help="only cases in this category (repeatable)"
    )
    export.add_argument("--max-cases", type=int, help="at most this many cases (a suite for CI)")
    export.add_argument(
        "--cover-all-categories", action="store_true",
        help="the suite covers every category of the set (greedy set cover before filling by severity)",
    )  # fmt: skip
    export.add_argument("--seed", type=int, default=0, help="tie-break seed of the suite (default 0)")
    export.add_argument("--json", action="store_true", help="print the summary as JSON")


def _action(actions: Any, name: str, helptext: str, handler: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = actions.add_parser(name, help=helptext)
    add_store_options(p)
    p.set_defaults(handler=handler)
    return p


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "json"], default="table")


def _tag_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--category", action="append", default=[], help="a failure category (repeatable)")
    p.add_argument("--severity", help="critical, high, medium or low")
    p.add_argument("--incident", help="the incident id")
    p.add_argument("--tag", action="append", default=[], help="a free tag (repeatable)")
    p.add_argument("--by", default=os.environ.get("USER", ""), help="who (default $USER)")


def _emit(args: argparse.Namespace, result: Any, table: Any) -> None:
    if args.format == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        table()


def _cmd_sync(args: argparse.Namespace) -> int:
    async def run() -> Any:
        async with eval_store_from_args(args) as store:
            return await store.call("regressions.promote:promote", {})

    result = asyncio.run(run())
    _emit(args, result, lambda: _render.sync(result))
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    if args.from_json is not None:
        cases = _read_cases(args.from_json)
    else:
        context = _read_json(args.context_file) if args.context_file else []
        cases = [
            {
                "input": args.input,
                "expected": args.expected,
                "criteria": args.criteria,
                "output": args.observed,
                "context": context,
                "categories": args.category,
                "severity": args.severity or "",
                "incident_id": args.incident or "",
                "tags": args.tag,
                "notes": args.notes,
            }
        ]

    async def run() -> Any:
        async with eval_store_from_args(args) as store:
            return await store.call("regressions.edit:add", {"cases": cases, "by": args.by})

    result = asyncio.run(run())
    _emit(args, result, lambda: _render.added(result))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from .chain import read_cases
    from .current import current_cases

    async def run() -> list[Any]:
        async with eval_store_from_args(args) as store:
            return await (read_cases(store) if args.all else current_cases(store))

    cases = asyncio.run(run())
    if args.category:
        cases = [c for c in cases if set(args.category) & set(c.record.categories)]
    _emit(args, [c.to_json() for c in cases], lambda: _render.cases(cases, args.limit))
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    payload = {
        "case_id": args.case_id,
        "add_categories": args.category,
        "remove_categories": args.remove_category,
        "severity": args.severity,
        "incident_id": args.incident,
        "add_tags": args.tag,
        "remove_tags": args.untag,
        "by": args.by,
    }
    return _edit(args, "regressions.edit:tag", payload)


def _cmd_status(args: argparse.Namespace) -> int:
    status = "retired" if args.regressions_command == "retire" else "active"
    payload = {"case_id": args.case_id, "status": status, "reason": args.reason, "by": args.by}
    return _edit(args, "regressions.edit:set_status", payload)


def _edit(args: argparse.Namespace, op: str, payload: dict[str, Any]) -> int:
    async def run() -> Any:
        async with eval_store_from_args(args) as store:
            return await store.call(op, payload)

    result = asyncio.run(run())
    _emit(args, result, lambda: _render.edited(result))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.file:
        from .exports import FORMATS
        from .exports.manifest import find_manifests, verify_export

        reports = [verify_export(m, FORMATS) for path in args.file for m in find_manifests(path)]
    else:

        async def run() -> Any:
            async with eval_store_from_args(args) as store:
                return await store.call("regressions.verify:verify", {})

        reports = [asyncio.run(run())]
    ok = all(r["ok"] for r in reports)
    _emit(args, {"ok": ok, "reports": reports}, lambda: _render.verified(reports))
    return 0 if ok else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from .exports import FORMATS, export

    fmt = FORMATS[args.export_format]
    out = args.out or Path(fmt.default_out)

    async def run() -> dict[str, Any]:
        async with eval_store_from_args(args) as store:
            check = await store.call("regressions.verify:verify", {})
            if not check["ok"]:
                raise PermanentError(
                    f"the regression set fails verification ({len(check['problems'])} problems): "
                    "run `tracesieve regressions verify`; nothing was exported"
                )
            return await export(
                store,
                fmt,
                out,
                categories=args.category,
                max_cases=args.max_cases,
                cover_all=args.cover_all_categories,
                seed=args.seed,
            )

    result = asyncio.run(run())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _render.exported(result)
    return 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PermanentError(f"no such file: {path}") from exc
    except ValueError as exc:
        raise PermanentError(f"{path} is not JSON: {exc}") from exc


def _read_cases(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PermanentError(f"no such file: {path}") from exc
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise PermanentError(f"{path} is neither JSON nor JSONL: {exc}") from exc
    cases = data if isinstance(data, list) else [data]
    if not all(isinstance(c, dict) for c in cases):
        raise PermanentError(f"{path}: each case must be a JSON object")
    return cases
