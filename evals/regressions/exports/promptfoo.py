"""promptfoo: a tests file (YAML), referenced from a config as ``tests: file://regressions.promptfoo.yaml``.

Each test: ``description``; ``vars``: ``input`` (the user's message), ``history`` (the
conversation before, "role: text" lines) and ``documents`` (retrieved text), all strings since
promptfoo expands list-valued vars into one test per element; ``assert``: ``similar`` (threshold
0.8) to the expected answer when there is one, and ``llm-rubric`` with the criterion;
``metadata``: the case id, seq, chain hash, categories, severity, tags and provenance ids (filter
with ``--filter-metadata``). Checked with ``promptfoo validate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ..record import EvalCase
from .base import Entry, Format, checks, document_texts, history_text, metadata, write_atomic

__all__ = ["FORMAT"]

SIMILARITY_THRESHOLD = 0.8


def entry(case: EvalCase) -> Entry:
    r = case.record
    asserts: list[Entry] = []
    if r.expected:
        asserts.append({"type": "similar", "value": r.expected, "threshold": SIMILARITY_THRESHOLD})
    asserts.append({"type": "llm-rubric", "value": checks(case)})
    label = ",".join(r.categories) or "uncategorised"
    return {
        "description": f"{case.case_id[:12]} [{label}] {_clip(r.input, 60)}",
        "vars": {
            "input": r.input,
            "history": history_text(case),
            "documents": "\n\n".join(document_texts(case)),
        },
        "assert": asserts,
        "metadata": metadata(case),
    }


def write(entries: Sequence[Entry], out: Path) -> Path:
    header = f"# promptfoo tests exported by tracesieve: tests: file://{out.name}\n"
    body = yaml.safe_dump(list(entries), sort_keys=False, allow_unicode=True, width=1_000_000)
    write_atomic(out, header + body)
    return out


def read(path: Path) -> list[Entry]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: a promptfoo tests file is a YAML list of tests")
    return data


def _clip(text: str, n: int) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= n else one_line[: n - 1] + "…"


FORMAT = Format("promptfoo", "regressions.promptfoo.yaml", entry, write, read, ("metadata",))
