"""A real Kafka 4.x broker for tests, driven through ``scripts/kafka.sh``.

``KafkaBroker(dir, port)`` is one single-node KRaft broker (broker and controller in one JVM) whose
topics, offsets and logs live under ``dir``. ``start()`` returns once the broker answers metadata
requests on ``bootstrap``; ``stop()`` shuts it down cleanly (SIGTERM, SIGKILL after 30 s);
``kill()`` SIGKILLs it; ``restart()`` is ``stop()`` then ``start()``. The port and the data stay
the same across restarts, so clients keep their bootstrap address and nothing acked is lost.

The methods block (a start takes seconds): from async code call them through
``asyncio.to_thread`` so that the clients on the loop keep running. A broker started here stops by
itself when the process that started it dies (the script's ``KAFKA_WATCH_PID``), so an aborted
test run leaves no broker behind.

Example::

    install()
    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()  # then connect to broker.bootstrap, e.g. "127.0.0.1:40123"
    broker.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(*args: str) -> str:
    """Runs ``kafka.sh ARGS``; returns its stdout, raises with its stderr (the log tail) if it fails."""
    env = {**os.environ, "KAFKA_WATCH_PID": str(os.getpid())}
    env.setdefault("PYTHON", sys.executable)
    done = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kafka.sh {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.strip()


def install() -> None:
    """Copies the broker's jars into the cache (``kafka.sh install``); returns at once when cached."""
    _run("install")


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (the broker is not our child: nobody may reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class KafkaBroker:
    """One single-node Kafka broker in ``dir`` on ``127.0.0.1:port`` (a free port when None)."""

    def __init__(self, dir: Path, port: int | None = None) -> None:
        self.dir = dir
        self.port = port if port is not None else free_port()
        self.last_start_s: float | None = None  # how long the last start() took

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:port"``: the ``bootstrap_servers`` of clients."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Formats ``dir`` on first use, starts the broker and returns once it answers."""
        started = time.monotonic()
        _run("start", str(self.dir), str(self.port))
        self.last_start_s = time.monotonic() - started

    def stop(self) -> None:
        """Clean shutdown (SIGTERM; SIGKILL after 30 s); a no-op when it is not running."""
        _run("stop", str(self.dir))

    def kill(self) -> None:
        """SIGKILL, as a crash would; returns once the process is gone."""
        pid_file = self.dir / "broker.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            if not _alive(pid):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the broker (pid {pid}) outlived SIGKILL by 10 s")
        pid_file.unlink()

    def restart(self) -> None:
        """``stop()`` then ``start()``: the same port, the same data."""
        self.stop()
        self.start()

    def running(self) -> bool:
        """Whether the broker process of ``dir`` is alive (``kafka.sh status``)."""
        done = subprocess.run(
            ["bash", str(SCRIPT), "status", str(self.dir)], capture_output=True, check=False
        )
        return done.returncode == 0
