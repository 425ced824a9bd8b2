"""CI runs every fuzzer for a bounded time: ``TRACESIEVE_FUZZ_SECONDS`` each (default 20).

Each run is ``scripts/fuzz.py`` in a subprocess (atheris takes over the process it runs in), on
a fresh corpus seeded from the reference captures; the test asserts no crash, no hang, and a
minimum number of executions, so that a fuzzer that silently stopped fuzzing fails too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .targets import TARGETS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz.py"
SECONDS = float(os.environ.get("TRACESIEVE_FUZZ_SECONDS", "20"))
# Far below what each target does here (hundreds a second on a shared 2-core machine).
MIN_EXECUTIONS_PER_S = 10


@pytest.mark.timeout(SECONDS + 240)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzzer_runs_without_a_crash_or_a_hang(target: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--seconds",
            str(SECONDS),
            "--json",
            "--workdir",
            str(tmp_path),
            target,
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 200,
        check=False,
    )
    assert run.stdout, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert (summary["crashes"], summary["hangs"]) == (0, 0), run.stdout
    assert summary["executions"] >= MIN_EXECUTIONS_PER_S * SECONDS, run.stdout
    assert summary["seeds"] > 0
    assert run.returncode == 0, run.stdout
