"""The judge's verdict file, and storing it in ``judge_verdicts``.

The file is JSON Lines: one object per line (blank lines and lines starting with ``#`` are
skipped), for example::

    {"case_id": "3f9c0a1b2c3d4e5f60718293", "verdict": "bad", "category": "hallucination",
     "rationale": "invents a refund delay", "judge": "gpt-judge-v2"}
    {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "pass": true,
     "output": "Refunds take 5 business days."}
    {"case_id": "…", "score": 0.31}

- **The case**: ``case_id`` (the review case id), or ``trace_id`` + ``span_id`` of the answer
  span (the id is then :func:`review_case_id` of them).
- **The verdict**, the first of these present:
  ``verdict`` (or ``label``/``result``) as text: ``bad``/``fail``/``failed``/``incorrect``/``no``
  → bad, ``fine``/``good``/``pass``/``passed``/``correct``/``ok``/``yes`` → fine (any case);
  ``verdict`` as a boolean, or ``pass``/``passed``/``success``: true → fine, false → bad;
  ``fail``/``failed``: true → bad, false → fine;
  ``score`` (a number): ≥ ``--threshold`` → fine, below → bad (a score needs ``--threshold``).
- **Optional**: ``category`` (the failure category the judge checked), ``output`` (the answer
  it judged, for the bias analysis), ``rationale``, ``judge`` (its name), ``judged_at`` (ISO
  date/time or Unix milliseconds).

A case judged twice in one file keeps its last line. A line that cannot be read stops the import
with a PermanentError naming the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.ids import review_case_id

__all__ = ["JudgeVerdict", "judge_name", "parse_verdicts", "read_verdict_file", "verdict_rows"]

_BAD = {"bad", "fail", "failed", "failure", "incorrect", "wrong", "no", "0", "false"}
_FINE = {"fine", "good", "pass", "passed", "correct", "ok", "yes", "1", "true"}


@dataclass(frozen=True)
class JudgeVerdict:
    case_id: str
    trace_id: str
    span_id: str
    verdict: str  # "bad" | "fine"
    score: float | None
    category: str
    rationale: str
    output: str
    judge: str | None
    judged_at_ms: int | None


def _text_verdict(value: str, where: str) -> str:
    word = value.strip().lower()
    if word in _BAD:
        return "bad"
    if word in _FINE:
        return "fine"
    raise PermanentError(f"{where}: verdict {value!r} is neither bad/fail nor fine/pass")


def _verdict(obj: dict[str, Any], threshold: float | None, where: str) -> tuple[str, float | None]:
    score = obj.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise PermanentError(f"{where}: score must be a number (got {score!r})")
    number = None if score is None else float(score)
    for key in ("verdict", "label", "result"):
        value = obj.get(key)
        if isinstance(value, bool):
            return ("fine" if value else "bad"), number
        if isinstance(value, str):
            return _text_verdict(value, where), number
    for key, true_means in (
        ("pass", "fine"),
        ("passed", "fine"),
        ("success", "fine"),
        ("fail", "bad"),
        ("failed", "bad"),
    ):
        value = obj.get(key)
        if isinstance(value, bool):
            other = "bad" if true_means == "fine" else "fine"
            return (true_means if value else other), number
    if number is not None:
        if threshold is None:
            raise PermanentError(f"{where}: a verdict given as a score needs --threshold")
        return ("fine" if number >= threshold else "bad"), number
    raise PermanentError(f"{where}: no verdict (verdict, pass/fail, or score)")


def _millis(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    raise PermanentError(f"{where}: judged_at {value!r} is neither an ISO date nor Unix milliseconds")


def _text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PermanentError(f"{where}: {key} must be a string")
    return value


def parse_verdicts(
    lines: Iterable[str], *, threshold: float | None = None, source: str = "input"
) -> list[JudgeVerdict]:
    """The verdicts in ``lines`` (see the module docstring), the last one per case kept."""
    by_case: dict[str, JudgeVerdict] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{source}:{number}"
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise PermanentError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise PermanentError(f"{where}: expected a JSON object")
        trace_id = _text(obj, "trace_id", where).lower()
        span_id = _text(obj, "span_id", where).lower()
        case_id = _text(obj, "case_id", where)
        if not case_id:
            if not (trace_id and span_id):
                raise PermanentError(f"{where}: name the case with case_id, or trace_id and span_id")
            case_id = review_case_id(trace_id, span_id)
        verdict, score = _verdict(obj, threshold, where)
        judge = obj.get("judge")
        by_case.pop(case_id, None)  # keep file order of the last occurrence
        by_case[case_id] = JudgeVerdict(
            case_id=case_id,
            trace_id=trace_id,
            span_id=span_id,
            verdict=verdict,
            score=score,
            category=_text(obj, "category", where).strip(),
            rationale=_text(obj, "rationale", where),
            output=_text(obj, "output", where),
            judge=str(judge) if judge not in (None, "") else None,
            judged_at_ms=_millis(obj.get("judged_at"), where),
        )
    return list(by_case.values())


def read_verdict_file(path: Path, *, threshold: float | None = None) -> list[JudgeVerdict]:
    """:func:`parse_verdicts` of a file; PermanentError when it cannot be read or is empty."""
    try:
        with path.open(encoding="utf-8") as handle:
            verdicts = parse_verdicts(handle, threshold=threshold, source=str(path))
    except OSError as exc:
        raise PermanentError(f"cannot read the verdict file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PermanentError(f"{path}: not UTF-8 text") from None
    if not verdicts:
        raise PermanentError(f"{path}: no verdict in the file")
    return verdicts


def judge_name(verdicts: Sequence[JudgeVerdict], explicit: str | None, path: Path) -> str:
    """``--judge-name``; else the file's ``judge`` field (one name only); else the file's stem."""
    if explicit:
        return explicit
    names = sorted({v.judge for v in verdicts if v.judge})
    if len(names) > 1:
        raise PermanentError(
            f"{path}: verdicts of several judges ({', '.join(names)}): pick one with --judge-name"
        )
    return names[0] if names else path.stem


def verdict_rows(verdicts: Sequence[JudgeVerdict], judge: str, imported_at_ms: int) -> list[dict[str, Any]]:
    """``judge_verdicts`` rows for ``store.insert``."""
    return [
        {
            "Judge": judge,
            "CaseId": v.case_id,
            "TraceId": v.trace_id,
            "SpanId": v.span_id,
            "Verdict": v.verdict,
            "Score": v.score,
            "Category": v.category,
            "Rationale": v.rationale,
            "Output": v.output,
            "JudgedAt": v.judged_at_ms if v.judged_at_ms is not None else imported_at_ms,
            "ImportedAt": imported_at_ms,
        }
        for v in verdicts
    ]
