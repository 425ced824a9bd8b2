"""From real-time captures to a corpus on a realistic event-time timeline, in send order.

The app plays sessions one after the other as fast as the fake server answers. Here every
turn (a trace) is moved, all its spans and log records by the same offset, to where the
timeline puts it: sessions start at random points of a six-hour window, turns follow each other
after the scripted gaps, and span durations stay as measured. Then the spans and log records are
regrouped into export requests the way the SDK's batch processors would have sent them on that
timeline: per library, everything that ended since the last tick, every five seconds (so a turn's
root span sometimes comes one request after its children, and log records before or after the
spans). Feedback goes in between: soon after its
turn, *before* the turn's spans, or a day later, after everything else.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from scenarios import Session

__all__ = ["Item", "Raw", "Scheduled", "load_raw", "schedule", "write_corpus"]

SECOND = 1_000_000_000
HOUR = 3600 * SECOND
EVALUATION_EVENT = "gen_ai.evaluation.result"
BATCH_WINDOW_NS = 5 * SECOND  # BatchSpanProcessor's default schedule delay
BATCH_MAX_ITEMS = 512


@dataclass(slots=True)
class Item:
    """One span or log record with the resource and scope it was exported under."""

    resource: bytes
    scope: bytes
    record: Span | LogRecord


@dataclass(slots=True)
class Raw:
    """What one library's process captured: items per trace id (hex)."""

    library: str
    manifest: dict[str, Any]
    spans: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))
    logs: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))


def load_raw(folder: Path) -> Raw:
    manifest = json.loads((folder / "manifest.json").read_text())
    raw = Raw(manifest["library"], manifest)
    for path in sorted(folder.glob("*_traces.pb")):
        traces = ExportTraceServiceRequest.FromString(path.read_bytes())
        for rs in traces.resource_spans:
            resource = _key(rs.resource.SerializeToString(), rs.schema_url)
            for ss in rs.scope_spans:
                scope = _key(ss.scope.SerializeToString(), ss.schema_url)
                for span in ss.spans:
                    raw.spans[span.trace_id.hex()].append(Item(resource, scope, span))
    for path in sorted(folder.glob("*_logs.pb")):
        logs = ExportLogsServiceRequest.FromString(path.read_bytes())
        for rl in logs.resource_logs:
            resource = _key(rl.resource.SerializeToString(), rl.schema_url)
            for sl in rl.scope_logs:
                scope = _key(sl.scope.SerializeToString(), sl.schema_url)
                for record in sl.log_records:
                    raw.logs[record.trace_id.hex()].append(Item(resource, scope, record))
    return raw


def _key(message: bytes, schema_url: str) -> bytes:
    # Resource/scope identity for regrouping: the serialized message plus its schema URL.
    return len(message).to_bytes(4, "big") + message + schema_url.encode()


def _split_key(key: bytes) -> tuple[bytes, str]:
    size = int.from_bytes(key[:4], "big")
    return key[4 : 4 + size], key[4 + size :].decode()


@dataclass(slots=True)
class Scheduled:
    """One thing to send, at ``send_ns`` (a point of the timeline, for ordering only)."""

    send_ns: float
    kind: str  # "traces" | "logs" | "feedback"
    library: str = ""
    items: list[Item] = field(default_factory=list)
    body: dict[str, Any] | None = None
    late: bool = False
    mergeable: bool = True
    timing: str = ""


@dataclass(slots=True)
class TurnTime:
    trace_id: str
    start_ns: int
    end_ns: int
    llm_span_id: str


def schedule(
    sessions: list[Session], raws: dict[str, Raw], starts: dict[str, int], now_ns: int, rng: random.Random
) -> tuple[list[Scheduled], dict[str, list[TurnTime]], int]:
    """Place every turn on the timeline and list what to send, in send order.

    ``starts`` maps session ids to their first turn's start (ns). Returns the send list, the
    turns' new times per session, and the end of the corpus (the last span end).
    """
    chunks: list[Scheduled] = []
    times: dict[str, list[TurnTime]] = {}
    exporters = {(library, kind): Exporter(rng) for library in raws for kind in ("traces", "logs")}
    played = {s["session_id"]: s["turns"] for raw in raws.values() for s in raw.manifest["sessions"]}
    corpus_end = 0
    for session in sessions:
        raw = raws[session.library]
        turns_out: list[TurnTime] = []
        cursor = starts[session.session_id]
        for index, (turn, real) in enumerate(zip(session.turns, played[session.session_id], strict=True)):
            trace_id = real["trace_id"]
            spans = raw.spans.get(trace_id, [])
            root = next((i for i in spans if i.record.span_id.hex() == real["root_span_id"]), None)
            if root is None:
                raise RuntimeError(
                    f"{session.session_id} turn {index}: root span {real['root_span_id']} not captured"
                )
            if index:
                cursor += int(turn.gap_s * SECOND)
            assert isinstance(root.record, Span)
            delta = cursor - root.record.start_time_unix_nano
            duration = root.record.end_time_unix_nano - root.record.start_time_unix_nano
            end = cursor + duration
            shifted = [_shift_span(item, delta) for item in spans]
            turns_out.append(TurnTime(trace_id, cursor, end, real["llm_span_id"]))
            corpus_end = max(corpus_end, max(i.record.end_time_unix_nano for i in shifted))  # type: ignore[union-attr]
            chunks.extend(
                _by_tick(session.library, "traces", shifted, exporters[(session.library, "traces")])
            )
            details = [
                _shift_log(i, delta) for i in raw.logs.get(trace_id, []) if _event(i) != EVALUATION_EVENT
            ]
            chunks.extend(_by_tick(session.library, "logs", details, exporters[(session.library, "logs")]))
            if turn.feedback is not None:
                chunks.append(_feedback(session, turn.feedback, raw, turns_out[-1], end, now_ns, rng))
            cursor = end
        times[session.session_id] = turns_out
    return _batch(chunks), times, corpus_end


def _event(item: Item) -> str:
    record = item.record
    if isinstance(record, LogRecord):
        if record.event_name:
            return record.event_name
        for attribute in record.attributes:
            if attribute.key == "event.name":
                return attribute.value.string_value
    return ""


def _shift_span(item: Item, delta: int) -> Item:
    assert isinstance(item.record, Span)
    span = Span()
    span.CopyFrom(item.record)
    span.start_time_unix_nano += delta
    span.end_time_unix_nano += delta
    for event in span.events:
        event.time_unix_nano += delta
    return Item(item.resource, item.scope, span)


def _shift_log(item: Item, delta: int) -> Item:
    assert isinstance(item.record, LogRecord)
    record = LogRecord()
    record.CopyFrom(item.record)
    if record.time_unix_nano:
        record.time_unix_nano += delta
    if record.observed_time_unix_nano:
        record.observed_time_unix_nano += delta
    return Item(item.resource, item.scope, record)


class Exporter:
    """When a BatchSpanProcessor / BatchLogRecordProcessor of one process exports what ended
    when: at its next tick, every ``BATCH_WINDOW_NS`` from a random phase."""

    def __init__(self, rng: random.Random) -> None:
        self.phase = int(rng.uniform(0, BATCH_WINDOW_NS))

    def tick(self, end_ns: int) -> int:
        waited = -(-(end_ns - self.phase) // BATCH_WINDOW_NS)
        return self.phase + waited * BATCH_WINDOW_NS


def _by_tick(library: str, kind: str, items: list[Item], exporter: Exporter) -> list[Scheduled]:
    ticks: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        record = item.record
        end = record.end_time_unix_nano if isinstance(record, Span) else record.observed_time_unix_nano
        ticks[exporter.tick(end)].append(item)
    return [Scheduled(at, kind, library, found) for at, found in ticks.items()]


def _feedback(
    session: Session, fb: Any, raw: Raw, turn: TurnTime, end: int, now_ns: int, rng: random.Random
) -> Scheduled:
    if fb.timing == "late":
        at = min(end + 24 * HOUR + int(rng.uniform(0, 2) * HOUR), now_ns - 60 * SECOND)
    elif fb.timing == "before":
        at = end + int(rng.uniform(1, 4) * SECOND)
    else:
        at = end + int(rng.uniform(5, 120) * SECOND)
    if fb.channel == "event":
        events = [i for i in raw.logs.get(turn.trace_id, []) if _event(i) == EVALUATION_EVENT]
        if not events:
            raise RuntimeError(
                f"{session.session_id}: the evaluation event of {turn.trace_id} was not captured"
            )
        source = events[0].record
        assert isinstance(source, LogRecord)
        record = LogRecord()
        record.CopyFrom(source)
        record.time_unix_nano = record.observed_time_unix_nano = at
        item = Item(events[0].resource, events[0].scope, record)
        return Scheduled(
            at, "logs", session.library, [item], late=fb.timing == "late", mergeable=False, timing=fb.timing
        )
    body: dict[str, Any] = {"trace_id": turn.trace_id}
    if fb.with_span:
        body["span_id"] = turn.llm_span_id
    if fb.with_session:
        body["session_id"] = session.session_id
    for name in ("thumbs", "score", "label", "comment", "ticket_id"):
        value = getattr(fb, name)
        if value not in ("", None):
            body[name] = value
    return Scheduled(at, "feedback", session.library, body=body, late=fb.timing == "late", timing=fb.timing)


def _batch(chunks: list[Scheduled]) -> list[Scheduled]:
    """One request per exporter tick (split at ``BATCH_MAX_ITEMS``); ``before`` feedback just
    ahead of the first request that carries its trace; late items last."""
    merged: dict[tuple[str, str, float], Scheduled] = {}
    out: list[Scheduled] = []
    for chunk in chunks:
        if chunk.kind == "feedback" or not chunk.mergeable:
            out.append(chunk)
            continue
        key = (chunk.library, chunk.kind, chunk.send_ns)
        if key not in merged:
            merged[key] = Scheduled(chunk.send_ns, chunk.kind, chunk.library, [])
        merged[key].items.extend(chunk.items)
    for batch in merged.values():
        batch.items.sort(key=_end)
        for first in range(0, len(batch.items), BATCH_MAX_ITEMS):
            out.append(
                Scheduled(
                    batch.send_ns, batch.kind, batch.library, batch.items[first : first + BATCH_MAX_ITEMS]
                )
            )
    carried: dict[str, float] = {}
    for item in out:
        if item.kind == "traces":
            for it in item.items:
                trace = it.record.trace_id.hex()
                carried[trace] = min(carried.get(trace, item.send_ns), item.send_ns)
    for item in out:
        if item.timing == "before":
            trace = item.body["trace_id"] if item.body else item.items[0].record.trace_id.hex()
            item.send_ns = carried[trace] - 1
    # Requests of one instant in a stable order (libraries, then traces before logs).
    out.sort(key=lambda c: (c.late, c.send_ns, c.library, c.kind))
    return out


def _end(item: Item) -> int:
    record = item.record
    return record.end_time_unix_nano if isinstance(record, Span) else record.observed_time_unix_nano


def _request(item: Scheduled) -> bytes:
    grouped: dict[bytes, dict[bytes, list[Span | LogRecord]]] = defaultdict(lambda: defaultdict(list))
    for it in item.items:
        grouped[it.resource][it.scope].append(it.record)
    if item.kind == "traces":
        traces = ExportTraceServiceRequest()
        for resource_key, scopes in grouped.items():
            rs = traces.resource_spans.add()
            resource, rs.schema_url = _split_key(resource_key)
            rs.resource.ParseFromString(resource)
            for scope_key, records in scopes.items():
                ss = rs.scope_spans.add()
                scope, ss.schema_url = _split_key(scope_key)
                ss.scope.ParseFromString(scope)
                ss.spans.extend(records)  # type: ignore[arg-type]
        return traces.SerializeToString()
    logs = ExportLogsServiceRequest()
    for resource_key, scopes in grouped.items():
        rl = logs.resource_logs.add()
        resource, rl.schema_url = _split_key(resource_key)
        rl.resource.ParseFromString(resource)
        for scope_key, records in scopes.items():
            sl = rl.scope_logs.add()
            scope, sl.schema_url = _split_key(scope_key)
            sl.scope.ParseFromString(scope)
            sl.log_records.extend(records)  # type: ignore[arg-type]
    return logs.SerializeToString()


def write_corpus(out: Path, items: list[Scheduled]) -> tuple[int, int]:
    """Write the requests as ``NNNN_traces.pb`` / ``NNNN_logs.pb`` and the POST bodies as
    ``feedback.jsonl`` lines ``{"seq", "body"}``, numbered in one send order. Returns the number
    of spans and the sequence number of the first late item (0: none)."""
    width = max(4, len(str(len(items))))
    spans = 0
    late_from = 0
    with (out / "feedback.jsonl").open("w") as feedback:
        for seq, item in enumerate(items, 1):
            if item.late and not late_from:
                late_from = seq
            if item.kind == "feedback":
                feedback.write(json.dumps({"seq": seq, "timing": item.timing, "body": item.body}) + "\n")
                continue
            if item.kind == "traces":
                spans += len(item.items)
            (out / f"{seq:0{width}d}_{item.kind}.pb").write_bytes(_request(item))
    return spans, late_from
