"""The analysis worker: its wire format, its request loop, and that the worker process finds
exactly what the processor finds on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import os
import pickle
import signal
import time
from pathlib import Path

import orjson
import pytest
from tracesieve.collector import analysis_wire as wire
from tracesieve.collector.analysis_host import InlineHost, ProcessorHost, WorkerHost
from tracesieve.collector.analysis_worker import serve
from tracesieve.collector.config import ProcessorsConfig
from tracesieve.collector.contracts import KIND_LLM, CanonicalSpan, Feedback
from tracesieve.processors.sessions import Findings

S = 1_000_000_000


def _turn(n: int, question: str, answer: str, *, session: str = "s1", at_s: float = 0) -> CanonicalSpan:
    start = time.time_ns() - 600 * S + int(at_s * S)
    return CanonicalSpan(
        trace_id=f"{n:032x}",
        span_id=f"{n:016x}",
        parent_span_id="",
        name="chat gpt-4o-mini",
        start_ns=start,
        end_ns=start + S,
        kind=KIND_LLM,
        session_id=session,
        request_model="gpt-4o-mini",
        input_messages=[{"role": "user", "content": question}],
        output_messages=[{"role": "assistant", "content": answer}],
        output_text=answer,
        events=[(start, "exception", {"exception.type": "ValueError"})],
        attributes={"gen_ai.request.max_tokens": "200"},
        retrieved_documents=[{"id": "d1", "score": 0.25, "content": "Refunds take 5-7 days."}],
    )


def test_spans_cross_the_pipe_with_every_field_the_processor_reads() -> None:
    span = _turn(1, "How do I cancel?", "Go to Settings.")
    span.seq = 42
    (back,) = wire.decode_spans(wire.encode_spans([span]))
    sent = dataclasses.asdict(span)
    got = dataclasses.asdict(back)
    # Not sent: the ingest-log seq (the collector keeps it) and the normaliser's private join.
    assert got.pop("seq") == 0 and sent.pop("seq") == 42
    got["events"] = [tuple(event) for event in got["events"]]
    assert got == sent


def _requests(*frames: bytes) -> io.BytesIO:
    return io.BytesIO(b"".join(frames))


def _replies(out: io.BytesIO) -> list[tuple[int, object]]:
    data = out.getvalue()
    replies: list[tuple[int, object]] = []
    while data:
        size, status = wire.HEADER.unpack(data[: wire.HEADER.size])
        body = data[wire.HEADER.size : wire.HEADER.size + size]
        replies.append((status, pickle.loads(body) if status == wire.OK else body.decode()))
        data = data[wire.HEADER.size + size :]
    return replies


def test_a_request_that_fails_is_answered_failed_and_the_worker_goes_on(tmp_path: Path) -> None:
    init = orjson.dumps(
        {
            "processors": ProcessorsConfig().model_dump(mode="json"),
            "log_level": "WARNING",
            "gc_gen0_threshold": 0,
            "state_path": str(tmp_path / "none.json"),
        }
    )
    refusal = _turn(1, "How do I cancel?", "I'm sorry, but I can't help with that.")
    refusal.events = []
    out = io.BytesIO()
    status = serve(
        _requests(
            wire.frame(wire.OP_INIT, init),
            wire.frame(wire.OP_APPLY_FEEDBACK, b"not a pickle"),
            wire.frame(wire.OP_PROCESS, wire.encode_spans([refusal])),
            wire.frame(wire.OP_CLOSE),
            wire.frame(wire.OP_ADVANCE),  # after CLOSE: never read
        ),
        out,
    )
    assert status == 0
    (init_status, restored), (failed, message), (ok, found) = _replies(out)
    assert (init_status, restored) == (wire.OK, None)  # nothing to restore
    assert failed == wire.FAILED and "UnpicklingError" in str(message)
    assert ok == wire.OK and isinstance(found, Findings)
    assert [s.signal for s in found.signals] == ["refusal"]


def test_timers_fire_with_the_next_batch_without_an_advance(tmp_path: Path) -> None:
    """An abandoned session's timer fires as soon as a batch comes after its deadline: the
    collector sends OP_ADVANCE only once the previous one is answered, which behind a queue of
    batches came a whole queue late."""
    init = orjson.dumps(
        {
            "processors": ProcessorsConfig().model_dump(mode="json"),
            "log_level": "WARNING",
            "gc_gen0_threshold": 0,
            "state_path": str(tmp_path / "none.json"),
        }
    )
    refusal = _turn(1, "How do I cancel?", "I'm sorry, but I can't help with that.", session="quiet")
    refusal.events = []
    later = _turn(2, "What is the price of the pro plan?", "It is $20 a month.", session="busy", at_s=400)
    later.events = []
    out = io.BytesIO()
    serve(
        _requests(
            wire.frame(wire.OP_INIT, init),
            wire.frame(wire.OP_PROCESS, wire.encode_spans([refusal])),
            wire.frame(wire.OP_OBSERVE, later.end_ns.to_bytes(8, "big")),
            wire.frame(wire.OP_PROCESS, wire.encode_spans([later])),
            wire.frame(wire.OP_CLOSE),
        ),
        out,
    )
    _init, (_, first), (_, second) = _replies(out)
    assert isinstance(first, Findings) and isinstance(second, Findings)
    assert [s.signal for s in first.signals] == ["refusal"]
    abandoned = [s for s in second.signals if s.signal == "abandoned_session"]
    assert [s.session_id for s in abandoned] == ["quiet"]


async def _run(host: ProcessorHost, state: Path) -> tuple[list[tuple[str, str]], int]:
    """A refusal, its rephrase, and feedback before and after its span, through ``host``."""
    await host.start(state)
    got: list[Findings] = []

    def keep(found: Findings | None) -> None:
        assert found is not None
        got.append(found)

    early = Feedback("fb-early", time.time_ns(), "api", span_id=f"{3:016x}", thumbs="down")
    found, missing = await host.add_feedback([early])
    assert missing == [early] and not found
    got.append(await host.join_or_wait(missing))
    host.observe_time(time.time_ns())
    refused = "I'm sorry, but I can't help with that."
    host.process([_turn(1, "How do I cancel my subscription?", refused)], keep)
    host.process([_turn(2, "How can I cancel my subscription plan?", "Settings > Billing.", at_s=30)], keep)
    host.process([_turn(3, "Thanks. What about refunds?", "Refunds take 10 days.", at_s=60)], keep)
    host.advance(keep)
    late = Feedback("fb-late", time.time_ns(), "api", span_id=f"{2:016x}", thumbs="down")
    found, missing = await host.add_feedback([late])
    got.append(found)
    await host.snapshot(1, state)
    await host.aclose(asyncio.get_running_loop().time() + 10)
    signals = sorted((s.trace_id[-1], s.signal) for f in got for s in f.signals)
    return signals, len(missing)


async def test_the_worker_process_finds_what_the_event_loop_finds(tmp_path: Path) -> None:
    config = ProcessorsConfig()
    inline, inline_missing = await _run(InlineHost(config), tmp_path / "inline.json")
    fatal: list[str] = []
    # As the service starts it: what survives a batch is frozen (collector.state_gc).
    worker = WorkerHost(config, "WARNING", 50_000, fatal.append, gc_full_interval_s=600.0)
    in_worker, worker_missing = await _run(worker, tmp_path / "worker.json")
    assert in_worker == inline
    assert worker_missing == inline_missing == 0
    assert ("1", "refusal") in inline and ("1", "rephrase") in inline
    assert ("3", "negative_feedback") in inline and ("2", "negative_feedback") in inline
    assert fatal == []  # a requested close is not a death
    # Both wrote the same snapshot.
    assert orjson.loads((tmp_path / "worker.json").read_bytes())["seq"] == 1
    assert (
        orjson.loads((tmp_path / "worker.json").read_bytes()).keys()
        == orjson.loads((tmp_path / "inline.json").read_bytes()).keys()
    )


async def test_requests_after_the_worker_died_fail_and_the_death_is_reported(tmp_path: Path) -> None:
    fatal: list[str] = []
    worker = WorkerHost(ProcessorsConfig(), "WARNING", 0, fatal.append)
    await worker.start(tmp_path / "state.json")
    assert worker.pid is not None
    pending: list[Findings | None] = []
    worker.advance(pending.append)
    os.kill(worker.pid, signal.SIGKILL)
    for _ in range(200):
        if fatal:
            break
        await asyncio.sleep(0.05)
    assert len(fatal) == 1 and "exit status -9" in fatal[0]
    assert pending == [None]  # the unanswered request is told the worker is gone
    with pytest.raises(Exception, match="analysis worker exited"):
        worker.process([_turn(1, "q", "a")], pending.append)
    await worker.aclose(asyncio.get_running_loop().time() + 5)


async def test_a_snapshot_that_cannot_be_written_fails_and_the_worker_goes_on(tmp_path: Path) -> None:
    worker = WorkerHost(ProcessorsConfig(), "CRITICAL", 0, lambda reason: None)
    await worker.start(tmp_path / "state.json")
    try:
        with pytest.raises(RuntimeError, match="wrote no"):
            await worker.snapshot(1, tmp_path / "no-such-folder" / "state.next")
        await worker.snapshot(2, tmp_path / "state.next")  # the snapshot is taken by a child
        assert orjson.loads((tmp_path / "state.next").read_bytes())["seq"] == 2
        got: list[Findings | None] = []
        worker.process([_turn(1, "How do I cancel?", "I'm sorry, but I can't help with that.")], got.append)
        worker.advance(got.append)
        for _ in range(200):
            if len(got) == 2:
                break
            await asyncio.sleep(0.02)
        assert got[0] is not None and "refusal" in {s.signal for s in got[0].signals}
    finally:
        await worker.aclose(asyncio.get_running_loop().time() + 5)


async def test_closing_kills_a_worker_that_stopped_reading(tmp_path: Path) -> None:
    worker = WorkerHost(ProcessorsConfig(), "CRITICAL", 0, lambda reason: None)
    await worker.start(tmp_path / "state.json")
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)  # alive, reading nothing: the pipe fills
    try:
        big = [_turn(n, "q" * 4000, "a" * 4000) for n in range(1, 400)]
        for _ in range(3):
            worker.process(big, lambda found: None)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await worker.aclose(start + 1.0)  # returns: the worker was killed at the deadline
        assert worker._process is not None and worker._process.returncode == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
