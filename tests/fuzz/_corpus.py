"""Seeds and structure-aware mutations for the fuzz targets.

Seeds are the reference captures (``shared/reference/captures``, protobuf and OTLP/JSON) plus
valid requests bent the ways hostile clients bend them: nested AnyValues, many attributes, ids
of other lengths, absurd timestamps, SQL-looking and control-character strings.

:func:`mutate_request` applies one such bend to a decoded protobuf request and
:func:`mutate_json` to a JSON tree, so that the fuzzer keeps producing inputs that get past the
decoder into normalisation instead of only byte soup that the parser refuses.
"""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = [
    "CAPTURES",
    "ODD_STRINGS",
    "ODD_TIMES",
    "capture_bodies",
    "mutate_json",
    "mutate_request",
    "nested_any_value",
    "odd_requests",
]

CAPTURES: Final = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "captures"

ODD_STRINGS: Final = (
    "'); DROP TABLE spans; --",
    "\\",
    "\\'\"`",
    "{param:String}",
    "{{x}}",
    "a\x00b",
    "\x00",
    "\u202e\ufeff\U0001f600",
    "\ud7ff\ue000",
    "%s%n%x",
    "x" * 70_000,
    "",
)
# Year 2500: past DateTime64(9)'s end (2262); year 3000 does not fit a fixed64 of ns at all.
_YEAR_2500_NS: Final = 16_725_225_600 * 1_000_000_000
ODD_TIMES: Final = (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, _YEAR_2500_NS, 1_700_000_000_000_000_000)
_ODD_ID_LENGTHS: Final = (0, 1, 7, 9, 15, 17, 32, 255)
_GENAI_KEYS: Final = (
    "gen_ai.operation.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.response.finish_reasons",
    "gen_ai.conversation.id",
    "session.id",
    "user.id",
    "input.value",
    "output.value",
    "llm.input_messages.0.message.content",
    "openinference.span.kind",
    "gen_ai.evaluation.name",
    "gen_ai.evaluation.score.value",
    "langfuse.observation.output",
    "traceloop.entity.input",
)


def capture_bodies() -> Iterator[tuple[str, str, bytes]]:
    """``(signal, media, body)`` of every reference capture: ``media`` is ``"pb"`` or ``"json"``."""
    for path in sorted(CAPTURES.glob("*/*")):
        name = path.name
        signal = next((s for s in ("traces", "logs", "metrics") if f"_{s}." in name), None)
        if signal is None:
            continue
        if name.endswith(".pb"):
            yield signal, "pb", path.read_bytes()
        elif name.endswith(".pb.gz"):
            yield signal, "pb", gzip.decompress(path.read_bytes())
        elif name.endswith(".otlp.json"):
            yield signal, "json", path.read_bytes()


def nested_any_value(depth: int, kind: str = "kvlist", into: AnyValue | None = None) -> AnyValue:
    """An AnyValue nesting ``depth`` kvlists (or arrays) around a string (filled in ``into``)."""
    root = AnyValue() if into is None else into
    inner = root
    # Built from the outside in, in place: protobuf copies a message handed to a constructor or
    # to CopyFrom through its encoding, which refuses nesting past its depth limit.
    for _ in range(depth):
        inner = (
            inner.kvlist_value.values.add(key="k").value
            if kind == "kvlist"
            else inner.array_value.values.add()
        )
    inner.string_value = "bottom"
    return root


def _set_odd(value: AnyValue, rng: random.Random) -> None:
    """Make ``value`` (in place) an odd AnyValue: deep, extreme, binary, empty or SQL-looking."""
    value.Clear()
    choice = rng.randrange(8)
    if choice == 0:
        nested_any_value(rng.randrange(1, 120), rng.choice(("kvlist", "array")), into=value)
    elif choice == 1:
        value.int_value = rng.choice((-(1 << 63), (1 << 63) - 1, -1, 0, 1 << 40))
    elif choice == 2:
        value.double_value = rng.choice((float("nan"), float("inf"), -0.0, 1e308))
    elif choice == 3:
        value.bytes_value = rng.randbytes(rng.randrange(40))
    elif choice == 4:
        pass  # unset
    elif choice == 5:
        value.string_value = orjson.dumps([{"role": rng.choice(ODD_STRINGS[:6]), "content": 5}]).decode()
    else:
        value.string_value = rng.choice(ODD_STRINGS)


def _add_attributes(target: Any, rng: random.Random, count: int) -> None:
    keys = [*_GENAI_KEYS, *ODD_STRINGS[:6]]
    for i in range(count):
        _set_odd(target.add(key=rng.choice(keys) if i % 3 else f"k{i}").value, rng)


def _id(rng: random.Random, good: int) -> bytes:
    length = rng.choice((*_ODD_ID_LENGTHS, good, good, good))
    return bytes([0] * length) if rng.random() < 0.1 else rng.randbytes(length)


def _spans_and_records(request: Message) -> list[Any]:
    items: list[Any] = []
    if isinstance(request, ExportTraceServiceRequest):
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                items.extend(ss.spans)
    elif isinstance(request, ExportLogsServiceRequest):
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                items.extend(sl.log_records)
    return items


def mutate_request(request: Message, rng: random.Random) -> None:
    """Bend one span (or log record) of ``request`` in place; metrics requests are left alone."""
    items = _spans_and_records(request)
    if not items:
        return
    item = rng.choice(items)
    is_span = isinstance(request, ExportTraceServiceRequest)
    choice = rng.randrange(7)
    if choice == 0:
        item.trace_id = _id(rng, 16)
        item.span_id = _id(rng, 8)
        if is_span and rng.random() < 0.5:
            item.parent_span_id = _id(rng, 8)
    elif choice == 1:
        if is_span:
            item.start_time_unix_nano = rng.choice(ODD_TIMES)
            item.end_time_unix_nano = rng.choice(ODD_TIMES)
            for event in item.events:
                event.time_unix_nano = rng.choice(ODD_TIMES)
        else:
            item.time_unix_nano = rng.choice(ODD_TIMES)
            item.observed_time_unix_nano = rng.choice(ODD_TIMES)
    elif choice == 2:
        _add_attributes(item.attributes, rng, rng.choice((1, 5, 50, 2000)))
    elif choice == 3:
        for kv in item.attributes:
            if rng.random() < 0.3:
                _set_odd(kv.value, rng)
    elif choice == 4:
        if is_span:
            item.name = rng.choice(ODD_STRINGS)
            item.status.message = rng.choice(ODD_STRINGS)
            item.trace_state = rng.choice(ODD_STRINGS)
            item.kind = rng.choice((0, 3, 6, 99, -1))
            item.status.code = rng.choice((0, 2, 3, -5))
        else:
            item.event_name = rng.choice(("gen_ai.evaluation.result", "gen_ai.choice", *ODD_STRINGS))
            _set_odd(item.body, rng)
    elif choice == 5 and is_span:
        event = item.events.add(name=rng.choice(("gen_ai.choice", "gen_ai.evaluation.result", *ODD_STRINGS)))
        event.time_unix_nano = rng.choice(ODD_TIMES)
        _add_attributes(event.attributes, rng, rng.randrange(1, 8))
        link = item.links.add(trace_id=_id(rng, 16), span_id=_id(rng, 8), trace_state=rng.choice(ODD_STRINGS))
        _add_attributes(link.attributes, rng, 2)
    else:
        _set_odd(item.attributes.add(key=rng.choice(_GENAI_KEYS)).value, rng)


_JSON_ODD: Final[tuple[Any, ...]] = (
    None,
    True,
    -1,
    0,
    1 << 64,
    -(1 << 63),
    1.5e308,
    "",
    "zz",
    "abc",
    "0" * 31,
    "18446744073709551616",
    "-1",
    "NaN",
    "'); DROP TABLE spans; --",
    "\u0000",
    [],
    {},
    [[[[[[]]]]]],
    {"stringValue": "x"},
    {"kvlistValue": {"values": [{"key": "k", "value": {"arrayValue": {"values": [{}]}}}]}},
)


def mutate_json(tree: Any, rng: random.Random) -> Any:
    """``tree`` with one node replaced by an odd JSON value (or a deep nest of it)."""
    nodes: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                nodes.append((node, key))
                walk(child)
        elif isinstance(node, list):
            for i, child in enumerate(node):
                nodes.append((node, i))
                walk(child)

    walk(tree)
    if not nodes:
        return rng.choice(_JSON_ODD)
    parent, key = rng.choice(nodes)
    value = rng.choice(_JSON_ODD)
    if rng.random() < 0.1:
        for _ in range(rng.choice((10, 100, 600))):
            value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    parent[key] = value
    return tree


def odd_requests(seed: int = 1) -> Iterator[tuple[str, bytes]]:
    """``(signal, protobuf body)``: each capture bent by :func:`mutate_request` a few times."""
    rng = random.Random(seed)
    for signal, media, body in capture_bodies():
        if media != "pb" or signal == "metrics":
            continue
        for _ in range(6):
            request: Message = (
                ExportTraceServiceRequest() if signal == "traces" else ExportLogsServiceRequest()
            )
            try:
                request.ParseFromString(body)
            except DecodeError:
                continue
            for _ in range(rng.randrange(1, 4)):
                mutate_request(request, rng)
            yield signal, request.SerializeToString()


def compress(body: bytes, encoding: str) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return gzip.compress(body, 1)
    if encoding == "deflate":
        return zlib.compress(body, 1)
    return body
