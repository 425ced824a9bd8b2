"""``tracesieve calibrate`` as a user runs it: a subprocess on a data folder of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).with_name("_seed.py")


def tracesieve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracesieve.collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("calibrate-cli")
    verdicts = folder / "support-judge.jsonl"
    subprocess.run([sys.executable, str(SEED), str(folder / "data"), str(verdicts)], check=True, timeout=120)
    return folder / "data", verdicts


def test_import_then_calibrate_then_again_from_the_store(seeded: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, verdicts = seeded
    html = tmp_path / "calibration.html"
    done = tracesieve(
        "calibrate",
        "--judge",
        str(verdicts),
        "--data-dir",
        str(data_dir),
        "--format",
        "json",
        "--resamples",
        "100",
        "--html",
        str(html),
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["judge"], data["imported"], data["unmatched"]) == ("support-judge", 135, 5)
    assert data["overall"]["n"] == 130
    assert {u["category"] for u in data["untrusted"]} >= {"retrieval", "refusal"}
    assert html.read_text(encoding="utf-8").count("<svg") == 1 + 2 * 5 + 2

    again = tracesieve(
        "calibrate", "--from-store", "--data-dir", str(data_dir), "--format", "json", "--resamples", "100"
    )
    assert again.returncode == 0, again.stderr
    stored = json.loads(again.stdout)
    assert stored["imported"] is None
    assert {k: v for k, v in stored.items() if k != "imported"} == {
        k: v for k, v in data.items() if k != "imported"
    }


def test_errors_name_the_line_or_the_missing_labels(seeded: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, _ = seeded
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"case_id": "a", "verdict": "bad"}\n{"case_id": "b", "verdict": "maybe"}\n')
    done = tracesieve("calibrate", "--judge", str(broken), "--data-dir", str(data_dir))
    assert done.returncode == 1
    assert f"{broken}:2: verdict 'maybe' is neither bad/fail nor fine/pass" in " ".join(done.stderr.split())

    strangers = tmp_path / "strangers.jsonl"
    strangers.write_text('{"case_id": "nobody", "verdict": "bad"}\n')
    done = tracesieve("calibrate", "--judge", str(strangers), "--data-dir", str(data_dir))
    assert done.returncode == 1
    assert "no verdict of judge 'strangers' is on a case with a human bad/fine label" in " ".join(
        done.stderr.split()
    )
