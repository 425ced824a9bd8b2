"""Normalisation cost per span, against the floor of just decoding the request and touching its attributes.

Run: ``python bench/bench_normalise.py [--spans 1000] [--rounds 30]``. Prints µs per span for
``normalise_traces`` and for the baseline (``ParseFromString`` plus a bare loop reading every
attribute's key and value), and their ratio. The request holds realistic GenAI chat spans: about
3 KB each, 15 attributes, the conversation as JSON-string ``gen_ai.input.messages`` (semconv ≥1.37).
Each figure is the best of ``--rounds`` timed passes (the least disturbed by other processes).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from tracesieve.processors.normalise import NormaliseConfig, normalise_traces

SYSTEM = (
    "You are the support assistant of an online shop. Answer briefly and politely, in the customer's "
    "language. Only use the context documents below; when they do not answer the question, say so and "
    "offer to open a ticket. Never invent order numbers, prices or delivery dates.\n"
    "[kb-001] Refunds are issued within 14 days of receiving the returned item.\n"
    "[kb-017] Items must be returned in original packaging, with the receipt.\n"
    "[kb-042] Shipping costs are not refundable, except for defective items.\n"
    "[kb-051] Exchanges for another size are free within 30 days; the new item ships once the old one "
    "is scanned by the carrier.\n"
    "[kb-063] Gift cards cannot be refunded or exchanged for cash, and expire after two years.\n"
    "[kb-078] Customers in the EU may withdraw from any purchase within 14 days without giving a reason; "
    "the withdrawal form is at /help/withdrawal.\n"
)
TURNS = [
    ("user", "Hello, I returned a jacket last week. When will I get my money back?"),
    ("assistant", "Refunds are issued within 14 days of us receiving the returned item."),
    ("user", "It was delivered to you on Monday according to the tracking. Is the shipping refunded?"),
    ("assistant", "Shipping costs are not refundable unless the item was defective."),
    ("user", "The zip was broken when it arrived, so it was defective. What do I need to do?"),
    ("assistant", "I'm sorry to hear that. Could you tell me when you ordered it and which size it was?"),
    ("user", "I ordered it on the 3rd of March, size M, and I'd rather have my money back than a new one."),
]
ANSWER = (
    "I'm sorry about the broken zip. Since the item was defective, the shipping costs will be refunded "
    "too. Please reply with your order number and a photo of the zip, and I will open a ticket for you."
)


def _kv(key: str, value: str | int | float | list[str]) -> KeyValue:
    v = AnyValue()
    if isinstance(value, str):
        v.string_value = value
    elif isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    else:
        v.array_value.values.extend(AnyValue(string_value=s) for s in value)
    return KeyValue(key=key, value=v)


def chat_span_attributes(i: int) -> list[KeyValue]:
    """The 15 attributes of a GenAI chat span, as opentelemetry-instrumentation-openai-v2 writes them."""
    messages = [{"role": "system", "parts": [{"type": "text", "content": SYSTEM}]}]
    messages += [{"role": r, "parts": [{"type": "text", "content": f"{c} (#{i})"}]} for r, c in TURNS]
    output = [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]
    return [
        _kv("gen_ai.operation.name", "chat"),
        _kv("gen_ai.provider.name", "openai"),
        _kv("gen_ai.request.model", "gpt-4o-mini"),
        _kv("gen_ai.request.temperature", 0.7),
        _kv("gen_ai.request.max_tokens", 400),
        _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        _kv("gen_ai.response.id", f"chatcmpl-{i:032x}"),
        _kv("gen_ai.response.finish_reasons", ["stop"]),
        _kv("gen_ai.usage.input_tokens", 412),
        _kv("gen_ai.usage.output_tokens", 58),
        _kv("gen_ai.conversation.id", f"conv-{i // 5:08d}"),
        _kv("server.address", "api.openai.com"),
        _kv("openai.response.service_tier", "default"),
        _kv("gen_ai.input.messages", json.dumps(messages, separators=(",", ":"))),
        _kv("gen_ai.output.messages", json.dumps(output, separators=(",", ":"))),
    ]


def build_request(n: int) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "shop-assistant"), _kv("service.version", "1.4.2")])
    ss = rs.scope_spans.add()
    ss.scope.name = "opentelemetry.util.genai.handler"
    for i in range(n):
        span = ss.spans.add(
            trace_id=os.urandom(16),
            span_id=os.urandom(8),
            parent_span_id=os.urandom(8),
            name="chat gpt-4o-mini",
            kind=3,
            start_time_unix_nano=1_800_000_000_000_000_000 + i,
            end_time_unix_nano=1_800_000_001_000_000_000 + i,
        )
        span.attributes.extend(chat_span_attributes(i))
    return req.SerializeToString()


def _baseline(raw: bytes) -> int:
    req = ExportTraceServiceRequest()
    req.ParseFromString(raw)
    n = 0
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                for kv in span.attributes:
                    if kv.key and kv.value.string_value:
                        n += 1
    return n


def _normalise(raw: bytes, config: NormaliseConfig) -> int:
    req = ExportTraceServiceRequest()
    req.ParseFromString(raw)
    spans, _, _ = normalise_traces(req, config)
    return len(spans)


def _json_only(raw: bytes) -> int:
    """Reference point: decoding the two message attributes' JSON, nothing else."""
    req = ExportTraceServiceRequest()
    req.ParseFromString(raw)
    n = 0
    for span in req.resource_spans[0].scope_spans[0].spans:
        for kv in span.attributes:
            if kv.key.endswith(".messages"):
                n += len(orjson.loads(kv.value.string_value))
    return n


def _best(fn: Callable[[], object], rounds: int) -> float:
    """The least CPU time of ``rounds`` calls: the one least disturbed by other processes."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    raw = build_request(args.spans)
    config = NormaliseConfig()
    assert _normalise(raw, config) == args.spans
    base = _best(lambda: _baseline(raw), args.rounds)
    full = _best(lambda: _normalise(raw, config), args.rounds)
    json_only = _best(lambda: _json_only(raw), args.rounds)
    per_span = len(raw) / args.spans
    size = f"{len(raw) / 1024:.0f} KiB ({per_span:.0f} B/span)"
    print(f"request: {args.spans} GenAI chat spans, {size}, 15 attributes each")
    print(f"baseline  (ParseFromString + attribute loop): {base / args.spans * 1e6:6.2f} µs/span (CPU)")
    print(f"normalise (ParseFromString + normalise_traces): {full / args.spans * 1e6:6.2f} µs/span (CPU)")
    print(f"ratio normalise / baseline: {full / base:.2f}")
    print(f"normalisation alone: {(full - base) / args.spans * 1e6:.2f} µs/span")
    scale = json_only / args.spans * 1e6
    print(f"(for scale: baseline + orjson.loads of the two message attributes: {scale:.2f} µs/span)")


if __name__ == "__main__":
    main()
