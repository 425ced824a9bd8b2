"""Exports of the regression set in the eval frameworks' own dataset formats.

One module per format (``deepeval``, ``promptfoo``, ``braintrust``, ``langsmith``,
``openai_evals``, ``jsonl``), each a :class:`~.base.Format`; :data:`FORMATS` names them as
``tracesieve regressions export --format`` does. Every export writes its data file and a
manifest beside it (``manifest``) that ``tracesieve regressions verify --file`` checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tracesieve.evals.store import EvalStore

from ..current import current_cases
from ..suite import Selection, select_suite
from . import braintrust, deepeval, jsonl, langsmith, openai_evals, promptfoo
from .base import Format
from .manifest import write_manifest

__all__ = ["FORMATS", "export"]

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        deepeval.FORMAT,
        promptfoo.FORMAT,
        braintrust.FORMAT,
        langsmith.FORMAT,
        openai_evals.FORMAT,
        jsonl.FORMAT,
    )
}


async def export(
    store: EvalStore,
    fmt: Format,
    out: Path,
    *,
    categories: Sequence[str] = (),
    max_cases: int | None = None,
    cover_all: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the current set (or the suite the options select) to ``out`` with its manifest.

    Returns ``{"format", "file", "manifest", "cases", "pool", "categories", "head"}``.
    """
    cases = await current_cases(store)
    chain_rows = await store.select("SELECT Seq, CaseId, ChainHash FROM eval_cases ORDER BY Seq")
    chain = [(int(r["Seq"]), str(r["CaseId"]), str(r["ChainHash"])) for r in chain_rows]
    selection: Selection = select_suite(
        cases, categories=categories, max_cases=max_cases, cover_all=cover_all, seed=seed
    )
    data_file = fmt.write([fmt.entry(c) for c in selection.cases], out)
    options: Mapping[str, Any] = {
        "categories": list(categories),
        "max_cases": max_cases,
        "cover_all_categories": cover_all,
        "seed": seed,
    }
    manifest = write_manifest(data_file, fmt, selection.cases, chain, options)
    return {
        "format": fmt.name,
        "file": str(data_file.resolve()),
        "manifest": str(manifest.resolve()),
        "cases": len(selection.cases),
        "pool": selection.pool_size,
        "categories": selection.categories,
        "covered": sorted(
            {cat for c in selection.cases for cat in c.record.categories} & set(selection.categories)
        ),
        "head": {"seq": chain[-1][0], "chain_hash": chain[-1][2]} if chain else {"seq": 0, "chain_hash": ""},
    }
