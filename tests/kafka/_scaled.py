"""Synthetic chat sessions as OTLP trace requests, for the scaled-mode tests.

Session ``n`` of a run has two turns; what the second turn does depends on ``n % 5``:

0. a rephrase: the first answer is weak ("I'm not sure."), the user asks the same thing in other
   words (``rephrase`` on the first turn);
1. a refusal in the first answer (``refusal``);
2. a failed LLM call in the first turn (``error``);
3-4. clean: two unrelated questions, both answered.

Every call lasts 1 s (no ``latency_outlier``: its percentiles are per partition in scaled mode)
and ends long before now, so no session goes idle during a test. ``turns(first=True)`` and
``turns(first=False)`` give the two halves, so that a crash can fall between a question and its
rephrase.
"""

from __future__ import annotations

import hashlib
import json
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

_TOPICS = [
    ("reset my password", "What are the steps to change my password?"),
    ("cancel my subscription", "How can I stop my subscription from renewing?"),
    ("get a refund for my order", "What do I do to have my order refunded?"),
    ("change my delivery address", "How do I update where my parcel is delivered?"),
]


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _id(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def session_id(run: str, n: int) -> str:
    return f"{run}-s{n}"


def _turn(n: int, second: bool) -> tuple[str, str, bool]:
    """(question, answer, failed)."""
    topic, reworded = _TOPICS[n % len(_TOPICS)]
    kind = n % 5
    if not second:
        if kind == 0:
            return f"How do I {topic}?", "Please see our help pages.", False
        if kind == 1:
            return f"How do I {topic}?", "I'm sorry, but I can't help with that.", False
        if kind == 2:
            return f"How do I {topic}?", "", True
        return f"How do I {topic}?", f"Open Settings, choose Account, then {topic} there.", False
    if kind == 0:
        return reworded, "Open Settings, choose Account, then follow the steps shown.", False
    return f"What are your opening hours for store {n}?", f"Store {n} opens at 9 and closes at 17.", False


def requests(run: str, sessions: range, second: bool, per_request: int = 200) -> list[bytes]:
    """Serialized requests holding one turn (one chat span) of each session in ``sessions``."""
    base = time.time_ns() - 3_600 * 10**9 + (60 * 10**9 if second else 0)
    out: list[bytes] = []
    request = ExportTraceServiceRequest()
    for n in sessions:
        if (
            len(request.resource_spans) == 0
            or len(request.resource_spans[0].scope_spans[0].spans) >= per_request
        ):
            if len(request.resource_spans):
                out.append(request.SerializeToString())
            request = ExportTraceServiceRequest()
            rs = request.resource_spans.add()
            rs.resource.attributes.append(_kv("service.name", "scaled-test"))
            rs.scope_spans.add().scope.name = "opentelemetry.instrumentation.openai_v2"
        question, answer, failed = _turn(n, second)
        name = f"{run}/{n}/{int(second)}"
        start = base + n * 1_000_000
        span = (
            request.resource_spans[0]
            .scope_spans[0]
            .spans.add(
                trace_id=_id(name, 16),
                span_id=_id(name + "/span", 8),
                name="chat gpt-4o-mini",
                kind=3,
                start_time_unix_nano=start,
                end_time_unix_nano=start + 10**9,
            )
        )
        asked = [{"role": "user", "parts": [{"type": "text", "content": question}]}]
        said = [
            {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
        ]
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", "gpt-4o-mini"),
                _kv("gen_ai.conversation.id", session_id(run, n)),
                _kv("gen_ai.input.messages", json.dumps(asked)),
            ]
        )
        if failed:
            span.status.code = 2
            span.status.message = "Error code: 500"
            span.attributes.append(_kv("error.type", "500"))
        else:
            span.attributes.append(_kv("gen_ai.output.messages", json.dumps(said)))
    if len(request.resource_spans):
        out.append(request.SerializeToString())
    return out


def expected_signals(run: str, sessions: range) -> set[tuple[str, str]]:
    """(session id, signal) pairs the detectors must raise."""
    want: set[tuple[str, str]] = set()
    for n in sessions:
        kind = n % 5
        if kind == 0:
            want.add((session_id(run, n), "rephrase"))
        elif kind == 1:
            want.add((session_id(run, n), "refusal"))
        elif kind == 2:
            want.add((session_id(run, n), "error"))
    return want
