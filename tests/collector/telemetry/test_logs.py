"""``service.log_format: json``: one JSON object a line, with the fields a log pipeline keys on."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from tracesieve.collector.config import load_config
from tracesieve.collector.telemetry.logs import JsonFormatter


def _record(
    logger: str, level: int, msg: str, *args: Any, exc: bool = False, **extra: Any
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord(logger, level, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)  # as logging does with extra=
    return record


def test_a_json_line_carries_ts_level_logger_component_msg_exc_and_extras() -> None:
    formatter = JsonFormatter("processor")
    record = _record(
        "tracesieve.x", logging.WARNING, "store write failed (attempt %d)", 3, exc=True, attempt=3
    )
    record.created = 1_700_000_000.25  # the record's own time is what the line carries
    line = formatter.format(record)
    assert "\n" not in line  # the traceback too stays on the one line
    data = orjson.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "tracesieve.x"
    assert data["component"] == "processor"
    assert data["msg"] == "store write failed (attempt 3)"
    assert data["attempt"] == 3
    assert data["exc"].startswith("Traceback") and "ValueError: boom" in data["exc"]
    ts = dt.datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))  # RFC 3339
    assert ts.tzinfo is not None and ts.timestamp() == 1_700_000_000.25
    # A component passed in extra= names the stage; values JSON cannot hold are written as repr.
    data = orjson.loads(formatter.format(_record("t", logging.INFO, "hi", component="sink", obj=object())))
    assert data["component"] == "sink" and data["obj"].startswith("<object object")
    assert "exc" not in data


def test_log_format_is_set_from_the_environment() -> None:
    config = load_config(None, environ={"TRACESIEVE_SERVICE__LOG_FORMAT": "json"})
    assert config.service.log_format == "json"
    assert load_config(None, environ={}).service.log_format == "text"


def test_tracesieve_run_writes_json_lines(tmp_path: Path) -> None:
    env = {**os.environ, "TRACESIEVE_SERVICE__LOG_FORMAT": "json", "TRACESIEVE_SERVICE__LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "tracesieve.collector.cli", "run", "--data-dir", str(tmp_path / "data"),
            "--grpc-port", "0", "--http-port", "0", "--admin-port", "0",
        ],
        stderr=subprocess.PIPE,
        env=env,
    )  # fmt: skip
    lines: list[dict[str, Any]] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        while deadline > time.monotonic():
            raw = process.stderr.readline()
            if not raw:
                break
            if raw.startswith(b"{"):
                lines.append(orjson.loads(raw))
                if "tracesieve running" in lines[-1]["msg"]:
                    break
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    running = [line for line in lines if "tracesieve running" in line["msg"]]
    assert running, lines
    assert running[0]["component"] == "all" and running[0]["logger"] == "tracesieve.collector.service"
    assert {"ts", "level", "logger", "component", "msg"} <= set(running[0])
    # Every log line is JSON (the lines that are not are the CLI's own console output).
    assert all(set(line) >= {"ts", "level", "logger", "component", "msg"} for line in lines)
