"""Every real capture's OTLP/JSON decodes to exactly the protobuf beside it, quirks and all."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tracesieve.collector.receivers._codec import (
    JSON,
    LOGS,
    METRICS,
    PROTOBUF,
    TRACES,
    Signal,
    decode_request,
)

# Real captures live outside the repository (see their README); override the folder if moved.
# shared/ sits beside the repository, in CI as here.
CAPTURES = Path(
    os.environ.get(
        "TRACESIEVE_CAPTURES", Path(__file__).resolve().parents[3].parent / "shared/reference/captures"
    )
)
_SIGNALS = {"traces": TRACES, "logs": LOGS, "metrics": METRICS}
_JSON_CAPTURES = sorted(CAPTURES.glob("*/*.otlp.json"))
_ID_KEYS = {"traceId", "spanId", "parentSpanId"}
_INT64_KEYS = {"intValue", "timeUnixNano", "startTimeUnixNano", "endTimeUnixNano", "observedTimeUnixNano"}


def _signal(path: Path) -> Signal:
    return _SIGNALS[path.name.split(".")[0].split("_", 1)[1]]


def _pb(path: Path) -> bytes:
    return path.with_name(path.name.replace(".otlp.json", ".pb")).read_bytes()


def _mutate(node: Any) -> Any:
    """Upper-case hex ids, int64 strings as numbers, and an unknown field in every object."""
    if isinstance(node, list):
        return [_mutate(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ID_KEYS and isinstance(value, str):
            out[key] = value.upper()
        elif key in _INT64_KEYS and isinstance(value, str):
            out[key] = int(value)
        else:
            out[key] = _mutate(value)
    out["someFutureField"] = {"nested": [1, "two", None]}
    return out


def test_there_are_captures_of_every_signal() -> None:
    assert {_signal(path).name for path in _JSON_CAPTURES} == {"traces", "logs", "metrics"}


@pytest.mark.parametrize("path", _JSON_CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_capture_json_decodes_to_the_protobuf_beside_it(path: Path) -> None:
    signal = _signal(path)
    expected, _ = decode_request(signal, _pb(path), PROTOBUF)
    message, raw = decode_request(signal, path.read_bytes(), JSON)
    assert message == expected
    assert raw == _pb(path)


@pytest.mark.parametrize("path", _JSON_CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_json_quirks_decode_to_the_same_protobuf(path: Path) -> None:
    signal = _signal(path)
    original = json.loads(path.read_text())
    mutated = _mutate(original)
    assert mutated != original
    message, _ = decode_request(signal, json.dumps(mutated).encode(), JSON)
    expected, _ = decode_request(signal, _pb(path), PROTOBUF)
    assert message == expected


def test_capture_ids_are_really_hex_in_the_json() -> None:
    path = CAPTURES / "otel_openai_v2__span_and_event" / "0002_logs.otlp.json"
    message, _ = decode_request(LOGS, path.read_bytes(), JSON)
    first = json.loads(path.read_text())["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record = message.resource_logs[0].scope_logs[0].log_records[0]  # type: ignore[attr-defined]
    assert record.trace_id.hex() == first["traceId"]
    assert len(record.span_id) == 8
