"""Normalisation cost per span, against the floor of just decoding the request and touching its attributes.

Run: ``python bench/bench_normalise.py [--spans 1000] [--rounds 30] [--reference DIR]``. For each
workload it prints µs of CPU per span for:

- baseline: ``ParseFromString`` plus a bare loop reading every attribute's key and value;
- ``normalise_traces`` alone, on an already parsed request (what the service pays on top of
  the receiver's parse);
- parse + ``normalise_traces``, and its ratio to the baseline.

Workloads: ``genai`` is ``bench/_load.py``'s ``genai_request``, exactly the ~2.5 KB OTel GenAI chat
spans the throughput benchmark sends (14 attributes and a finish-reasons array, JSON-string
messages); ``chat`` the ~2.9 KB, 15-attribute chat spans of opentelemetry-instrumentation-openai-v2;
``captures`` the recorded trace requests of ``shared/reference/captures`` (every convention, many
small spans; skipped when absent).

``--reference DIR`` also times another copy of the normaliser package (before/after in one
process, interleaved, so that both see the same machine load), e.g. the committed one::

    git archive HEAD processors/normalise | tar -x -C /tmp/ref
    python bench/bench_normalise.py --reference /tmp/ref/processors/normalise

Each figure is the best of ``--rounds`` timed passes (the least disturbed by other processes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from tracesieve.processors.normalise import NormaliseConfig, normalise_traces

sys.path.insert(0, str(Path(__file__).parent))
from _load import _kv, genai_request

CAPTURES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "captures"
Normalise = Callable[[ExportTraceServiceRequest, NormaliseConfig], Any]

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


def _parsed(raw: bytes) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    req.ParseFromString(raw)
    return req


def _cpu(fn: Callable[[bytes], object], body: bytes) -> float:
    t0 = time.thread_time()
    fn(body)
    return time.thread_time() - t0


def _load_reference(path: str) -> Normalise:
    """``normalise_traces`` of the normaliser package copied at ``path``, imported under another name."""
    init = Path(path) / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "_reference_normalise", init, submodule_search_locations=[path]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no normaliser package at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    fn: Normalise = module.normalise_traces
    return fn


def _measure(
    bodies: list[bytes], rounds: int, fns: dict[str, Normalise], config: NormaliseConfig
) -> dict[str, float]:
    """Best CPU seconds of a round over ``bodies``: baseline, each normaliser alone and with the parse."""
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    for _ in range(rounds):
        keep("baseline", sum(_cpu(_baseline, body) for body in bodies))
        for name, fn in fns.items():  # interleaved: every normaliser sees the same machine load
            alone = with_parse = 0.0
            for body in bodies:
                t0 = time.thread_time()
                req = _parsed(body)
                t1 = time.thread_time()
                fn(req, config)
                t2 = time.thread_time()
                alone += t2 - t1
                with_parse += t2 - t0
            keep(name, alone)
            keep(name + "+parse", with_parse)
    return best


def _workloads(spans: int) -> list[tuple[str, list[bytes]]]:
    loads = [("genai", [genai_request(spans, seed=1)]), ("chat", [build_request(spans)])]
    captures = sorted(CAPTURES.glob("*/*_traces.pb")) if CAPTURES.is_dir() else []
    if captures:
        loads.append(("captures", [p.read_bytes() for p in captures]))
    return loads


def _span_count(bodies: list[bytes]) -> int:
    return sum(len(ss.spans) for b in bodies for rs in _parsed(b).resource_spans for ss in rs.scope_spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reference", help="another copy of processors/normalise to time as 'before'")
    args = parser.parse_args()
    config = NormaliseConfig()
    fns: dict[str, Normalise] = {"normalise": normalise_traces}
    if args.reference:
        fns = {"reference": _load_reference(args.reference), **fns}
    print("µs of CPU per span; best of", args.rounds, "rounds")
    for workload, bodies in _workloads(args.spans):
        n = _span_count(bodies)
        size = sum(map(len, bodies)) / n
        # Small requests are timed on repeats, so that each round lasts about as long as the others.
        repeat = max(1, args.spans // n)
        best = _measure(bodies * repeat, args.rounds, fns, config)
        per_span = {name: seconds / (n * repeat) * 1e6 for name, seconds in best.items()}
        base = per_span["baseline"]
        print(f"\n{workload}: {n} spans in {len(bodies)} request(s), {size:.0f} B/span")
        print(f"  baseline (ParseFromString + attribute loop): {base:6.2f}")
        for name in fns:
            alone, total = per_span[name], per_span[name + "+parse"]
            print(
                f"  {name:9s} normalise_traces alone: {alone:6.2f}   with the parse: {total:6.2f}"
                f"   ratio to baseline: {total / base:.2f}"
            )
        if "reference" in fns:
            ratio = per_span["normalise"] / per_span["reference"]
            print(f"  normalise_traces alone, after / before: {ratio:.2f}")


if __name__ == "__main__":
    main()
