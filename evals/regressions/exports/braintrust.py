"""Braintrust: JSONL dataset records ``{id, input, expected, metadata, tags}``.

The fields ``braintrust.init_dataset(...).insert(**record)`` and ``Eval(data=...)``'s
``EvalCase`` take: ``input`` is ``{"input": message, "history": [chat messages], "documents":
[text]}``, ``expected`` the expected answer (left out when there is none: the criterion is in
``metadata.criteria``), ``tags`` the categories and free tags, ``id`` the case id (inserting again
upserts instead of duplicating)::

    import json, braintrust
    dataset = braintrust.init_dataset(project="my-app", name="tracesieve-regressions")
    for line in open("regressions.braintrust.jsonl"):
        dataset.insert(**json.loads(line))
"""

from __future__ import annotations

from ..record import EvalCase
from .base import Entry, Format, checks, document_texts, history_messages, metadata, read_jsonl, write_jsonl

__all__ = ["FORMAT"]


def entry(case: EvalCase) -> Entry:
    r = case.record
    record: Entry = {
        "id": case.case_id,
        "input": {"input": r.input, "history": history_messages(case), "documents": document_texts(case)},
    }
    if r.expected:
        record["expected"] = r.expected
    record["metadata"] = {**metadata(case), "criteria": checks(case)}
    record["tags"] = sorted({*r.categories, *r.tags})
    return record


FORMAT = Format("braintrust", "regressions.braintrust.jsonl", entry, write_jsonl, read_jsonl, ("metadata",))
