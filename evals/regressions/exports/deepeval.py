"""DeepEval: a JSON list of goldens, as ``EvaluationDataset.add_goldens_from_json_file`` loads.

Each golden: ``input``, ``actual_output`` (the answer that failed; your app's new answer replaces
it at eval time), ``expected_output``, ``context`` (the conversation before, one "role: text"
string per message), ``retrieval_context`` (the retrieved documents' text), ``comments`` (the
criterion a judge applies, e.g. as a GEval criteria), ``name`` and ``additional_metadata`` (the
case id, seq, chain hash, categories, severity, tags, provenance ids). Keys with nothing to say
are left out (DeepEval reads them as None)::

    from deepeval.dataset import EvaluationDataset
    dataset = EvaluationDataset()
    dataset.add_goldens_from_json_file("regressions.deepeval.json")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..record import EvalCase
from .base import Entry, Format, checks, document_texts, history_messages, metadata, write_atomic

__all__ = ["FORMAT"]


def entry(case: EvalCase) -> Entry:
    r = case.record
    golden: Entry = {
        "name": f"tracesieve-{case.case_id[:12]}",
        "input": r.input,
        "actual_output": r.output or None,
        "expected_output": r.expected or None,
        "context": [f"{m['role']}: {m['content']}" for m in history_messages(case)] or None,
        "retrieval_context": document_texts(case) or None,
        "comments": checks(case),
        "additional_metadata": metadata(case),
    }
    return {k: v for k, v in golden.items() if v is not None}


def write(entries: Sequence[Entry], out: Path) -> Path:
    write_atomic(out, json.dumps(list(entries), ensure_ascii=False, indent=2) + "\n")
    return out


def read(path: Path) -> list[Entry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: a DeepEval dataset is a JSON list of goldens")
    return data


FORMAT = Format("deepeval", "regressions.deepeval.json", entry, write, read, ("additional_metadata",))
