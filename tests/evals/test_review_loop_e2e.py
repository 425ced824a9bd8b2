"""The whole review loop on a running collector, as a team would use it.

Chats that go wrong are sent through the real OpenTelemetry SDK exporters; the collector flags
their turns; ``tracesieve sample`` draws the week's batch through the collector's admin API; a
reviewer labels it through the review API; the bad labels become regression cases; the set is
exported for DeepEval and verified (also after someone deletes a case from the file); the audit
shows which categories the set covers; a judge's verdicts are calibrated against the labels.
Every CLI command runs as a subprocess against the collector's data folder, so each one goes
through the admin API exactly as it does next to ``tracesieve run``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from tracesieve.collector.config import Config
from tracesieve.collector.demo import DEMO_TURNS, drive_demo_chat, send_feedback
from tracesieve.collector.service import Service
from tracesieve.evals.sampling.weeks import week_of_ns

TOKEN = "loop-token"
SESSIONS = [f"loop-session-{i}" for i in range(4)]


@pytest.fixture
async def service(
    tmp_path: Path, chdb_dsn: str, database_name: str, make_service_config: Callable[..., Config]
) -> AsyncIterator[Service]:
    config = make_service_config(
        tmp_path,
        chdb_dsn,
        database_name,
        token=TOKEN,
        # As in `tracesieve demo`: the sessions count as abandoned after 2 s of silence.
        **{
            "processors.sessions.allowed_lateness_s": 0.5,
            "processors.sessions.idle_source_s": 0.5,
            "processors.detectors.abandoned_session.idle_s": 2,
        },
    )
    svc = Service(config)
    await svc.start()
    yield svc
    await svc.aclose()


async def cli(service: Service, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
    command = [sys.executable, "-m", "tracesieve.collector.cli", *args]
    command += ["--data-dir", str(service.data_dir), "--token", TOKEN]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=240)

    done = await asyncio.to_thread(run)  # the collector it talks to runs on this event loop
    assert done.returncode in ok, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.returncode, done.stdout


async def api(service: Service, method: str, path: str, body: Any = None) -> Any:
    assert service.admin is not None
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.admin.port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )

    def call() -> Any:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    return await asyncio.to_thread(call)


async def flagged_sessions(service: Service) -> set[str]:
    rows = await service.eval_store.select("SELECT DISTINCT SessionId FROM flagged_spans FINAL")
    return {row["SessionId"] for row in rows}


@pytest.mark.slow
async def test_flagged_turns_become_a_verified_regression_suite(service: Service, tmp_path: Path) -> None:
    assert service.grpc is not None and service.http is not None
    grpc_endpoint = f"http://127.0.0.1:{service.grpc.port}"
    http_endpoint = f"http://127.0.0.1:{service.http.port}"
    for session in SESSIONS:
        traces = await asyncio.to_thread(drive_demo_chat, grpc_endpoint, http_endpoint, DEMO_TURNS, session)
        await asyncio.to_thread(send_feedback, http_endpoint, DEMO_TURNS, traces, session)
    await service.pipeline.wait_stored()
    for _ in range(300):  # the sessions are flagged once the user has left (2 s of silence)
        if await flagged_sessions(service) == set(SESSIONS):
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail(f"flagged sessions: {await flagged_sessions(service)}")

    # The week's batch: one case per session (they are four tellings of one chat, so their
    # questions are near-duplicates too: the sampler keeps them apart only by session).
    week = week_of_ns(time.time_ns())
    _, out = await cli(service, "sample", "--week", week, "--size", "10", "--format", "json")
    batch = json.loads(out)
    cases = batch["cases"]
    assert cases and len({c["session_id"] for c in cases}) == len(cases)
    assert {c["session_id"] for c in cases} <= set(SESSIONS)
    # Drawing again gives the same batch.
    _, again = await cli(service, "sample", "--week", week, "--size", "10", "--format", "json")
    assert json.loads(again)["batch_id"] == batch["batch_id"]

    # A reviewer labels every case bad, with what a right answer says.
    stored = await api(service, "GET", f"/api/v1/review/batches/{batch['batch_id']}")
    for case in stored["cases"]:
        saved = await api(
            service,
            "POST",
            "/api/v1/review/labels",
            {
                "case_id": case["case_id"],
                "batch_id": batch["batch_id"],
                "verdict": "bad",
                "categories": [case["category"]],
                "expected": "Refunds take 5 to 7 business days from approval.",
                "criteria": "states the refund delay the policy document gives",
                "notes": "",
                "severity": "high",
                "reviewer": "e2e",
            },
        )
        assert saved["promotion"]["ok"], saved
    labelled = {c["case_id"] for c in stored["cases"]}

    # Each bad label is now a regression case, with its provenance.
    _, listed = await cli(service, "regressions", "list", "--format", "json")
    records = [c["record"] for c in json.loads(listed)]
    assert {r["review_case_id"] for r in records} == labelled
    assert all(r["reviewer"] == "e2e" and r["trace_id"] and r["severity"] == "high" for r in records)

    # Exported for DeepEval, loaded by DeepEval, verified; a case deleted from the file is named.
    suite = tmp_path / "suite" / "regressions.deepeval.json"
    await cli(
        service,
        "regressions",
        "export",
        "--format",
        "deepeval",
        "--out",
        str(suite),
        "--cover-all-categories",
    )
    from deepeval.dataset import EvaluationDataset

    dataset = EvaluationDataset()
    dataset.add_goldens_from_json_file(str(suite))
    assert len(dataset.goldens) == len(labelled)
    await cli(service, "regressions", "verify", "--file", str(suite))
    goldens = json.loads(suite.read_text())
    removed = goldens.pop(0)
    suite.write_text(json.dumps(goldens))
    _, report = await cli(service, "regressions", "verify", "--file", str(suite), "--format", "json", ok=(1,))
    assert removed["additional_metadata"]["case_id"] in report
    await cli(service, "regressions", "verify")  # the store itself is intact

    # The audit: the labelled categories are covered, the others seen in production are gaps.
    code, out = await cli(service, "audit", "--since", "2d", "--format", "json", "--fail-on-gap", ok=(0, 3))
    audit = json.loads(out)
    by_category = {c["category"]: c for c in audit["categories"]}
    covered = {c["category"] for c in cases}
    assert covered <= {name for name, c in by_category.items() if c["eval_cases"] > 0}
    assert set(audit["gaps"]) == {name for name, c in by_category.items() if c["status"] == "gap"}
    assert code == (3 if audit["gaps"] else 0)

    # A judge that passes the first case and fails the others agrees with the humans on all but one.
    verdicts = tmp_path / "judge.jsonl"
    ids = sorted(labelled)
    verdicts.write_text(
        "\n".join(
            json.dumps({"case_id": case_id, "verdict": "fine" if i == 0 else "bad", "judge": "gpt-judge"})
            for i, case_id in enumerate(ids)
        )
    )
    _, out = await cli(
        service, "calibrate", "--judge", str(verdicts), "--format", "json", "--resamples", "200"
    )
    calibration = json.loads(out)
    assert calibration["overall"]["n"] == len(ids)
    assert calibration["overall"]["agreement"] == pytest.approx((len(ids) - 1) / len(ids))
    stored_verdicts = await service.eval_store.select("SELECT count() AS n FROM judge_verdicts")
    assert stored_verdicts == [{"n": len(ids)}]
