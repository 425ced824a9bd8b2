"""Checking the regression set: every content address, every chain link, and the ledger.

A row is reported (by seq and case id) as

- ``missing``: its seq is absent (a gap, or the tail the ledger recorded and the table lost);
  the ledger names the case when this machine appended or saw it;
- ``changed``: its content no longer hashes to its id, its chain hash is not
  SHA-256(PrevHash ‖ CaseId), or it is not what the ledger recorded at that seq;
- ``reordered``: its PrevHash is the chain hash of another row than the one before it;
- ``broken-link``: its PrevHash matches no row (the row before it changed);
- ``duplicated``: two rows share a seq;
- ``superseded-unknown``: it supersedes a case that is not earlier in the chain.

``store.call("regressions.verify:verify", {})`` runs it where the store (and its ledger) lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tracesieve.evals.store import EvalStore, store_op

from .chain import read_rows
from .ledger import LedgerEntry, ledger_for
from .record import GENESIS, EvalCase, chain_hash

__all__ = ["Link", "Problem", "check_ledger", "check_links", "links_from_rows", "verify"]


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    seq: int
    case_id: str
    kind: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Link:
    """One row of a chain as verification sees it.

    ``prev_hash`` None: not recorded (export manifests keep seq, id and chain hash only), taken to
    be the previous link's chain hash. ``computed_id`` None: the content is not at hand here.
    """

    seq: int
    case_id: str
    chain_hash: str
    prev_hash: str | None = None
    computed_id: str | None = None
    content_error: str = ""
    supersedes: str = ""


def links_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Link]:
    links = []
    for row in rows:
        computed, error = None, ""
        try:
            computed = EvalCase.from_row(row).record.case_id()
        except (ValueError, TypeError, KeyError) as exc:
            error = f"its content no longer parses ({exc})"
        links.append(
            Link(
                seq=int(row["Seq"]),
                case_id=str(row["CaseId"]),
                chain_hash=str(row["ChainHash"]),
                prev_hash=str(row["PrevHash"]),
                computed_id=computed,
                content_error=error,
                supersedes=str(row.get("Supersedes") or ""),
            )
        )
    return links


def check_links(links: list[Link], where: str, names: Mapping[int, str] | None = None) -> list[Problem]:
    """Problems of a chain given in seq order; ``names`` (seq → case id, e.g. the ledger) names
    the cases of missing seqs."""
    names = names or {}
    problems: list[Problem] = []
    by_hash = {link.chain_hash: link for link in links}
    seen: set[str] = set()
    expected_seq, prev = 1, GENESIS
    for link in links:
        if link.seq < expected_seq:
            problems.append(
                Problem(where, link.seq, link.case_id, "duplicated", f"a second row with seq {link.seq}")
            )
            continue
        gap = link.seq > expected_seq
        for seq in range(expected_seq, link.seq):
            problems.append(_missing(where, seq, names))
        if link.content_error:
            problems.append(Problem(where, link.seq, link.case_id, "changed", link.content_error))
        elif link.computed_id is not None and link.computed_id != link.case_id:
            problems.append(
                Problem(
                    where,
                    link.seq,
                    link.case_id,
                    "changed",
                    f"its content hashes to {link.computed_id[:16]}…",
                )
            )
        link_prev = prev if link.prev_hash is None else link.prev_hash
        if not _hex64(link_prev, link.case_id) or link.chain_hash != chain_hash(link_prev, link.case_id):
            problems.append(
                Problem(where, link.seq, link.case_id, "changed", "its chain hash is not SHA-256(prev ‖ id)")
            )
        elif link_prev != prev and not gap:
            before = by_hash.get(link_prev)
            if before is not None:
                problems.append(
                    Problem(
                        where,
                        link.seq,
                        link.case_id,
                        "reordered",
                        f"it follows seq {before.seq} in the chain",
                    )
                )
            else:
                problems.append(
                    Problem(
                        where, link.seq, link.case_id, "broken-link", "its prev hash matches no row before it"
                    )
                )
        if link.supersedes and link.supersedes not in seen:
            problems.append(
                Problem(
                    where,
                    link.seq,
                    link.case_id,
                    "superseded-unknown",
                    f"it supersedes {link.supersedes[:16]}…, which is not earlier in the chain",
                )
            )
        seen.add(link.case_id)
        expected_seq, prev = link.seq + 1, link.chain_hash
    return problems


def check_ledger(links: list[Link], entries: list[LedgerEntry], where: str) -> list[Problem]:
    """Rows the ledger recorded that the table no longer holds as recorded (the tail included)."""
    by_seq: dict[int, Link] = {}
    for link in links:
        by_seq.setdefault(link.seq, link)
    problems: list[Problem] = []
    for entry in entries:
        found = by_seq.get(entry.seq)
        if found is None:
            if entry.seq > max(by_seq, default=0):  # gaps inside the table are reported by check_links
                problems.append(
                    Problem(
                        where,
                        entry.seq,
                        entry.case_id,
                        "missing",
                        "the ledger recorded it; the table lost it",
                    )
                )
        elif (found.case_id, found.chain_hash) != (entry.case_id, entry.chain_hash):
            problems.append(
                Problem(
                    where,
                    entry.seq,
                    entry.case_id,
                    "changed",
                    f"the table holds {found.case_id[:16]}… at this seq",
                )
            )
    return problems


@store_op
async def verify(store: EvalStore, payload: dict[str, Any]) -> dict[str, Any]:
    """``{}`` → ``{"ok", "where", "rows", "head", "ledger", "ledger_rows", "problems", "warnings"}``."""
    ledger = ledger_for(store)
    entries = ledger.read()
    links = links_from_rows(await read_rows(store))
    where = f"store {store.database}.eval_cases"
    problems = check_links(links, where, {e.seq: e.case_id for e in entries})
    problems += check_ledger(links, entries, where)
    problems.sort(key=lambda p: (p.seq, p.kind))
    warnings = []
    if links and not entries:
        warnings.append(f"no ledger at {ledger.path}: the removal of the last rows cannot be detected here")
    head = links[-1] if links else None
    return {
        "ok": not problems,
        "where": where,
        "rows": len(links),
        "head": {"seq": head.seq, "chain_hash": head.chain_hash}
        if head
        else {"seq": 0, "chain_hash": GENESIS},
        "ledger": str(ledger.path),
        "ledger_rows": len(entries),
        "problems": [p.to_json() for p in problems],
        "warnings": warnings,
    }


def _missing(where: str, seq: int, names: Mapping[int, str]) -> Problem:
    case_id = names.get(seq, "")
    detail = "the row is gone" if case_id else "the row is gone (its id is not in this machine's ledger)"
    return Problem(where, seq, case_id, "missing", detail)


def _hex64(*values: str) -> bool:
    return all(len(v) == 64 and all(c in "0123456789abcdef" for c in v) for v in values)
