#!/usr/bin/env python3
"""Run one fuzz target of ``tests/fuzz`` with atheris for a bounded time and report on it.

    python scripts/fuzz.py --seconds 600 http        # or grpc, decoder
    python scripts/fuzz.py --seconds 20 --json decoder

The seeds (reference captures and bent valid requests) are written to ``WORKDIR/seeds``; new
inputs libFuzzer keeps go to ``WORKDIR/corpus`` (kept between runs) and the inputs that crash
or hang to ``WORKDIR/artifacts``. A crash or hang ends a libFuzzer process; the runner then
starts another on the same corpus until the time is spent, so one run can report several.
Prints executions, crashes, hangs and the corpus size (with ``--json``: one JSON object as the
last line). Exit status: 0 when nothing was found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_NAMES = ("http", "grpc", "decoder")
_EXECS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_DONE = re.compile(r"^(?:Done (\d+) runs in|stat::number_of_executed_units: (\d+))", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_ERROR_LINE = re.compile(r"^[\w.]+(?:Error|Exception|Warning)\b")


@dataclass
class Summary:
    target: str
    seconds: float
    executions: int = 0
    crashes: int = 0
    hangs: int = 0
    corpus_size: int = 0
    seeds: int = 0
    processes: int = 0
    findings: list[str] = field(default_factory=list)  # artifact path and first error line


def _write_seeds(target_name: str, seeds_dir: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.targets import TARGETS

    seeds_dir.mkdir(parents=True, exist_ok=True)
    for old in seeds_dir.iterdir():
        old.unlink()
    count = 0
    for seed in TARGETS[target_name]().seeds():
        (seeds_dir / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        count += 1
    return count


def _classify(output: str) -> tuple[str, str]:
    """(``"hang"`` or ``"crash"``, the line saying what happened) of a libFuzzer run that failed."""
    kind = "hang" if "FuzzHang" in output or "libFuzzer: timeout" in output else "crash"
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "FuzzCrash:" in line or "FuzzHang:" in line or "ERROR: libFuzzer" in line:
            said = line.strip()
            if said.endswith(":"):  # "error logged by the server:": add what was logged, and why
                errors = [x.strip() for x in lines[i + 1 : i + 80] if _ERROR_LINE.match(x)]
                said = " ".join([said, lines[i + 1].strip(), *errors[:1]]) if i + 1 < len(lines) else said
            return kind, said[:400]
    return kind, "(see the log)"


def run(args: argparse.Namespace) -> Summary:
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tracesieve-fuzz" / args.target)
    seeds_dir, corpus_dir, artifacts = workdir / "seeds", workdir / "corpus", workdir / "artifacts"
    for folder in (corpus_dir, artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    summary = Summary(args.target, args.seconds, seeds=_write_seeds(args.target, seeds_dir))
    end = time.monotonic() + args.seconds
    seen: set[str] = set()
    while (left := end - time.monotonic()) >= 1:
        summary.processes += 1
        log_path = workdir / f"libfuzzer-{summary.processes}.log"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            args.target,
            f"-max_total_time={int(left)}",
            f"-timeout={args.timeout_s}",
            f"-max_len={args.max_len}",
            "-rss_limit_mb=4096",
            f"-artifact_prefix={artifacts}/",
            "-print_final_stats=1",
            str(corpus_dir),
            str(seeds_dir),
        ]
        with log_path.open("w") as log:
            try:
                # Start-up (imports, servers, loading the corpus) comes on top of the fuzzing time.
                rc = subprocess.run(
                    command, stdout=log, stderr=subprocess.STDOUT, timeout=left + 120
                ).returncode
            except subprocess.TimeoutExpired:
                rc = -1
                log.write("\nFuzzHang: the libFuzzer process outlived its time by 120 s\n")
        output = log_path.read_text(errors="replace")
        done = [int(a or b) for a, b in _DONE.findall(output)]
        execs = [int(n) for n in _EXECS.findall(output)]
        summary.executions += max(done + execs + [0])
        if rc != 0:
            kind, line = _classify(output)
            if kind == "hang":
                summary.hangs += 1
            else:
                summary.crashes += 1
            written = _ARTIFACT.findall(output)
            summary.findings.append(f"{kind}: {line} [{written[-1] if written else log_path}]")
            if rc == -1 or not written or written[-1] in seen:
                break  # not a finding libFuzzer can step past (a seed crashes, say); do not spin
            seen.add(written[-1])
    summary.corpus_size = sum(1 for _ in corpus_dir.iterdir())
    return summary


def child(target_name: str, libfuzzer_args: list[str]) -> None:
    import atheris

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["tracesieve"]):  # type: ignore[attr-defined]
        from tests.fuzz.targets import TARGETS

        target = TARGETS[target_name]()
    target.setup()

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        return target.mutate(data, max_size, seed, atheris.Mutate)

    atheris.Setup([sys.argv[0], *libfuzzer_args], target.one_input, custom_mutator=mutator)
    atheris.Fuzz()


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        os.environ.setdefault("PYTHONHASHSEED", "0")
        child(sys.argv[2], sys.argv[3:])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", choices=TARGET_NAMES)
    parser.add_argument("--seconds", type=float, default=60.0, help="fuzzing time (start-up excluded)")
    parser.add_argument(
        "--workdir", help="seeds, corpus and artifacts (default: $TMPDIR/tracesieve-fuzz/TARGET)"
    )
    parser.add_argument("--timeout-s", type=int, default=30, help="libFuzzer's per-input time limit")
    parser.add_argument("--max-len", type=int, default=262_144, help="largest input libFuzzer makes")
    parser.add_argument("--json", action="store_true", help="end with the summary as one JSON line")
    args = parser.parse_args()
    summary = run(args)
    print(f"target       {summary.target}")
    print(f"seconds      {summary.seconds:g} ({summary.processes} libFuzzer process(es))")
    print(f"executions   {summary.executions}")
    print(f"crashes      {summary.crashes}")
    print(f"hangs        {summary.hangs}")
    print(f"corpus size  {summary.corpus_size} (+ {summary.seeds} seeds)")
    for finding in summary.findings:
        print(f"  {finding}")
    if args.json:
        print(json.dumps(asdict(summary)))
    return 1 if summary.crashes or summary.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
