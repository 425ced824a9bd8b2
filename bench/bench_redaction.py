"""What redaction costs: spans/s of decode + normalise with the redaction processor off and on.

Run: ``python bench/bench_redaction.py [--rounds 15] [--requests 20] [--corpus-files 400] [--service 20]``.

Each workload is a list of serialised OTLP requests, pushed through what the service does with
a request on its event loop before storing it: protobuf decode, then (redaction on) the
:class:`RedactingConsumer` (prefilter over the bytes, walk, re-serialise when changed), then
``normalise_traces`` / ``normalise_logs``. Off and on run interleaved in the same process, so both
see the same machine load; each figure is the best of ``--rounds`` passes. Prints spans/s (log
records count as spans), redactions/s, the share of requests the prefilter let through unread,
and the on/off ratio.

``--service N`` also runs the whole embedded service (``tracesieve run``, chDB) twice, redaction
off then on (then off and on again), each time sending the same N ``genai+pii`` requests of
1,000 spans over OTLP/gRPC, 4 in flight, and timing until every span is queryable.

Workloads: ``genai`` is ``bench/_load.py``'s ~3 KB OTel GenAI chat spans (no personal data: the
prefilter's case); ``genai+pii`` the same with an e-mail, a phone number, a card number and an
API key in every fifth prompt; ``captures`` the recorded requests of
``shared/reference/captures``; ``corpus`` the detector corpus's requests (``bench/.corpus``, built
by ``bench/bench_detectors.py``; skipped when absent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import Feedback, PartialResult
from tracesieve.processors.normalise import NormaliseConfig, normalise_logs, normalise_traces
from tracesieve.processors.redaction import RedactingConsumer, RedactionConfig, Redactor

sys.path.insert(0, str(Path(__file__).parent))
from _load import free_port, genai_request, send_grpc
from bench_ingest import _count, _wait_ready

HERE = Path(__file__).resolve().parent
CAPTURES = HERE.parents[1] / "shared" / "reference" / "captures"
PII = " Reach me at jane.roe@example.org or +44 20 7946 0958; card 4111 1111 1111 1111; key sk-proj-{}."

Request = tuple[str, bytes, int]  # signal ("traces"/"logs"), body, spans or log records


class Normalising:
    """The next stage: normalisation, as the pipeline runs it before the ingest log."""

    def __init__(self) -> None:
        self.config = NormaliseConfig()

    async def consume_traces(self, request: ExportTraceServiceRequest, raw: bytes) -> PartialResult:
        normalise_traces(request, self.config)
        return PartialResult()

    async def consume_logs(self, request: ExportLogsServiceRequest, raw: bytes) -> PartialResult:
        normalise_logs(request, self.config)
        return PartialResult()

    async def consume_feedback(self, items: list[Feedback], raw: bytes) -> PartialResult:
        return PartialResult()


def _items(signal: str, body: bytes) -> int:
    if signal == "traces":
        req = ExportTraceServiceRequest.FromString(body)
        return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    logs = ExportLogsServiceRequest.FromString(body)
    return sum(len(sl.log_records) for rl in logs.resource_logs for sl in rl.scope_logs)


def _files(paths: list[Path]) -> list[Request]:
    out = []
    for path in paths:
        signal = "traces" if path.name.endswith("_traces.pb") else "logs"
        body = path.read_bytes()
        out.append((signal, body, _items(signal, body)))
    return out


def _with_pii(body: bytes, every: int) -> bytes:
    request = ExportTraceServiceRequest.FromString(body)
    spans = request.resource_spans[0].scope_spans[0].spans
    for i in range(0, len(spans), every):
        for kv in spans[i].attributes:
            if kv.key == "gen_ai.input.messages":
                text = kv.value.string_value
                kv.value.string_value = text.replace(')"}', ")" + PII.format(f"{i:04d}" * 8) + '"}', 1)
    return request.SerializeToString()


def workloads(requests: int, corpus_files: int) -> dict[str, list[Request]]:
    genai = [genai_request(1000, seed) for seed in range(requests)]
    out: dict[str, list[Request]] = {
        "genai": [("traces", body, 1000) for body in genai],
        "genai+pii": [("traces", _with_pii(body, 5), 1000) for body in genai],
    }
    if CAPTURES.is_dir():
        out["captures"] = _files(
            sorted(CAPTURES.glob("*/*_traces.pb")) + sorted(CAPTURES.glob("*/*_logs.pb"))
        )
    corpora = sorted((HERE / ".corpus").glob("dev-*"))
    if corpora:
        files = sorted(corpora[0].glob("*_traces.pb")) + sorted(corpora[0].glob("*_logs.pb"))
        out["corpus"] = _files(sorted(files)[:corpus_files])
    return out


async def _pass(consumer: Any, work: list[Request]) -> float:
    start = time.process_time()
    for signal, body, _ in work:
        if signal == "traces":
            await consumer.consume_traces(ExportTraceServiceRequest.FromString(body), body)
        else:
            await consumer.consume_logs(ExportLogsServiceRequest.FromString(body), body)
    return time.process_time() - start


def measure(work: list[Request], rounds: int) -> dict[str, float]:
    spans = sum(n for _, _, n in work)
    plain = Normalising()
    redactor = Redactor(RedactionConfig(enabled=True))
    redacting = RedactingConsumer(plain, redactor, lambda items: b"")
    best_off = best_on = float("inf")
    loop = asyncio.new_event_loop()
    try:
        run: Callable[[Any], float] = lambda consumer: loop.run_until_complete(_pass(consumer, work))  # noqa: E731
        run(plain), run(redacting)  # warm-up (pattern plans, caches)
        redactions_before = sum(redactor.redactions.values())
        skipped_before = redacting.requests_skipped
        for _ in range(rounds):
            best_off = min(best_off, run(plain))
            best_on = min(best_on, run(redacting))
    finally:
        loop.close()
    per_pass = (sum(redactor.redactions.values()) - redactions_before) / rounds
    skipped = (redacting.requests_skipped - skipped_before) / rounds
    return {
        "spans": spans,
        "off": spans / best_off,
        "on": spans / best_on,
        "ratio": best_off / best_on,
        "redactions": per_pass,
        "redactions_per_s": per_pass / best_on,
        "skipped": skipped / len(work),
        "extra_us_per_span": (best_on - best_off) / spans * 1e6,
    }


def run_service(bodies: list[bytes], redaction: bool) -> float:
    """Spans/s of ``tracesieve run`` from the first request sent to the last span queryable."""
    data_dir = Path(tempfile.mkdtemp(prefix="tracesieve-bench-redaction-"))
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    env = {**os.environ, "TRACESIEVE_PROCESSORS__REDACTION__ENABLED": "true" if redaction else "false"}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "tracesieve.collector.cli", "run", "--data-dir", str(data_dir),
            "--grpc-port", str(grpc_port), "--http-port", str(http_port), "--admin-port", str(admin_port),
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    admin = f"http://127.0.0.1:{admin_port}"
    try:
        _wait_ready(f"{admin}/readyz")
        expected = sum(_count_spans(body) for body in bodies)
        start = time.perf_counter()
        failures = asyncio.run(send_grpc(f"127.0.0.1:{grpc_port}", bodies, 4))
        while _count(admin) < expected:
            time.sleep(0.05)
        assert failures == 0, f"{failures} requests failed"
        return expected / (time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


def _count_spans(body: bytes) -> int:
    return _items("traces", body)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15, help="timed passes per mode (best is kept)")
    parser.add_argument("--requests", type=int, default=20, help="genai requests of 1,000 spans each")
    parser.add_argument("--corpus-files", type=int, default=400, help="corpus requests used at most")
    parser.add_argument("--service", type=int, default=0, help="also run the whole service on N requests")
    args = parser.parse_args()
    header = (
        f"{'workload':<11} {'spans':>7} {'off spans/s':>12} {'on spans/s':>11} {'on/off':>7} "
        f"{'+us/span':>9} {'redactions':>10} {'redactions/s':>13} {'unread':>7}"
    )
    print(header)
    for name, work in workloads(args.requests, args.corpus_files).items():
        m = measure(work, args.rounds)
        print(
            f"{name:<11} {m['spans']:>7,.0f} {m['off']:>12,.0f} {m['on']:>11,.0f} {m['ratio']:>7.2f} "
            f"{m['extra_us_per_span']:>9.1f} {m['redactions']:>10,.0f} {m['redactions_per_s']:>13,.0f} "
            f"{m['skipped']:>7.0%}"
        )
    if args.service:
        bodies = [_with_pii(genai_request(1000, 50_000 + seed), 5) for seed in range(args.service)]
        runs: dict[bool, list[float]] = {False: [], True: []}
        for redaction in (False, True, False, True):
            runs[redaction].append(run_service(bodies, redaction))
        off, on = max(runs[False]), max(runs[True])
        print(
            f"whole service, {len(bodies) * 1000:,} genai+pii spans over OTLP/gRPC until queryable: "
            f"off {off:,.0f} spans/s ({', '.join(f'{x:,.0f}' for x in runs[False])}), "
            f"on {on:,.0f} spans/s ({', '.join(f'{x:,.0f}' for x in runs[True])}), on/off {on / off:.2f}"
        )


if __name__ == "__main__":
    main()
