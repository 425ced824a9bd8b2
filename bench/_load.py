"""Shared load for the ingest benchmarks: realistic GenAI export requests and the senders."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time

import aiohttp
import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TRACE_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

_QUESTIONS = [
    "How long do refunds take for orders paid by card?",
    "Can I change the delivery address after the order shipped?",
    "What is the warranty on the X200 headphones and does it cover water damage?",
    "Why was my account charged twice on the 3rd of March?",
]


_SYSTEM_PROMPT = (
    "You are the support assistant of Acme. Answer from this policy only. Refund policy: refunds are "
    "issued to the original payment method within 5 to 7 business days. Addresses can be changed "
    "until the order ships. Headphones carry a warranty that excludes water damage. Duplicate "
    "charges are reversed automatically within three days of the second charge. "
)


def _kv(key: str, value: str | int | float | list[str]) -> KeyValue:
    any_value = AnyValue()
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, list):
        any_value.array_value.values.extend(AnyValue(string_value=s) for s in value)
    else:
        any_value.string_value = value
    return KeyValue(key=key, value=any_value)


def genai_request(spans: int, seed: int, sessions: int = 200) -> bytes:
    """One ExportTraceServiceRequest of ``spans`` OTel-GenAI chat spans of about 3 KB each."""
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [
            _kv("service.name", "support-bot"),
            _kv("service.version", "2.3.1"),
            _kv("telemetry.sdk.language", "python"),
        ]
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "opentelemetry.instrumentation.openai_v2"
    now = time.time_ns()
    for i in range(spans):
        question = rng.choice(_QUESTIONS) + f" (order {rng.randrange(10**6)})"
        history = [
            {
                "role": "system",
                # The policy the answer quotes is in the prompt, as in a grounded support bot:
                # realistic traffic is mostly grounded (the detectors judge every answer).
                "parts": [{"type": "text", "content": _SYSTEM_PROMPT}],
            },
            {"role": "user", "parts": [{"type": "text", "content": "Earlier question about my order. " * 8}]},
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "An earlier answer about it. " * 10}],
            },
            {"role": "user", "parts": [{"type": "text", "content": question}]},
        ]
        answer = "Refunds are issued to the original payment method within 5 to 7 business days. " * 6
        output = [
            {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
        ]
        start = now + i * 1000
        span = scope_spans.spans.add(
            trace_id=rng.randbytes(16),
            span_id=rng.randbytes(8),
            parent_span_id=rng.randbytes(8),
            name="chat gpt-4o-mini",
            kind=3,
            start_time_unix_nano=start,
            end_time_unix_nano=start + rng.randrange(300, 3000) * 10**6,
        )
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", "gpt-4o-mini"),
                _kv("gen_ai.request.temperature", 0.7),
                _kv("gen_ai.request.max_tokens", 400),
                _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                _kv("gen_ai.response.id", f"chatcmpl-{rng.randbytes(12).hex()}"),
                _kv("gen_ai.usage.input_tokens", rng.randrange(50, 900)),
                _kv("gen_ai.usage.output_tokens", rng.randrange(10, 300)),
                _kv("gen_ai.conversation.id", f"sess-{seed}-{rng.randrange(sessions)}"),
                _kv("user.id", f"user-{rng.randrange(10_000)}"),
                _kv("gen_ai.input.messages", json.dumps(history)),
                _kv("gen_ai.output.messages", json.dumps(output)),
                _kv("server.address", "api.openai.com"),
                _kv("server.port", 443),
            ]
        )
        finish = span.attributes.add(key="gen_ai.response.finish_reasons")
        finish.value.array_value.values.add(string_value="stop")
    return request.SerializeToString()


async def send_grpc(target: str, bodies: list[bytes], concurrency: int) -> int:
    """Send every body over OTLP/gRPC with ``concurrency`` calls in flight; return failures."""
    failures = 0
    queue = list(reversed(bodies))
    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(TRACE_METHOD, request_serializer=None, response_deserializer=None)

        async def worker() -> None:
            nonlocal failures
            while queue:
                body = queue.pop()
                for _attempt in range(50):
                    try:
                        await call(body, timeout=120)
                        break
                    except grpc.aio.AioRpcError as exc:
                        if exc.code() not in (
                            grpc.StatusCode.UNAVAILABLE,
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                        ):
                            failures += 1
                            break
                        await asyncio.sleep(0.2)
                else:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


async def send_http(base: str, bodies: list[bytes], concurrency: int) -> int:
    """Send every body over OTLP/HTTP protobuf with ``concurrency`` requests in flight."""
    failures = 0
    queue = list(reversed(bodies))
    headers = {"Content-Type": "application/x-protobuf"}
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal failures
            while queue:
                body = queue.pop()
                for _attempt in range(50):
                    async with session.post(f"{base}/v1/traces", data=body, headers=headers) as response:
                        await response.read()
                        if response.status == 200:
                            break
                        if response.status not in (429, 503):
                            failures += 1
                            break
                    await asyncio.sleep(0.2)
                else:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def peak_rss_mib(pid: int) -> float:
    """Peak RSS of ``pid`` plus its child processes' (the analysis worker's), in MiB."""
    total = 0.0
    for one in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{one}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            continue
    return total


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """CPU time (user + system) used so far by ``pid`` (plus its child processes', unless
    ``children`` is false), in seconds."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for one in [pid, *(_children(pid) if children else ())]:
        try:
            with open(f"/proc/{one}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(child) for child in f.read().split()]
    except FileNotFoundError:
        pass
    return found


def cpu_count() -> int:
    return os.cpu_count() or 1


def machine_speed_s() -> float:
    """Seconds a fixed pure-Python loop takes here, now: shared machines slow down and speed up
    (this loop, at module level, measured 0.96 s and 1.40 s minutes apart), so figures are printed
    with it."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start
