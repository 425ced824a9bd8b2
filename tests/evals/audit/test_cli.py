"""``tracesieve audit`` as a user runs it: a subprocess on a data folder of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).with_name("_seed.py")
UNTIL = "2026-03-02T00:00:00Z"


def tracesieve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracesieve.collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audit-cli")
    subprocess.run([sys.executable, str(SEED), str(folder)], check=True, timeout=120)
    return folder


def test_fail_on_gap_exits_3_and_json_names_the_gaps(data_dir: Path, tmp_path: Path) -> None:
    html = tmp_path / "report" / "audit.html"
    done = tracesieve(
        "audit",
        "--data-dir",
        str(data_dir),
        "--until",
        UNTIL,
        "--format",
        "json",
        "--fail-on-gap",
        "--html",
        str(html),
    )
    assert done.returncode == 3, done.stderr
    data = json.loads(done.stdout)
    assert data["gaps"] == ["retrieval", "<img src=x onerror=alert(1)>", "refusal"]
    assert "coverage gap: retrieval" in done.stderr
    assert html.read_text(encoding="utf-8").count("<svg") == 6


def test_no_gap_above_min_count_exits_0_and_prints_a_table(data_dir: Path) -> None:
    done = tracesieve(
        "audit", "--data-dir", str(data_dir), "--until", UNTIL, "--min-count", "9", "--fail-on-gap"
    )
    assert done.returncode == 0, done.stderr
    assert "Coverage audit" in done.stdout and "retrieval" in done.stdout and "rare" in done.stdout
    assert (
        "No failure category with at least 9 failures lacks an eval case; 3 of 4 with fewer have none."
        in (" ".join(done.stdout.split()))
    )


def test_a_bad_option_is_a_clear_error(data_dir: Path) -> None:
    done = tracesieve("audit", "--data-dir", str(data_dir), "--since", "soon")
    assert done.returncode == 1
    assert "--since 'soon'" in done.stderr
