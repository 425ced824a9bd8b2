"""``tracesieve flagged``: the flagged turns, newest first, with the signals that flagged them.

Reads ``flagged_spans`` (latest version of each row) through :func:`run_query`, so it works
while a collector runs on the data folder and when none does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

__all__ = ["evidence_summary", "flagged_sql", "parse_since", "shape_rows"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

COLUMNS = (
    "Timestamp", "SessionId", "TraceId", "SpanId", "ServiceName", "UserId", "TurnIndex", "FlagScore",
    "Signals", "Categories", "Evidence", "Model", "UserMessage", "OutputText", "SessionContext",
)  # fmt: skip


def parse_since(value: str, now_s: float | None = None) -> int:
    """``24h``, ``30m``, ``7d``, ``90s``, ``2w`` ago, or an ISO date/time; returns Unix ns."""
    now_s = time.time() if now_s is None else now_s
    m = _DURATION.match(value)
    if m:
        return int((now_s - float(m.group(1)) * _UNIT_S[m.group(2)]) * 1e9)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {value!r}: use a duration like 24h, 30m, 7d or an ISO date") from None
    return int(parsed.timestamp() * 1e9)


def flagged_sql(
    database: str, *, signals: Sequence[str], session: str | None, min_score: float, limit: int, since_ns: int
) -> tuple[str, dict[str, Any]]:
    """The query and its parameters."""
    where = ["Timestamp >= fromUnixTimestamp64Nano({since:Int64})", "FlagScore >= {min_score:Float64}"]
    params: dict[str, Any] = {"since": since_ns, "min_score": min_score, "limit": limit}
    if signals:
        where.append("(" + " OR ".join(f"has(Signals, {{sig{i}:String}})" for i in range(len(signals))) + ")")
        params.update({f"sig{i}": name for i, name in enumerate(signals)})
    if session:
        where.append("SessionId = {session:String}")
        params["session"] = session
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {database}.flagged_spans FINAL WHERE {' AND '.join(where)} "
        "ORDER BY Timestamp DESC LIMIT {limit:UInt32}"
    )
    return sql, params


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def shape_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows as dicts, JSON columns decoded, the time as ISO 8601."""
    out = []
    for row in rows:
        record = dict(zip(columns, row, strict=False))
        for key in ("Evidence", "SessionContext"):
            record[key] = _json(record.get(key))
        stamp = record.get("Timestamp")
        if isinstance(stamp, datetime):
            record["Timestamp"] = stamp.isoformat()
        out.append(record)
    return out


def evidence_summary(evidence: Any, width: int = 160) -> str:
    """One line per signal: ``signal (score): key=value, …`` from the scalar evidence."""
    if not isinstance(evidence, dict):
        return ""
    lines = []
    for signal, detail in evidence.items():
        if not isinstance(detail, dict):
            lines.append(f"{signal}: {detail}")
            continue
        score = detail.get("score")
        parts = []
        for key, value in detail.items():
            # Ids and raw times are for machines (--format json); the table shows the why.
            if key == "score" or key.endswith(("_id", "_ns")) or value in ("", None, [], {}):
                continue
            if isinstance(value, list):
                value = ", ".join(_short(v) for v in value[:4]) + ("…" if len(value) > 4 else "")
            elif isinstance(value, dict):
                value = _short(value)
            parts.append(f"{key}={value}")
            if len(parts) == 5:
                break
        head = f"{signal} ({score:.2f})" if isinstance(score, (int, float)) else signal
        line = f"{head}: {'; '.join(parts)}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, dict):  # an entity or a document: its text says most
        for key in ("text", "id", "name", "value"):
            if key in value:
                return str(value[key])
    return str(value)
