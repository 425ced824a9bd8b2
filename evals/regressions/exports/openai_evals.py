"""OpenAI evals: a registry folder that ``oaieval <model> tracesieve-regressions --registry_path DIR`` runs.

``DIR/data/tracesieve-regressions/samples.jsonl``: one sample per case, ``{"input": [chat
messages: the conversation before, then the user's message], "ideal": the expected answer (or
the criterion), "criteria": the criterion, "tracesieve": {case id, seq, chain hash, tags, ...}}``;
``DIR/evals/tracesieve-regressions.yaml``: the eval, model-graded with the registry's ``closedqa``
spec, whose prompt takes each sample's ``criteria``. The manifest sits beside samples.jsonl.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ..record import EvalCase
from .base import Entry, Format, chat_input, checks, metadata, read_jsonl, write_atomic, write_jsonl

__all__ = ["EVAL_NAME", "FORMAT"]

EVAL_NAME = "tracesieve-regressions"
EVAL_ID = f"{EVAL_NAME}.dev.v1"


def entry(case: EvalCase) -> Entry:
    r = case.record
    return {
        "input": chat_input(case),
        "ideal": r.expected or checks(case),
        "criteria": checks(case),
        "tracesieve": metadata(case),
    }


def registry(samples_path: str) -> dict[str, object]:
    return {
        EVAL_NAME: {
            "id": EVAL_ID,
            "description": "Regression cases mined from production failures by tracesieve.",
            "metrics": ["accuracy"],
        },
        EVAL_ID: {
            "class": "evals.elsuite.modelgraded.classify:ModelBasedClassify",
            "args": {
                "samples_jsonl": samples_path,
                "eval_type": "cot_classify",
                "modelgraded_spec": "closedqa",
            },
        },
    }


def write(entries: Sequence[Entry], out: Path) -> Path:
    samples = write_jsonl(entries, out / "data" / EVAL_NAME / "samples.jsonl")
    spec = yaml.safe_dump(registry(f"{EVAL_NAME}/samples.jsonl"), sort_keys=False)
    write_atomic(out / "evals" / f"{EVAL_NAME}.yaml", spec)
    return samples


FORMAT = Format("openai-evals", "regressions-openai-evals", entry, write, read_jsonl, ("tracesieve",))
