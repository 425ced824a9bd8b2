"""The ingest log: durable appends, checkpoint, replay after a crash, torn tails, the size bound."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from tracesieve.collector.errors import OverloadedError
from tracesieve.collector.ingest_log import KIND_LOGS, KIND_TRACES, RECORD_OVERHEAD_BYTES, IngestLog


async def _open(directory: Path, **kwargs: object) -> tuple[IngestLog, list[object]]:
    log = IngestLog(directory, max_bytes=int(kwargs.pop("max_bytes", 1 << 20)), **kwargs)  # type: ignore[arg-type]
    replay = log.open()
    await log.start()
    return log, list(replay)


async def test_appends_are_replayed_until_checkpointed(tmp_path: Path) -> None:
    log, replay = await _open(tmp_path)
    assert replay == []
    seqs = await asyncio.gather(*(log.append(KIND_TRACES, f"req-{i}".encode()) for i in range(5)))
    assert sorted(seqs) == [1, 2, 3, 4, 5]
    log.mark_stored(2, 0)
    await log.aclose(time.monotonic() + 5)

    log2, replay2 = await _open(tmp_path)
    assert [(r.seq, r.payload) for r in replay2] == [(3, b"req-2"), (4, b"req-3"), (5, b"req-4")]  # type: ignore[attr-defined]
    assert await log2.append(KIND_LOGS, b"next") == 6  # numbering goes on after a restart
    await log2.aclose(time.monotonic() + 5)


async def test_torn_tail_is_dropped_and_later_records_stay_readable(tmp_path: Path) -> None:
    log, _ = await _open(tmp_path)
    await log.append(KIND_TRACES, b"whole")
    await log.aclose(time.monotonic() + 5)
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as f:
        f.write(b"\x10\x00\x00\x00garbage")  # a record whose write never completed

    log2, replay = await _open(tmp_path)
    assert [r.payload for r in replay] == [b"whole"]  # type: ignore[attr-defined]
    await log2.append(KIND_TRACES, b"after")
    await log2.aclose(time.monotonic() + 5)
    _log3, replay3 = await _open(tmp_path)
    assert [r.payload for r in replay3] == [b"whole", b"after"]  # type: ignore[attr-defined]
    await _log3.aclose(time.monotonic() + 5)


async def test_full_log_refuses_with_a_retryable_error(tmp_path: Path) -> None:
    log, _ = await _open(tmp_path, max_bytes=100)
    await log.append(KIND_TRACES, b"x" * 60)
    with pytest.raises(OverloadedError):
        await log.append(KIND_TRACES, b"y" * 60)
    log.mark_stored(1, 60 + RECORD_OVERHEAD_BYTES)  # storing frees room
    assert await log.append(KIND_TRACES, b"y" * 60) == 2
    await log.aclose(time.monotonic() + 5)


async def test_stored_segments_are_deleted(tmp_path: Path) -> None:
    log, _ = await _open(tmp_path, segment_bytes=64)
    for i in range(10):
        await log.append(KIND_TRACES, bytes(40) + bytes([i]))
    assert len(list(tmp_path.glob("*.seg"))) >= 5
    log.mark_stored(10, 0)
    for _ in range(100):  # the writer task writes the checkpoint and drops segments shortly after
        if len(list(tmp_path.glob("*.seg"))) == 1:
            break
        await asyncio.sleep(0.02)
    assert len(list(tmp_path.glob("*.seg"))) == 1
    assert (tmp_path / "checkpoint").read_text() == "10"
    await log.aclose(time.monotonic() + 5)
    _log2, replay = await _open(tmp_path)
    assert replay == []
    await _log2.aclose(time.monotonic() + 5)
