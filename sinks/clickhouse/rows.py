"""Canonical spans → the body of one ``INSERT INTO spans FORMAT JSONCompactEachRow``.

Each span becomes one JSON array of its column values in :data:`COLUMN_NAMES` order, and the
whole batch is encoded by a single ``orjson.dumps`` call: ClickHouse parses the text in its own
threads with the GIL released, whereas clickhouse-connect's Native serialisation runs in the
calling thread and holds the GIL (README.md, "Cost", has the measurements). How values are
written, so that what is stored is exactly what a Native INSERT stored:

* DateTime64 columns as the string ``"SSSSSSSSSS.fffffffff"`` (Unix seconds padded to ten
  digits, then the nine-digit fraction; ``IngestTime`` three digits), which ClickHouse reads
  as a Unix time to the nanosecond, whether ``date_time_input_format`` is ``basic`` (sent
  with every INSERT) or ``best_effort`` (chDB's default). The padding matters: unpadded short
  seconds ("5.000000000") are misread as a date or refused, and a JSON integer is read as
  seconds, not ticks.
* JSON columns (``InputMessages``, ``OutputMessages``, ``RetrievedDocuments``, ``ToolCalls``)
  as the list itself, embedded in the row: ``input_format_json_read_arrays_as_strings`` makes
  ClickHouse store the array's text as it is, i.e. exactly ``orjson.dumps(value)``, with no
  second encoding and no escaping of the JSON text inside a JSON string. (So these fields
  must hold lists, as the contract says: a ``str`` there would be stored as it is.)
* Maps as JSON objects, ``Events``/``Links`` as their parallel arrays, integers as integers.

ClickHouse wraps integers that overflow their column when it parses text, where the Native
encoder refused them; so the integer columns are range-checked here (bit operations, on the
fast path) and a bad value raises ``ValueError`` naming the span and the column, which
:func:`~tracesieve.sinks.clickhouse.errors.classify` reports as permanent. Values ClickHouse
cannot parse (a string where an array belongs, say) fail the INSERT there, also permanently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
from tracesieve.collector.contracts import CanonicalSpan

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "INSERT_FORMAT",
    "INSERT_SETTINGS",
    "SPAN_INSERT_SETTINGS",
    "build_rows",
]

_MAP = "Map(LowCardinality(String), String)"
_LC = "LowCardinality(String)"

# (name, type) of every column the sink writes, in INSERT order. Must match migrations/.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Timestamp", "DateTime64(9)"),
    ("TraceId", "String"),
    ("SpanId", "String"),
    ("ParentSpanId", "String"),
    ("TraceState", "String"),
    ("SpanName", _LC),
    ("SpanKind", _LC),
    ("ServiceName", _LC),
    ("ResourceAttributes", _MAP),
    ("ScopeName", "String"),
    ("ScopeVersion", "String"),
    ("SpanAttributes", _MAP),
    ("Duration", "UInt64"),
    ("StatusCode", _LC),
    ("StatusMessage", "String"),
    ("Events.Timestamp", "Array(DateTime64(9))"),
    ("Events.Name", f"Array({_LC})"),
    ("Events.Attributes", f"Array({_MAP})"),
    ("Links.TraceId", "Array(String)"),
    ("Links.SpanId", "Array(String)"),
    ("Links.TraceState", "Array(String)"),
    ("Links.Attributes", f"Array({_MAP})"),
    ("SessionId", "String"),
    ("UserId", "String"),
    ("TurnIndex", "Int32"),
    ("Kind", _LC),
    ("Operation", _LC),
    ("Provider", _LC),
    ("RequestModel", _LC),
    ("ResponseModel", _LC),
    ("ResponseId", "String"),
    ("SystemInstructions", "String"),
    ("InputMessages", "String"),
    ("OutputMessages", "String"),
    ("OutputText", "String"),
    ("Refusal", "String"),
    ("FinishReasons", f"Array({_LC})"),
    ("InputTokens", "UInt32"),
    ("OutputTokens", "UInt32"),
    ("ErrorType", _LC),
    ("RetrievalQuery", "String"),
    ("RetrievedDocuments", "String"),
    ("ToolCalls", "String"),
    ("Convention", _LC),
    ("IngestTime", "DateTime64(3)"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)

INSERT_FORMAT: Final = "JSONCompactEachRow"
# Sent with every INSERT, so that a server's defaults (or chDB's) cannot change what is stored.
INSERT_SETTINGS: Final[dict[str, str | int]] = {
    "date_time_input_format": "basic",  # the server default; chDB's is best_effort
    "input_format_json_read_arrays_as_strings": 1,  # JSON columns: the array's text, verbatim
    "input_format_json_read_objects_as_strings": 1,  # ... or the object's, should one hold a dict
    # Refuse, as the Native encoder did, a number or a null where a string belongs.
    "input_format_json_read_numbers_as_strings": 0,
    "input_format_null_as_default": 0,
    # One parsing thread: batches are a few MB, and on a small machine the parallel parser's
    # threads only compete with the collector's own (measured on 2 cores: 128-138 -> 115-128 µs
    # of process CPU per span end to end).
    "input_format_parallel_parsing": 0,
}
# The spans INSERT also skips ReplacingMergeTree's collapse of the inserted block
# (optimize_on_insert): the sink sends each span key once per INSERT (``_insert_chunks``), so
# the collapse only copied every row once more. Measured on chDB, 1,000 ~3 KB spans per INSERT:
# 41.7 -> 33.7 µs of CPU per span. Rows written twice across INSERTs still collapse on merge.
SPAN_INSERT_SETTINGS: Final[dict[str, str | int]] = {**INSERT_SETTINGS, "optimize_on_insert": 0}

_NS = 1_000_000_000
_INT64_END = 1 << 63
_UINT64_END = 1 << 64
_UINT32_END = 1 << 32
_INT32_MIN = -(1 << 31)
_EMPTY: Final[list[Any]] = []  # shared by every row without events or links; only ever read


def _timestamp(ns: int, column: str = "Timestamp") -> str:
    """``ns`` as DateTime64(9) text, ``"SSSSSSSSSS.fffffffff"``; checks the type and range."""
    if not isinstance(ns, int) or not 0 <= ns < _INT64_END:
        raise ValueError(f"{column}: {ns!r} is not a Unix time in ns within [0, 2**63)")
    seconds, fraction = divmod(ns, _NS)
    return f"{seconds:010d}.{fraction:09d}"


def _integer(column: str, value: Any, low: int, end: int) -> Any:
    if not isinstance(value, int) or not low <= value < end:
        raise ValueError(f"{column}: {value!r} is not an integer within [{low}, {end})")
    return value


def _full_row(s: CanonicalSpan, now: str) -> list[Any]:
    """The row of ``s`` with every value checked: spans with events or links, or suspect integers.

    Raises ValueError naming the column when a value is out of its column's range.
    """
    start = s.start_ns
    timestamp = _timestamp(start)
    end = s.end_ns
    if not isinstance(end, int):
        raise ValueError(f"Duration: the end time {end!r} is not an integer")
    duration = _integer("Duration", end - start if end > start else 0, 0, _UINT64_END)
    ev = s.events
    ln = s.links
    return [
        timestamp,
        s.trace_id, s.span_id, s.parent_span_id, s.trace_state, s.name, s.otel_kind,
        s.service_name, s.resource_attributes, s.scope_name, s.scope_version, s.attributes,
        duration,
        s.status_code, s.status_message,
        [_timestamp(e[0], "Events.Timestamp") for e in ev] if ev else _EMPTY,
        [e[1] for e in ev] if ev else _EMPTY,
        [e[2] for e in ev] if ev else _EMPTY,
        [k[0] for k in ln] if ln else _EMPTY,
        [k[1] for k in ln] if ln else _EMPTY,
        [k[2] for k in ln] if ln else _EMPTY,
        [k[3] for k in ln] if ln else _EMPTY,
        s.session_id, s.user_id,
        _integer("TurnIndex", s.turn_index, _INT32_MIN, -_INT32_MIN),
        s.kind, s.operation, s.provider, s.request_model, s.response_model, s.response_id,
        s.system_instructions, s.input_messages, s.output_messages, s.output_text, s.refusal,
        s.finish_reasons,
        _integer("InputTokens", s.input_tokens, 0, _UINT32_END),
        _integer("OutputTokens", s.output_tokens, 0, _UINT32_END),
        s.error_type, s.retrieval_query, s.retrieved_documents, s.tool_calls, s.convention,
        now,
    ]  # fmt: skip


def _find_problem(spans: Sequence[CanonicalSpan], now: str) -> str | None:
    """Why the fast path failed, naming the span and the column; None if no value explains it."""
    dumps = orjson.dumps
    for s in spans:
        where = f"span {s.trace_id!r}:{s.span_id!r}"
        try:
            row = _full_row(s, now)
        except (TypeError, ValueError, OverflowError) as exc:
            return f"{where}: {exc}"
        for column, value in zip(COLUMN_NAMES, row, strict=True):
            try:
                dumps(value)
            except TypeError as exc:
                return f"{where}: {column}: {exc}"
    return None


def build_rows(spans: Sequence[CanonicalSpan], ingest_time_ms: int) -> memoryview:
    """The ``JSONCompactEachRow`` body (rows separated by commas) for ``spans``.

    One pass, one ``orjson.dumps`` for the whole batch; a memoryview without the outer
    brackets, so no copy is made. ``ingest_time_ms`` (Unix ms) fills ``IngestTime``. Raises
    ValueError (naming the span and column) for a value the columns cannot hold.
    """
    seconds, ms = divmod(ingest_time_ms, 1000)
    now = f"{seconds:010d}.{ms:03d}"
    rows: list[list[Any]] = []
    append = rows.append
    empty = _EMPTY
    full_row = _full_row
    timestamp = _timestamp
    try:
        for s in spans:
            start = s.start_ns
            end = s.end_ns
            turn = s.turn_index
            tokens_in = s.input_tokens
            tokens_out = s.output_tokens
            # Non-zero unless 0 <= start < 2**63, both token counts are UInt32 and the turn
            # index an Int32 (wrong types raise TypeError here, explained below).
            suspect = (start >> 63) | ((tokens_in | tokens_out) >> 32) | ((turn + 0x80000000) >> 32)
            if suspect or s.events or s.links:
                append(full_row(s, now))
                continue
            t = str(start)  # 19 digits from 2001-09-09 to 2286: the seconds are 10 of them
            append([
                f"{t[:10]}.{t[10:]}" if len(t) == 19 else timestamp(start),
                s.trace_id, s.span_id, s.parent_span_id, s.trace_state, s.name, s.otel_kind,
                s.service_name, s.resource_attributes, s.scope_name, s.scope_version, s.attributes,
                end - start if end > start else 0,
                s.status_code, s.status_message,
                empty, empty, empty, empty, empty, empty, empty,
                s.session_id, s.user_id, turn, s.kind, s.operation, s.provider, s.request_model,
                s.response_model, s.response_id, s.system_instructions, s.input_messages,
                s.output_messages, s.output_text, s.refusal, s.finish_reasons, tokens_in,
                tokens_out, s.error_type, s.retrieval_query, s.retrieved_documents, s.tool_calls,
                s.convention, now,
            ])  # fmt: skip
        body = orjson.dumps(rows)
    except (TypeError, ValueError, OverflowError) as exc:  # orjson.JSONEncodeError is a TypeError
        problem = _find_problem(spans, now)
        if problem is None:
            raise
        raise ValueError(problem) from exc
    # "[row,row,...]" → "row,row,...": JSONCompactEachRow takes rows separated by commas.
    return memoryview(body)[1:-1]
