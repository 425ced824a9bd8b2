"""Plain JSONL: one line per case with everything: its place in the chain and its whole record
(content, tags, provenance), exactly what the content address is computed over::

    {"seq": 7, "case_id": "…", "prev_hash": "…", "chain_hash": "…", "lineage": "…",
     "created_at_ms": 1764300000123, "record": {"v": 1, "input": "…", …}}
"""

from __future__ import annotations

from ..record import EvalCase
from .base import Entry, Format, read_jsonl, write_jsonl

__all__ = ["FORMAT"]


def entry(case: EvalCase) -> Entry:
    return case.to_json()


FORMAT = Format("jsonl", "regressions.jsonl", entry, write_jsonl, read_jsonl, ())
