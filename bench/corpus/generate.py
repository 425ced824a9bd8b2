"""Build the labelled detector-benchmark corpus by driving real instrumentation libraries.

    python bench/corpus/generate.py --out DIR --split dev|heldout --sessions-per-signal N --seed S

Needs the ``bench`` extra (``pip install -e '.[bench]'``). Writes into DIR:

- ``NNNN_traces.pb`` / ``NNNN_logs.pb``: OTLP export request bodies (protobuf), numbered in send
  order, as the SDK's exporters sent them (times moved onto the corpus timeline).
- ``feedback.jsonl``: ``{"seq", "timing", "body"}`` per ``POST /v1/feedback``, ``seq`` being its
  place in the same send order.
- ``labels.jsonl``: per session ``{"session_id", "library", "scenario", "split", "expected":
  [{"trace_id", "signal"}], "hard_negative_for", "turns", "domain"}``.
- ``corpus.json``: the parameters, the timeline, the heartbeat time, versions, counts.

Each library plays its sessions in a process of its own (they patch the same ``openai`` module);
the four run in parallel. The timeline is a six-hour window that ends 27 hours before generation,
so that feedback sent "a day later" still lies in the past.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _otel import LIBRARY_ENV  # noqa: E402
from _timeline import HOUR, SECOND, load_raw, schedule, write_corpus  # noqa: E402
from scenarios import GENERATOR_VERSION, LIBRARIES, NUMBER, Session, Turn, build_sessions  # noqa: E402

WINDOW_NS = 6 * HOUR
WINDOW_END_BEFORE_NS = 27 * HOUR
NORMAL_LATENCY_S = (0.12, 0.18)
LATENCY_WARMUP = 60
PACKAGES = (
    "openai",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-openai-v2",
    "opentelemetry-util-genai",
    "openinference-instrumentation-openai",
    "opentelemetry-instrumentation-openai",
)


def system_prompt(brand: str, turn: Turn) -> str:
    base = f"You are the {brand} assistant. Answer briefly."
    if turn.docs is not None:
        found = "\n".join(f"[{d.id}] {d.content}" for d in turn.docs) or "(no documents found)"
        return f"{base} Use only this context:\n{found}"
    if turn.context:
        return f"{base} Answer only from these facts:\n" + "\n".join(f"- {c}" for c in turn.context)
    return base


def _plan_turn(
    session: Session, turn: Turn, brand: str, index_name: str, rng: random.Random
) -> dict[str, Any]:
    retrieval = None
    if turn.docs is not None:
        retrieval = {
            "index": index_name,
            "query": turn.user,
            "documents": [{"id": d.id, "score": d.score, "content": d.content} for d in turn.docs],
            "delay_s": rng.uniform(0.02, 0.04),
            "embed_delay_s": rng.uniform(0.05, 0.08),
            "top_k": max(3, len(turn.docs)),
            "with_content": rng.random() < 0.5,
        }
    evaluation = None
    if turn.feedback is not None and turn.feedback.channel == "event":
        fb = turn.feedback
        evaluation = {"name": fb.name, "score": fb.score, "label": fb.label, "explanation": fb.comment}
    return {
        "user": turn.user,
        "system": system_prompt(brand, turn),
        "resend_previous": turn.resend_previous,
        "retrieval": retrieval,
        "reply": {
            "content": turn.answer,
            "refusal": turn.refusal,
            "finish_reason": turn.finish_reason,
            "status": turn.status,
            "delay_s": turn.delay_s,
        },
        "stream": turn.stream,
        "max_tokens": turn.max_tokens,
        "model": session.model,
        "evaluation": evaluation,
    }


def plan_starts(sessions: list[Session], rng: random.Random, window_start: int) -> dict[str, int]:
    """Each session's start: latency sessions late in the window (after the warm-up calls),
    sessions with hours-long gaps early, the rest anywhere."""
    starts: dict[str, int] = {}
    calls: dict[tuple[str, str], list[float]] = {}
    for session in sessions:
        if session.placement == "late":
            continue
        length = sum(t.gap_s for t in session.turns[1:])
        if session.placement == "early":
            at = rng.uniform(0.0, 0.25) * WINDOW_NS
        else:
            at = rng.uniform(0.0, max(0.0, 0.96 * WINDOW_NS - length * SECOND))
        starts[session.session_id] = window_start + int(at)
        offset = 0.0
        for i, turn in enumerate(session.turns):
            offset += turn.gap_s if i else 0.0
            calls.setdefault((session.library, session.model), []).append(at + offset * SECOND)
    for session in sessions:
        if session.placement != "late":
            continue
        # After the warm-up calls of the same library and model (a detector may key its
        # percentile by service as well as by model), and before the window ends.
        seen = sorted(calls.get((session.library, session.model), []))
        earliest = seen[LATENCY_WARMUP + 5] if len(seen) > LATENCY_WARMUP + 5 else 0.9 * WINDOW_NS
        at = rng.uniform(min(earliest, 0.95 * WINDOW_NS), 0.97 * WINDOW_NS)
        starts[session.session_id] = window_start + int(at)
    return starts


def check_grounding(sessions: list[Session], brands: dict[str, str]) -> list[str]:
    """Catches script mistakes: a turn with context whose answer is labelled grounded must not
    carry digits absent from the context, and one labelled ungrounded must."""
    problems: list[str] = []
    for session in sessions:
        seen = ""
        for i, turn in enumerate(session.turns):
            context = seen + system_prompt(brands[session.domain], turn) + turn.user
            answer = turn.answer or ""
            if turn.docs or turn.context:
                known = {n.replace(",", "") for n in NUMBER.findall(context)}
                missing = [n for n in NUMBER.findall(answer) if n.replace(",", "") not in known]
                ungrounded = "ungrounded_answer" in turn.signals
                if missing and not ungrounded and not turn.restated:
                    problems.append(
                        f"{session.scenario} {session.session_id} turn {i}: {missing} not in context"
                    )
                if (
                    ungrounded
                    and not missing
                    and not re.search(r"[A-Z][a-z]+ [A-Z][a-z]+|[A-Z]+-\d+", answer)
                ):
                    problems.append(f"{session.scenario} {session.session_id} turn {i}: nothing ungrounded")
            if turn.status == 200:
                seen += turn.user + answer
    return problems


def run_libraries(sessions: list[Session], starts: dict[str, int], work: Path, seed: int) -> None:
    from _domains import DOMAINS

    domains = {d.name: d for d in DOMAINS}
    rng = random.Random(seed)
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    for library in LIBRARIES:
        mine = sorted((s for s in sessions if s.library == library), key=lambda s: starts[s.session_id])
        plan = {
            "library": library,
            "seed": rng.getrandbits(32),
            "latency_s": list(NORMAL_LATENCY_S),
            "sessions": [
                {
                    "session_id": s.session_id,
                    "user_id": s.user_id,
                    "domain": s.domain,
                    "model": s.model,
                    "turns": [
                        _plan_turn(s, t, domains[s.domain].brand, domains[s.domain].index, rng)
                        for t in s.turns
                    ],
                }
                for s in mine
            ],
        }
        plan_path = work / f"plan-{library}.json"
        plan_path.write_text(json.dumps(plan))
        out = work / library
        env = {**os.environ, **LIBRARY_ENV[library], "BENCH_APP_CHILD": "1", "PYTHONHASHSEED": "0"}
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
            env.pop(name, None)
        log = (work / f"{library}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "_app.py"), str(plan_path), str(out)], env=env, stdout=log, stderr=log
        )
        procs.append((library, proc, work / f"{library}.log"))
    failed = []
    for library, proc, log_path in procs:
        if proc.wait() != 0:
            failed.append(f"{library}: exit {proc.returncode}\n{log_path.read_text()[-3000:]}")
    if failed:
        raise SystemExit("a library's app failed:\n" + "\n".join(failed))


def latency_warmup(sessions: list[Session], times: dict[str, Any]) -> dict[str, int]:
    """Per latency-outlier session: how many calls of its library and model started before it."""
    calls: list[tuple[int, str, str, bool]] = []
    for session in sessions:
        for turn, t in zip(session.turns, times[session.session_id], strict=True):
            calls.append((t.start_ns, session.library, session.model, "latency_outlier" in turn.signals))
    calls.sort()
    counts: dict[tuple[str, str], int] = {}
    warmup: dict[str, int] = {}
    for start, library, model, outlier in calls:
        if outlier:
            warmup[f"{library}@{start}"] = counts.get((library, model), 0)
        else:
            counts[(library, model)] = counts.get((library, model), 0) + 1
    return warmup


_SESSION_KEYS = ("session.id", "traceloop.association.properties.session_id")


def verify_corpus(out: Path) -> list[str]:
    """Problems with a written corpus: files that do not decode, traces without labels or labels
    without traces, sessions not named on their spans, times in the future."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    problems: list[str] = []
    now = time.time_ns()
    sessions_of: dict[str, set[str]] = {}
    for path in sorted(out.glob("*.pb")):
        try:
            if path.name.endswith("_traces.pb"):
                traces = ExportTraceServiceRequest.FromString(path.read_bytes())
                for rs in traces.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            trace = span.trace_id.hex()
                            named = sessions_of.setdefault(trace, set())
                            named.update(
                                a.value.string_value for a in span.attributes if a.key in _SESSION_KEYS
                            )
                            if span.end_time_unix_nano >= now:
                                problems.append(f"{path.name}: span {span.span_id.hex()} ends in the future")
            else:
                logs = ExportLogsServiceRequest.FromString(path.read_bytes())
                for rl in logs.resource_logs:
                    for sl in rl.scope_logs:
                        for record in sl.log_records:
                            if max(record.time_unix_nano, record.observed_time_unix_nano) >= now:
                                problems.append(f"{path.name}: log record in the future")
        except Exception as exc:  # a corpus file that does not decode is the problem reported
            problems.append(f"{path.name}: does not decode ({exc})")
    labelled: set[str] = set()
    for line in (out / "labels.jsonl").read_text().splitlines():
        label = json.loads(line)
        turns = label["turns"]
        labelled.update(turns)
        for trace in turns:
            if trace not in sessions_of:
                problems.append(f"{label['session_id']}: turn {trace} has no spans")
            elif sessions_of[trace] - {label["session_id"]} or not sessions_of[trace]:
                problems.append(
                    f"{label['session_id']}: turn {trace} names sessions {sorted(sessions_of[trace])}"
                )
        for expected in label["expected"]:
            if expected["trace_id"] not in turns:
                problems.append(f"{label['session_id']}: expected {expected} is not one of its turns")
    stray = set(sessions_of) - labelled
    if stray:
        problems.append(f"{len(stray)} traces belong to no session, e.g. {sorted(stray)[:3]}")
    for line in (out / "feedback.jsonl").read_text().splitlines():
        body = json.loads(line)["body"]
        if body["trace_id"] not in labelled:
            problems.append(f"feedback names unknown trace {body['trace_id']}")
    return problems


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def generate(out: Path, split: str, n: int, seed: int, keep_raw: bool = False) -> dict[str, Any]:
    from _domains import DOMAINS

    began = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.pb"), *out.glob("*.jsonl"), *out.glob("corpus.json")]:
        old.unlink()
    sessions = build_sessions(split, n, seed)
    brands = {d.name: d.brand for d in DOMAINS}
    problems = check_grounding(sessions, brands)
    if problems:
        raise SystemExit("script errors:\n" + "\n".join(problems))
    rng = random.Random(f"timeline-{split}-{seed}")
    now = time.time_ns()
    window_start = now - WINDOW_END_BEFORE_NS - WINDOW_NS
    starts = plan_starts(sessions, rng, window_start)
    with tempfile.TemporaryDirectory(prefix="tracesieve-corpus-") as tmp:
        work = Path((keep_raw and out / "raw") or tmp)
        work.mkdir(exist_ok=True)
        run_libraries(sessions, starts, work, seed)
        raws = {library: load_raw(work / library) for library in LIBRARIES}
    items, times, corpus_end = schedule(sessions, raws, starts, time.time_ns(), rng)
    span_count, late_from = write_corpus(out, items)
    with (out / "labels.jsonl").open("w") as labels:
        for session in sessions:
            turn_times = times[session.session_id]
            labels.write(
                json.dumps(
                    {
                        "session_id": session.session_id,
                        "library": session.library,
                        "scenario": session.scenario,
                        "split": split,
                        "expected": [
                            {"trace_id": turn_times[i].trace_id, "signal": signal}
                            for i, signal in session.expected()
                        ],
                        "hard_negative_for": session.hard_negative_for,
                        "turns": [t.trace_id for t in turn_times],
                        "domain": session.domain,
                    }
                )
                + "\n"
            )
    warmup = latency_warmup(sessions, times)
    short = {k: v for k, v in warmup.items() if v < LATENCY_WARMUP}
    summary = {
        "generator_version": GENERATOR_VERSION,
        "split": split,
        "seed": seed,
        "sessions_per_signal": n,
        "sessions": len(sessions),
        "turns": sum(len(s.turns) for s in sessions),
        "spans": span_count,
        "requests": sum(1 for i in items if i.kind != "feedback"),
        "feedback_posts": sum(1 for i in items if i.kind == "feedback"),
        "window_start_ns": window_start,
        "corpus_end_ns": corpus_end,
        "heartbeat_ns": corpus_end + 600 * SECOND,
        "late_from_seq": late_from,
        "services": sorted({f"chat-app-{library}" for library in LIBRARIES}),
        "latency_warmup_calls": warmup,
        "generated_in_s": round(time.monotonic() - began, 1),
        "versions": _versions(),
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=1))
    problems = verify_corpus(out)
    if problems:
        raise SystemExit("the corpus does not check out:\n" + "\n".join(problems[:30]))
    if short:
        print(f"warning: fewer than {LATENCY_WARMUP} calls before latency outliers: {short}", file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the corpus into")
    parser.add_argument("--split", choices=["dev", "heldout"], default="dev", help="phrasing pool")
    parser.add_argument(
        "--sessions-per-signal", type=int, default=6, help="positives (and hard negatives) per signal"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-raw", action="store_true", help="keep the real-time captures under OUT/raw")
    args = parser.parse_args(argv)
    summary = generate(args.out, args.split, args.sessions_per_signal, args.seed, args.keep_raw)
    print(
        f"{summary['sessions']} sessions, {summary['turns']} turns, {summary['spans']} spans in "
        f"{summary['requests']} requests, {summary['feedback_posts']} feedback posts -> {args.out} "
        f"({summary['generated_in_s']} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
