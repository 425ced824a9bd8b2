"""Terminal output of ``tracesieve regressions`` (tables for people; ``--format json`` for scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from .record import EvalCase

_out = Console(highlight=False)


def _clip(text: str, n: int) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= n else one_line[: n - 1] + "…"


def sync(result: dict[str, Any]) -> None:
    appended = result["appended"]
    versions = sum(1 for a in appended if a["supersedes"])
    _out.print(
        f"{result['labelled']} labelled cases: {len(appended)} appended ({versions} new versions of "
        f"changed labels), {len(result['unchanged'])} already in the set, "
        f"{len(result['missing_content'])} without a batch row or flagged turn to build from"
    )
    if result["labelled_fine"]:
        _out.print(
            f"{len(result['labelled_fine'])} cases now labelled fine are still in the set "
            "(retire them with `tracesieve regressions retire CASE_ID`)"
        )
    for a in appended:
        _out.print(f"  + seq {a['seq']}  {a['case_id'][:16]}  review case {a['review_case_id']}")


def added(result: dict[str, Any]) -> None:
    for a in result["appended"]:
        _out.print(f"added seq {a['seq']}  {a['case_id']}")
    for case_id in result["already_present"]:
        _out.print(f"already in the set: {case_id}")


def edited(result: dict[str, Any]) -> None:
    if not result["changed"]:
        _out.print(f"nothing to change: {result['current'][:16]} already says so")
        return
    note = "" if result["named"] == result["current"] else f" (the current version of {result['named'][:16]})"
    _out.print(f"seq {result['seq']}  {result['case_id']}  supersedes {result['current'][:16]}{note}")


def cases(items: Sequence[EvalCase], limit: int) -> None:
    table = Table(title=f"{len(items)} eval cases")
    for name in ("Seq", "Case", "Status", "Source", "Categories", "Severity", "Incident", "Tags", "Input"):
        table.add_column(name, overflow="fold")
    for c in items[:limit]:
        r = c.record
        table.add_row(
            str(c.seq), c.case_id[:12], r.status, r.source, ", ".join(r.categories), r.severity,
            r.incident_id, ", ".join(r.tags), _clip(r.input, 60),
        )  # fmt: skip
    _out.print(table)
    if len(items) > limit:
        _out.print(f"({len(items) - limit} more: --limit, or --format json)")


def verified(reports: Sequence[dict[str, Any]]) -> None:
    for report in reports:
        head = report.get("head") or {}
        if report["ok"]:
            rows = report.get("rows", report.get("cases"))
            what = "rows" if "rows" in report else f"{report.get('format')} cases"
            _out.print(f"intact: {report['where']}: {rows} {what}, head seq {head.get('seq', 0)}")
            for warning in report.get("warnings", []):
                _out.print(f"  warning: {warning}")
            continue
        table = Table(title=f"NOT intact: {report['where']}")
        for name in ("Seq", "Case", "Problem", "Detail"):
            table.add_column(name, overflow="fold")
        for p in report["problems"]:
            table.add_row(str(p["seq"]), p["case_id"] or "?", p["kind"], p["detail"])
        _out.print(table)


def exported(result: dict[str, Any]) -> None:
    covered = len(result["covered"])
    _out.print(
        f"wrote {result['cases']} of {result['pool']} cases "
        f"({covered}/{len(result['categories'])} categories) as {result['format']} to {result['file']} "
        f"(manifest {result['manifest']}, head seq {result['head']['seq']})"
    )
