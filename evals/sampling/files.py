"""A batch as files a reviewer can use without tracesieve: ``<batch_id>.jsonl`` and ``.md``.

JSONL: one case per line, keys in snake case, the JSON columns decoded (``evidence``,
``input_messages``, ``retrieved_documents``, ``session_context``, ``cluster_examples``), times
as ISO 8601 UTC. Markdown: the batch's header, then per case the conversation before the turn,
the question, the answer, the signals with their evidence, and the retrieved documents.

Both are rendered from the stored rows only, so writing them again for a stored batch gives the
same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from tracesieve.evals.json_columns import json_column

from .batch import Batch

__all__ = ["batch_cases", "render_markdown", "write_batch_files"]

_DOC_CHARS = 1200
_CONTEXT_TURNS = 3


def _iso_ns(ns: int) -> str:
    seconds, rest = divmod(int(ns), 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1000:06d}Z"


def _iso_ms(ms: int) -> str:
    return _iso_ns(int(ms) * 1_000_000)


def batch_cases(batch: Batch) -> list[dict[str, Any]]:
    """The batch's cases as the JSONL lines hold them."""
    out = []
    for row in batch.rows:
        out.append(
            {
                "batch_id": batch.batch_id,
                "week": batch.week,
                "position": int(row["Position"]),
                "case_id": row["CaseId"],
                "category": row["Category"],
                "categories": list(row["Categories"]),
                "signals": list(row["Signals"]),
                "flag_score": round(float(row["FlagScore"]), 4),
                "cluster_size": int(row["ClusterSize"]),
                "cluster_examples": json_column(row["ClusterExamples"], []),
                "timestamp": _iso_ns(row["Timestamp"]),
                "session_id": row["SessionId"],
                "trace_id": row["TraceId"],
                "span_id": row["SpanId"],
                "service_name": row["ServiceName"],
                "user_id": row["UserId"],
                "turn_index": int(row["TurnIndex"]),
                "model": row["Model"],
                "user_message": row["UserMessage"],
                "output_text": row["OutputText"],
                "input_messages": json_column(row["InputMessages"], []),
                "session_context": json_column(row["SessionContext"], []),
                "retrieved_documents": json_column(row["RetrievedDocuments"], []),
                "evidence": json_column(row["Evidence"], {}),
            }
        )
    return out


def write_batch_files(batch: Batch, folder: Path) -> tuple[Path, Path]:
    """Write ``<folder>/<batch_id>.jsonl`` and ``.md`` (atomically); returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    jsonl = b"".join(orjson.dumps(case) + b"\n" for case in batch_cases(batch))
    paths = (folder / f"{batch.batch_id}.jsonl", folder / f"{batch.batch_id}.md")
    for path, body in zip(paths, (jsonl, render_markdown(batch).encode()), strict=True):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(body)
        tmp.replace(path)
    return paths


# -- Markdown -------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    text = text.strip() or "(empty)"
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _inline(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(batch: Batch) -> str:
    p = batch.params
    counts = p.get("category_counts") or {}
    exact = "" if p.get("counts_exact", True) else " (estimated)"
    lines = [
        f"# Review batch {batch.batch_id}",
        "",
        f"ISO week **{batch.week}** · {len(batch.rows)} cases (asked: {batch.size}) · seed {batch.seed} · "
        f"drawn {_iso_ms(batch.created_at_ms)}",
        "",
    ]
    if counts:
        listing = ", ".join(f"{c} {n}" for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        lines += [f"Flagged turns this week{exact}: {p.get('flagged_turns', '?')} — {listing}.", ""]
    lines += [
        "For each case, decide whether the answer is **bad** or **fine**, name the failure category, "
        "and write the expected answer or the property a correct answer must have.",
        "",
    ]
    for case in batch_cases(batch):
        lines += _case_markdown(case)
    return "\n".join(lines).rstrip() + "\n"


def _case_markdown(case: dict[str, Any]) -> list[str]:
    question = _inline(case["user_message"], 90) or "(no question)"
    lines = [
        "---",
        "",
        f"## {case['position']}. {case['category']}: {question}",
        "",
        f"- case `{case['case_id']}` · session `{case['session_id'] or '-'}` · turn {case['turn_index']} · "
        f"trace `{case['trace_id']}` · span `{case['span_id']}`",
        f"- {case['timestamp']} · service `{case['service_name'] or '-'}` · model `{case['model'] or '-'}` · "
        f"user `{case['user_id'] or '-'}`",
        f"- flag score {case['flag_score']:.2f} · signals: {', '.join(case['signals'])} · "
        f"categories: {', '.join(case['categories'])}",
    ]
    if case["cluster_size"] > 1:
        lines.append(f"- asked {case['cluster_size']} times this week in near-identical words")
        for example in case["cluster_examples"]:
            lines.append(f"  - “{_inline(example, 160)}”")
    lines.append("")
    context = case["session_context"][-_CONTEXT_TURNS:]
    if context:
        lines += ["### Conversation before", ""]
        for turn in context:
            if isinstance(turn, dict):
                lines += [f"**User:** {_inline(turn.get('user', ''), 600)}", ""]
                lines += [f"**Assistant:** {_inline(turn.get('assistant', ''), 600)}", ""]
    lines += ["### Question", "", _quote(case["user_message"]), ""]
    lines += ["### Answer", "", _quote(case["output_text"]), ""]
    lines += ["### Signals", ""]
    for name, evidence in case["evidence"].items():
        if not isinstance(evidence, dict):
            continue
        details = {k: v for k, v in evidence.items() if k not in ("score", "category", "span_id")}
        head = (
            f"- **{name}** ({evidence.get('category') or '?'}, score {float(evidence.get('score') or 0):.2f})"
        )
        lines.append(head)
        for key, value in details.items():
            lines.append(f"  - {key}: {_inline(value)}")
    lines.append("")
    documents = case["retrieved_documents"]
    if documents:
        lines += ["### Retrieved documents", ""]
        for i, doc in enumerate(documents, start=1):
            if not isinstance(doc, dict):
                continue
            score = doc.get("score")
            score_text = f" (score {float(score):.3f})" if isinstance(score, int | float) else ""
            lines.append(
                f"{i}. `{doc.get('id') or '-'}`{score_text}: {_inline(doc.get('content', ''), _DOC_CHARS)}"
            )
        lines.append("")
    return lines
