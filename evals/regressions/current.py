"""The current set: per lineage the latest version, less retired ones; and finding a case by id.

Every version of a case shares its ``Lineage`` (the first version's id), and a new version is
always appended after the one it supersedes, so a lineage's current version is its highest Seq.
"""

from __future__ import annotations

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore

from .chain import read_cases
from .record import ACTIVE, EvalCase

__all__ = ["current_cases", "resolve_case"]

_LATEST = "WHERE Seq IN (SELECT max(Seq) FROM eval_cases GROUP BY Lineage)"
_MIN_PREFIX = 6


async def current_cases(store: EvalStore, *, include_retired: bool = False) -> list[EvalCase]:
    """The set that exports and suites draw from, in Seq order."""
    cases = await read_cases(store, _LATEST)
    return cases if include_retired else [c for c in cases if c.record.status == ACTIVE]


async def resolve_case(store: EvalStore, ref: str) -> tuple[EvalCase, EvalCase]:
    """``(named, current)``: the version ``ref`` names (a case id, or a unique prefix of at least
    six hex digits) and the current version of its lineage. PermanentError if none or several."""
    ref = ref.strip().lower()
    if len(ref) < _MIN_PREFIX or any(ch not in "0123456789abcdef" for ch in ref):
        raise PermanentError(f"{ref!r} is not a case id (hex, at least {_MIN_PREFIX} digits)")
    named = await read_cases(store, "WHERE startsWith(CaseId, {p:String})", {"p": ref})
    if not named:
        raise PermanentError(f"no eval case {ref}")
    if len({c.case_id for c in named}) > 1:
        ids = ", ".join(c.case_id[:16] for c in named[:5])
        raise PermanentError(f"{ref} names several cases ({ids}): give more digits")
    latest = await read_cases(
        store,
        "WHERE Seq = (SELECT max(Seq) FROM eval_cases WHERE Lineage = {l:String})",
        {"l": named[0].lineage},
    )
    return named[0], latest[0]
