"""The manifest beside every export (``<data file>.manifest.json``), and ``verify --file``.

The manifest holds what verification needs without the store, so a file checked into a repo can
be checked in CI::

    {"tracesieve_export": 1, "format": "promptfoo", "data_file": "regressions.promptfoo.yaml",
     "exported_at": "2026-11-29T05:00:00Z", "selection": {...},
     "head": {"seq": 212, "chain_hash": "…"},          # the set's head when exported: the anchor
     "chain": [[1, "<case id>", "<chain hash>"], ...],  # every row up to the head
     "cases": [{"seq", "case_id", "prev_hash", "chain_hash", "lineage", "created_at_ms",
                "record": {...}}, ...],                 # the exported cases, in file order
     "digest": "<SHA-256 of the canonical JSON of all the above>"}

``verify_export`` recomputes the digest, walks the chain (seq 1..head, each link), recomputes
each exported case's content address and places it on the chain, then renders every case again
in the file's format and compares with the file: an entry missing, edited, added, duplicated or
out of order is named by case id and seq. (Without a secret nobody can stop a person who
rewrites the data file *and* the manifest consistently; ``tracesieve regressions verify`` on the
store, and its ledger, are the check for that.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError

from ..record import GENESIS, EvalCase, canonical_json, chain_hash
from ..verify import Link, Problem, check_links
from .base import Format, write_atomic

__all__ = ["MANIFEST_SUFFIX", "find_manifests", "verify_export", "write_manifest"]

MANIFEST_SUFFIX = ".manifest.json"
_VERSION = 1


def write_manifest(
    data_file: Path,
    fmt: Format,
    cases: Sequence[EvalCase],
    chain: Sequence[tuple[int, str, str]],
    selection: Mapping[str, Any],
) -> Path:
    head_seq, _, head_hash = chain[-1] if chain else (0, "", GENESIS)
    body: dict[str, Any] = {
        "tracesieve_export": _VERSION,
        "format": fmt.name,
        "data_file": data_file.name,
        "exported_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "selection": dict(selection),
        "head": {"seq": head_seq, "chain_hash": head_hash},
        "chain": [list(link) for link in chain],
        "cases": [c.to_json() for c in cases],
    }
    body["digest"] = _digest(body)
    path = data_file.with_name(data_file.name + MANIFEST_SUFFIX)
    write_atomic(path, json.dumps(body, ensure_ascii=False, indent=1) + "\n")
    return path


def find_manifests(path: Path) -> list[Path]:
    """The manifests ``path`` names: itself, ``<path>.manifest.json``, or those under a folder."""
    if path.is_dir():
        found = sorted(path.rglob(f"*{MANIFEST_SUFFIX}"))
        if not found:
            raise PermanentError(f"no export manifest (*{MANIFEST_SUFFIX}) under {path}")
        return found
    if path.name.endswith(MANIFEST_SUFFIX):
        return [path]
    return [path.with_name(path.name + MANIFEST_SUFFIX)]


def verify_export(manifest_path: Path, formats: Mapping[str, Format]) -> dict[str, Any]:
    """``{"ok", "where", "format", "cases", "head", "problems"}`` for one exported file."""
    where = str(manifest_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _report(
            where, "?", 0, None, [Problem(where, 0, "", "missing", "the export's manifest is missing")]
        )
    except ValueError as exc:
        return _report(
            where, "?", 0, None, [Problem(where, 0, "", "changed", f"the manifest is not JSON ({exc})")]
        )
    fmt = formats.get(str(manifest.get("format")))
    data_file = manifest_path.with_name(str(manifest.get("data_file") or ""))
    where = str(data_file)
    if fmt is None or manifest.get("tracesieve_export") != _VERSION:
        return _report(
            where, "?", 0, None, [Problem(where, 0, "", "changed", "not a tracesieve export manifest")]
        )
    problems: list[Problem] = []
    if manifest.get("digest") != _digest({k: v for k, v in manifest.items() if k != "digest"}):
        problems.append(
            Problem(where, 0, "", "changed", "the manifest was edited (its digest does not match)")
        )
    chain = [(int(s), str(i), str(h)) for s, i, h in manifest.get("chain") or []]
    problems += check_links([Link(s, i, h) for s, i, h in chain], f"{where} (manifest chain)")
    head = manifest.get("head") or {}
    last = chain[-1] if chain else (0, "", GENESIS)
    if (head.get("seq"), head.get("chain_hash")) != (last[0], last[2]):
        problems.append(
            Problem(where, last[0], last[1], "missing", "the manifest's chain does not end at its head")
        )
    cases, case_problems = _cases(manifest.get("cases") or [], chain, where)
    problems += case_problems
    problems += _compare_file(data_file, fmt, cases, where)
    problems.sort(key=lambda p: (p.seq, p.kind))
    return _report(where, fmt.name, len(cases), head, problems)


def _cases(
    raw: list[Any], chain: list[tuple[int, str, str]], where: str
) -> tuple[list[EvalCase], list[Problem]]:
    on_chain = {s: (i, h) for s, i, h in chain}
    prev_of = {s: h for s, _, h in chain}
    cases: list[EvalCase] = []
    problems: list[Problem] = []
    for item in raw:
        try:
            case = EvalCase.from_json(item)
        except (KeyError, TypeError, ValueError, PermanentError) as exc:
            problems.append(
                Problem(
                    where, 0, str(item.get("case_id", "")), "changed", f"unreadable in the manifest: {exc}"
                )
            )
            continue
        cases.append(case)
        computed = case.record.case_id()
        if computed != case.case_id:
            problems.append(
                Problem(where, case.seq, case.case_id, "changed", f"its content hashes to {computed[:16]}…")
            )
        expected_prev = prev_of.get(case.seq - 1, GENESIS if case.seq == 1 else None)
        if (
            on_chain.get(case.seq) != (case.case_id, case.chain_hash)
            or case.prev_hash != expected_prev
            or case.chain_hash != chain_hash(case.prev_hash, case.case_id)
        ):
            problems.append(
                Problem(where, case.seq, case.case_id, "changed", "it is not on the chain at its seq")
            )
    return cases, problems


def _compare_file(data_file: Path, fmt: Format, cases: list[EvalCase], where: str) -> list[Problem]:
    try:
        entries = fmt.read(data_file)
    except FileNotFoundError:
        return [Problem(where, 0, "", "missing", "the exported file is missing")]
    except ValueError as exc:
        return [Problem(where, 0, "", "changed", f"the file no longer parses: {exc}")]
    expected = {c.case_id: (c, _normal(fmt.entry(c))) for c in cases}
    problems: list[Problem] = []
    found: list[str] = []
    for position, entry in enumerate(entries, 1):
        ref = fmt.ref(entry) if isinstance(entry, Mapping) else None
        case_id = str(ref["case_id"]) if ref else ""
        if case_id not in expected:
            detail = f"entry {position} is not a case of this export" + ("" if ref else " (no case id)")
            problems.append(
                Problem(where, int(ref.get("seq") or 0) if ref else 0, case_id, "unknown", detail)
            )
            continue
        case, rendered = expected[case_id]
        if case_id in found:
            problems.append(Problem(where, case.seq, case_id, "duplicated", f"entry {position} repeats it"))
            continue
        found.append(case_id)
        if _normal(entry) != rendered:
            fields = sorted(k for k in {*rendered, *entry} if rendered.get(k) != _normal(entry).get(k))
            problems.append(
                Problem(where, case.seq, case_id, "changed", f"edited in the file ({', '.join(fields)})")
            )
    for case_id, (case, _) in expected.items():
        if case_id not in found:
            problems.append(Problem(where, case.seq, case_id, "missing", "deleted from the file"))
    order = [c.case_id for c in cases if c.case_id in found]
    for want, got in zip(order, found, strict=True):
        if want != got:
            case = expected[got][0]
            problems.append(
                Problem(where, case.seq, got, "reordered", "the file's order is not the manifest's")
            )
    return problems


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _report(where: str, fmt: str, cases: int, head: Any, problems: list[Problem]) -> dict[str, Any]:
    return {
        "ok": not problems,
        "where": where,
        "format": fmt,
        "cases": cases,
        "head": head,
        "problems": [p.to_json() for p in problems],
    }
