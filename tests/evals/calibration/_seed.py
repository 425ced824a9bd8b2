"""Human labels and a judge's verdicts with known properties, for the calibration tests.

Used in-process (``seed(dsn, database)`` + ``verdict_lines()``) and by the CLI test in a
subprocess with a data folder of its own (``python _seed.py DATA_DIR VERDICTS.jsonl``).

| category | cases | the judge |
| --- | --- | --- |
| hallucination | 60 | agrees but on 2 cases: trusted |
| retrieval | 60 | says fine on half the cases humans call bad: too lenient, untrusted |
| refusal | 6 | agrees on all: too few cases to tell |
| XSS (a custom category) | 4 | agrees on all: too few cases to tell |

Plus 5 verdicts on cases nobody labelled (unmatched), and one case labelled bad then fine (its
latest label, fine, counts).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

from tracesieve.evals.ids import review_case_id
from tracesieve.evals.store import DirectEvalStore

XSS = "<img src=x onerror=alert(1)>"
GROUPS = (("hallucination", 60), ("retrieval", 60), ("refusal", 6), (XSS, 4))
LABELLED_AT = 1_772_000_000_000


def cases() -> list[dict[str, Any]]:
    """One dict per labelled case: ids, category, human label, judge verdict, answer."""
    rng = random.Random(7)
    out = []
    for g, (category, n) in enumerate(GROUPS):
        flips = set(rng.sample(range(n), 2)) if category == "hallucination" else set()
        for i in range(n):
            trace_id, span_id = f"{g:02x}{i:030x}", f"{i + 1:016x}"
            human = "bad" if i % 2 == 0 else "fine"
            judge = human
            if i in flips:
                judge = "fine" if human == "bad" else "bad"
            if category == "retrieval" and human == "bad" and i % 4 == 0:
                judge = "fine"
            out.append(
                {
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "case_id": review_case_id(trace_id, span_id),
                    "category": category,
                    "human": human,
                    "judge": judge,
                    "output": f"answer {i}: " + "word " * rng.randint(3, 40),
                }
            )
    return out


def label_rows() -> list[dict[str, Any]]:
    rows = []
    for k, c in enumerate(cases()):
        row = {
            "LabelId": f"l{k}",
            "CaseId": c["case_id"],
            "TraceId": c["trace_id"],
            "SpanId": c["span_id"],
            "Verdict": c["human"],
            "Categories": [c["category"]] if c["human"] == "bad" else [],
            "Reviewer": "ana",
            "LabelledAt": LABELLED_AT + k,
        }
        rows.append(row)
    # The first hallucination case (human: bad) was first labelled fine by mistake: older, ignored.
    first = cases()[0]
    rows.append({**rows[0], "LabelId": "l-old", "Verdict": "fine", "LabelledAt": LABELLED_AT - 1})
    assert first["human"] == "bad"
    return rows


def batch_rows() -> list[dict[str, Any]]:
    """Where fine-labelled cases get their category (the flagged one) and most answers come from."""
    return [
        {
            "BatchId": "b1",
            "Position": k,
            "CaseId": c["case_id"],
            "TraceId": c["trace_id"],
            "SpanId": c["span_id"],
            "Categories": [c["category"]],
            "OutputText": c["output"],
        }
        for k, c in enumerate(cases())
    ]


def verdict_lines() -> list[str]:
    """The judge's file: mixed verdict forms, as judges write them."""
    lines = ["# judge: support-judge-v1"]
    for k, c in enumerate(cases()):
        if k % 3 == 0:
            obj: dict[str, Any] = {"case_id": c["case_id"], "verdict": c["judge"].upper()}
        elif k % 3 == 1:
            obj = {"trace_id": c["trace_id"].upper(), "span_id": c["span_id"], "pass": c["judge"] == "fine"}
        else:
            obj = {
                "case_id": c["case_id"],
                "verdict": "pass" if c["judge"] == "fine" else "fail",
                "output": c["output"],
                "rationale": "because",
            }
        lines.append(json.dumps(obj))
    for i in range(5):
        lines.append(json.dumps({"case_id": f"nobody-labelled-{i}", "verdict": "fine"}))
    return lines


async def seed(dsn: str, database: str) -> None:
    store = DirectEvalStore(dsn, database)
    await store.open()
    try:
        await store.insert("labels", label_rows())
        await store.insert("review_batches", batch_rows())
    finally:
        await store.aclose()


if __name__ == "__main__":
    data_dir = Path(sys.argv[1]).resolve()
    asyncio.run(seed(f"chdb://{data_dir / 'chdb'}", "tracesieve"))
    Path(sys.argv[2]).write_text("\n".join(verdict_lines()) + "\n", encoding="utf-8")
