"""``tracesieve run`` as a real process: kill -9 loses nothing acknowledged; query while running.

Each collector here is a subprocess with a data folder of its own (the embedded engine admits
one process per folder), driven over OTLP/HTTP like any app would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from tracesieve.collector.replay import ReplayFile, replay

TRACESIEVE = [sys.executable, "-m", "tracesieve.collector.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Collector:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.http_port, self.grpc_port, self.admin_port = _free_port(), _free_port(), _free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = self._spawn(log)
        for _attempt in range(600):  # up to about a minute
            assert self.proc.poll() is None, (
                "collector exited during start-up: " + self.log.read_text()[-2000:]
            )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("collector never became ready")

    def _spawn(self, log: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                *TRACESIEVE, "run", "--data-dir", str(self.data_dir),
                "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
                "--admin-port", str(self.admin_port),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log,  # type: ignore[arg-type]
        )  # fmt: skip

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def query(self, sql: str) -> list[dict[str, object]]:
        out = subprocess.run(
            [*TRACESIEVE, "query", "--data-dir", str(self.data_dir), "--format", "json", sql],
            capture_output=True,
            check=True,
            env=self.env,
        )
        result: list[dict[str, object]] = json.loads(out.stdout)
        return result


@pytest.fixture
def collectors(tmp_path: Path) -> Iterator[list[Collector]]:
    made: list[Collector] = []
    yield made
    for collector in made:
        if collector.proc is not None and collector.proc.poll() is None:
            collector.proc.kill()
            collector.proc.wait(10)


def _request(path: Path, index: int, spans: int) -> ReplayFile:
    """A request of GenAI chat spans whose session lives on a root span that never comes.

    The spans therefore wait in the trace assembler (``context_wait_s``) after they are
    acknowledged: a kill in that window finds them only in the ingest log.
    """
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(spans):
        span = scope.spans.add(
            trace_id=(index * 1000 + i + 1).to_bytes(16, "big"),
            span_id=(i + 1).to_bytes(8, "big"),
            parent_span_id=b"\x99" * 8,
            name="chat gpt-4o-mini",
            kind=3,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_001_000_000_000 + i,
        )
        for key, value in (
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.request.model", "gpt-4o-mini"),
            (
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": f"q{i}"}]}]),
            ),
        ):
            span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    file = path / f"{index:04d}_traces.pb"
    file.write_bytes(request.SerializeToString())
    return ReplayFile(file, "traces", "protobuf")


def test_kill_9_loses_no_acknowledged_span(tmp_path: Path, collectors: list[Collector]) -> None:
    files = [_request(tmp_path, index, 50) for index in range(20)]
    waiting = {
        "TRACESIEVE_PROCESSORS__ASSEMBLY__CONTEXT_WAIT_S": "600",
        "TRACESIEVE_PROCESSORS__ASSEMBLY__TRACE_IDLE_S": "600",
    }
    first = Collector(tmp_path / "data", env=waiting)
    collectors.append(first)
    first.start()
    result = asyncio.run(replay(files, f"http://127.0.0.1:{first.http_port}"))
    assert result.failures == [] and result.sent == 20  # every request acknowledged
    first.kill9()  # the spans were still waiting for context: only the ingest log has them

    second = Collector(tmp_path / "data", env={"TRACESIEVE_PROCESSORS__ASSEMBLY__CONTEXT_WAIT_S": "0.2"})
    collectors.append(second)
    second.start()
    count = 0
    for _attempt in range(300):
        count = int(second.query("SELECT count() AS n FROM tracesieve.spans")[0]["n"])  # type: ignore[call-overload]
        if count >= 1000:
            break
        time.sleep(0.2)
    assert count == 1000
    distinct = second.query("SELECT uniqExact(TraceId, SpanId) AS n FROM tracesieve.spans")[0]["n"]
    assert distinct == 1000
    assert second.stop() == 0

    # Restarted once more, the replay has nothing left to add: no duplicates.
    third = Collector(tmp_path / "data")
    collectors.append(third)
    third.start()
    assert third.stop() == 0
    rows = third.query("SELECT count() AS n, uniqExact(TraceId, SpanId) AS u FROM tracesieve.spans")
    assert rows == [{"n": 1000, "u": 1000}]


def test_query_goes_through_the_running_collector(tmp_path: Path, collectors: list[Collector]) -> None:
    collector = Collector(tmp_path / "data", env={"TRACESIEVE_PROCESSORS__ASSEMBLY__CONTEXT_WAIT_S": "0.1"})
    collectors.append(collector)
    collector.start()
    asyncio.run(replay([_request(tmp_path, 1, 5)], f"http://127.0.0.1:{collector.http_port}"))
    for _attempt in range(300):
        # A second process on the same data folder: the engine is held by the collector, so this
        # only works through its admin API.
        rows = collector.query("SELECT count() AS n FROM tracesieve.spans")
        if rows[0]["n"] == 5:
            break
        time.sleep(0.1)
    assert rows == [{"n": 5}]
    refused = subprocess.run(
        [*TRACESIEVE, "query", "--data-dir", str(collector.data_dir), "DROP TABLE tracesieve.spans"],
        capture_output=True,
        env=collector.env,
    )
    assert refused.returncode != 0  # read-only
    assert collector.query("SELECT count() AS n FROM tracesieve.spans") == [{"n": 5}]
    assert collector.stop() == 0
    # With the collector gone, the query opens the store itself.
    assert collector.query("SELECT count() AS n FROM tracesieve.spans") == [{"n": 5}]


def _turn(
    path: Path, name: str, trace: int, session: str, question: str, answer: str, at_s: int
) -> ReplayFile:
    """One chat turn (an LLM span carrying its session) as an OTLP request file."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    start = time.time_ns() - 3_600 * 10**9 + at_s * 10**9
    span = scope.spans.add(
        trace_id=trace.to_bytes(16, "big"),
        span_id=trace.to_bytes(8, "big"),
        name="chat gpt-4o-mini",
        kind=3,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 10**9,
    )
    for key, value in (
        ("gen_ai.operation.name", "chat"),
        ("session.id", session),
        (
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}]),
        ),
        (
            "gen_ai.output.messages",
            json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
        ),
    ):
        span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    file = path / f"{name}_traces.pb"
    file.write_bytes(request.SerializeToString())
    return ReplayFile(file, "traces", "protobuf")


def _wait_rows(collector: Collector, sql: str, want: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for _attempt in range(300):
        rows = collector.query(sql)
        if len(rows) >= want:
            break
        time.sleep(0.2)
    return rows


@pytest.mark.parametrize("checkpointed", [True, False], ids=["after-a-checkpoint", "before-any-checkpoint"])
def test_kill_9_keeps_the_session_state(
    tmp_path: Path, collectors: list[Collector], checkpointed: bool
) -> None:
    """A rephrase that spans a kill -9 is still found: the state is restored from its last
    checkpoint and the ingest-log records after it are replayed through it."""
    interval = "0.3" if checkpointed else "600"
    env = {"TRACESIEVE_PROCESSORS__SESSIONS__CHECKPOINT_INTERVAL_S": interval}
    first = Collector(tmp_path / "data", env=env)
    collectors.append(first)
    first.start()
    refused = _turn(
        tmp_path,
        "t1",
        11,
        "s-kill",
        "How do I cancel my subscription?",
        "I'm sorry, but I can't help with that.",
        0,
    )
    asyncio.run(replay([refused], f"http://127.0.0.1:{first.http_port}"))
    rows = _wait_rows(first, "SELECT Signal FROM tracesieve.signals", 1)
    assert rows == [{"Signal": "refusal"}]
    if checkpointed:
        time.sleep(1.5)
        assert (tmp_path / "data" / "session-state.json").exists()
    first.kill9()

    second = Collector(tmp_path / "data", env=env)
    collectors.append(second)
    second.start()
    again = _turn(
        tmp_path,
        "t2",
        12,
        "s-kill",
        "How can I cancel my subscription plan?",
        "Go to Settings > Billing.",
        40,
    )
    asyncio.run(replay([again], f"http://127.0.0.1:{second.http_port}"))
    sql = "SELECT TraceId, Signal FROM tracesieve.signals FINAL ORDER BY Signal"
    rows = _wait_rows(second, sql, 2)
    assert rows == [
        {"TraceId": f"{11:032x}", "Signal": "refusal"},
        {"TraceId": f"{11:032x}", "Signal": "rephrase"},
    ]
    assert second.stop() == 0
    assert second.query("SELECT count() AS n FROM tracesieve.signals FINAL") == [{"n": 2}]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(child) for child in f.read().split()]
    return found


def _gone(pid: int, timeout_s: float = 10.0) -> bool:
    for _attempt in range(int(timeout_s / 0.05)):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":  # exited, not yet reaped
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_analysis_worker_death_stops_the_collector_and_a_restart_loses_nothing(
    tmp_path: Path, collectors: list[Collector]
) -> None:
    """The detectors run in a worker process: if it dies, the collector stops with status 70
    (for its supervisor to restart it) rather than go on without signals, and the restart
    replays the turns the worker had seen through a fresh state."""
    env = {"TRACESIEVE_PROCESSORS__SESSIONS__CHECKPOINT_INTERVAL_S": "600"}
    first = Collector(tmp_path / "data", env=env)
    collectors.append(first)
    first.start()
    assert first.proc is not None
    (worker,) = _children(first.proc.pid)
    refused = _turn(
        tmp_path, "t1", 21, "s-worker", "How do I cancel my subscription?",
        "I'm sorry, but I can't help with that.", 0,
    )  # fmt: skip
    asyncio.run(replay([refused], f"http://127.0.0.1:{first.http_port}"))
    assert _wait_rows(first, "SELECT Signal FROM tracesieve.signals", 1) == [{"Signal": "refusal"}]

    os.kill(worker, signal.SIGKILL)
    assert first.proc.wait(60) == 70
    assert "analysis worker exited" in first.log.read_text()

    second = Collector(tmp_path / "data", env=env)
    collectors.append(second)
    second.start()
    again = _turn(
        tmp_path, "t2", 22, "s-worker", "How can I cancel my subscription plan?",
        "Go to Settings > Billing.", 40,
    )  # fmt: skip
    asyncio.run(replay([again], f"http://127.0.0.1:{second.http_port}"))
    sql = "SELECT TraceId, Signal FROM tracesieve.signals FINAL ORDER BY Signal"
    assert _wait_rows(second, sql, 2) == [
        {"TraceId": f"{21:032x}", "Signal": "refusal"},
        {"TraceId": f"{21:032x}", "Signal": "rephrase"},
    ]
    assert second.stop() == 0


def test_the_analysis_worker_does_not_outlive_a_killed_collector(
    tmp_path: Path, collectors: list[Collector]
) -> None:
    collector = Collector(tmp_path / "data")
    collectors.append(collector)
    collector.start()
    assert collector.proc is not None
    (worker,) = _children(collector.proc.pid)
    collector.kill9()
    # Its stdin closes with the collector: it exits rather than linger as an orphan.
    assert _gone(worker)
