"""LangSmith: JSONL examples ``{id, inputs, reference_outputs, metadata}``, as ``create_examples`` takes.

``inputs`` is ``{"input": message, "history": [chat messages], "documents": [text]}``,
``reference_outputs`` ``{"expected": ..., "criteria": ...}`` (the SDK's name since 0.3; the REST
API and the UI's upload call it ``outputs``, and older SDKs take ``outputs``), ``metadata`` the case
id, seq, chain hash, categories, severity, tags and provenance ids; ``id`` is a UUID made of the
case id's first 32 hex digits, so uploading again updates the same examples::

    import json
    from langsmith import Client
    client = Client()
    dataset = client.create_dataset("tracesieve-regressions")
    examples = [json.loads(line) for line in open("regressions.langsmith.jsonl")]
    client.create_examples(dataset_id=dataset.id, examples=examples)
"""

from __future__ import annotations

import uuid

from ..record import EvalCase
from .base import Entry, Format, checks, document_texts, history_messages, metadata, read_jsonl, write_jsonl

__all__ = ["FORMAT", "example_id"]


def example_id(case_id: str) -> str:
    return str(uuid.UUID(hex=case_id[:32]))


def entry(case: EvalCase) -> Entry:
    r = case.record
    outputs: Entry = {"criteria": checks(case)}
    if r.expected:
        outputs = {"expected": r.expected, **outputs}
    return {
        "id": example_id(case.case_id),
        "inputs": {"input": r.input, "history": history_messages(case), "documents": document_texts(case)},
        "reference_outputs": outputs,
        "metadata": metadata(case),
    }


FORMAT = Format("langsmith", "regressions.langsmith.jsonl", entry, write_jsonl, read_jsonl, ("metadata",))
