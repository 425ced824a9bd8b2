"""What every export format provides, and the helpers they share.

A format renders each case as one *entry* (a JSON object in the framework's own dataset format)
and writes the entries to one data file. Every entry carries ``case_id``, ``seq`` and
``chain_hash`` in the format's metadata field (``meta_path``), and the export's manifest keeps
the rest of what ``verify --file`` needs (see ``manifest``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..record import EvalCase

__all__ = [
    "Entry",
    "Format",
    "chat_input",
    "checks",
    "document_texts",
    "history_messages",
    "history_text",
    "metadata",
    "read_jsonl",
    "write_atomic",
    "write_jsonl",
]

Entry = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    default_out: str
    """The file (or, for openai-evals, the folder) written when ``--out`` is not given."""
    entry: Callable[[EvalCase], Entry]
    write: Callable[[Sequence[Entry], Path], Path]
    """Writes the entries under ``out``; returns the data file (the manifest goes beside it)."""
    read: Callable[[Path], list[Entry]]
    meta_path: tuple[str, ...]
    """Where an entry keeps ``case_id``, ``seq`` and ``chain_hash``."""

    def ref(self, entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
        node: Any = entry
        for key in self.meta_path:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node if isinstance(node, Mapping) and isinstance(node.get("case_id"), str) else None


def metadata(case: EvalCase) -> dict[str, Any]:
    """The flat metadata every format carries: chain position, tags and provenance ids."""
    r = case.record
    meta: dict[str, Any] = {
        "case_id": case.case_id,
        "seq": case.seq,
        "chain_hash": case.chain_hash,
        "source": r.source,
        "categories": r.categories,
        "severity": r.severity,
        "incident_id": r.incident_id,
        "tags": r.tags,
        "signals": r.signals,
        "criteria": r.criteria,
        "observed_output": r.output,
        "session_id": r.session_id,
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "review_case_id": r.review_case_id,
    }
    return {k: v for k, v in meta.items() if v not in ("", [])}


def history_messages(case: EvalCase) -> list[dict[str, str]]:
    """The conversation before the input as chat messages."""
    messages = []
    for turn in case.record.context:
        if not isinstance(turn, Mapping):
            continue
        for role in ("user", "assistant"):
            if turn.get(role):
                messages.append({"role": role, "content": str(turn[role])})
    return messages


def chat_input(case: EvalCase) -> list[dict[str, str]]:
    return [*history_messages(case), {"role": "user", "content": case.record.input}]


def history_text(case: EvalCase) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in history_messages(case))


def document_texts(case: EvalCase) -> list[str]:
    texts = []
    for doc in case.record.retrieved_documents:
        text = doc.get("content") if isinstance(doc, Mapping) else doc
        if text:
            texts.append(str(text))
    return texts


def checks(case: EvalCase) -> str:
    """The criterion a judge applies: the reviewer's, else agreement with the expected answer,
    else not repeating the failure that was labelled."""
    r = case.record
    if r.criteria:
        return r.criteria
    if r.expected:
        return f"The answer agrees with this reference answer: {r.expected}"
    cats = ", ".join(r.categories) or "a failure"
    return (
        f"The answer does not repeat the failure a reviewer flagged ({cats}). "
        f"The failing answer was: {r.output}"
    )


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(entries: Sequence[Entry], path: Path) -> Path:
    write_atomic(path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))
    return path


def read_jsonl(path: Path) -> list[Entry]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
    return entries
