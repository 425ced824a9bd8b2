"""The session state on disk: ``{"seq": W, "state": snapshot}`` as JSON, written to a temporary
file and fsynced, then moved over the live file once the findings emitted before it are
written (see :mod:`.analysis`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
from tracesieve.processors.sessions import SessionProcessor

__all__ = ["STATE_FILE", "commit_snapshot", "read_snapshot", "write_snapshot"]

_log = logging.getLogger(__name__)

STATE_FILE = "session-state.json"


def write_snapshot(processor: SessionProcessor, seq: int, path: Path) -> None:
    """Write the state with its ingest-log watermark to ``path``, fsynced: ``path`` exists only
    once the whole snapshot is durable."""
    body = orjson.dumps({"seq": seq, "state": processor.snapshot()}, default=str)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def commit_snapshot(written: Path, path: Path) -> None:
    os.replace(written, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must survive a power cut
    finally:
        os.close(fd)


def read_snapshot(processor: SessionProcessor, path: Path) -> tuple[int, int] | None:
    """Restore ``processor`` from ``path``; returns (sessions, seq), or None when there is no
    usable snapshot (a bad one only costs the pair and idle signals that span the restart)."""
    if not path.exists():
        return None
    try:
        saved = orjson.loads(path.read_bytes())
        processor.restore(saved["state"])
        return processor.session_count, int(saved.get("seq", 0))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _log.warning("session state not restored from %s: %s", path, exc)
        return None
