"""The weekly schedule: drawn after the week ends (plus grace) from the live reservoirs, rebuilt
from the store after a restart mid-week (the same batch), and the catch-up on start inside a
real ``Service``. The clock is injected: nothing sleeps until Sunday."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tracesieve.collector.config import Config
from tracesieve.collector.service import Service
from tracesieve.evals.sampling.batch import list_batches
from tracesieve.evals.sampling.config import SamplingConfig
from tracesieve.evals.sampling.draw import draw_batch
from tracesieve.evals.sampling.sampler import SampleSettings, sample_week
from tracesieve.evals.sampling.scan import scan_week
from tracesieve.evals.sampling.schedule import WeeklySampler
from tracesieve.evals.sampling.weeks import last_complete_week, week_bounds_ns
from tracesieve.evals.store import AdminEvalStore, DirectEvalStore, open_eval_store
from tracesieve.processors.sampling import FlaggedTurn

from .conftest import Writer
from .traffic import Week, make_week

CONFIG = SamplingConfig(batch_size=15, seed=4, grace_s=3600)


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
async def store(chdb_dsn: str, database_name: str) -> AsyncIterator[DirectEvalStore]:
    store = DirectEvalStore(chdb_dsn, database_name)
    await store.open()
    try:
        yield store
    finally:
        await store.aclose()


def bounds_s(week: str) -> tuple[float, float]:
    start, end = week_bounds_ns(week)
    return start / 1e9, end / 1e9


async def expected_case_ids(store: DirectEvalStore, week: str) -> list[str]:
    """What a scan of the store draws (the batch must be the same whichever way it was fed)."""
    settings = SampleSettings.from_config(CONFIG)
    sample = await scan_week(store, week, settings.new_sample())
    picks = draw_batch(sample, settings.size, max_examples=settings.max_examples)
    return [p.candidate.turn.turn_id for p in picks]


def case_turns(rows: list[dict[str, object]]) -> list[str]:
    return [f"{r['TraceId']}/{r['SpanId']}" for r in rows]


async def test_the_week_is_drawn_from_the_live_reservoirs_once_due(
    store: DirectEvalStore, write_findings: Writer, week_traffic: Week, tmp_path: Path
) -> None:
    start, end = bounds_s(week_traffic.week)
    clock = Clock(start - 60)  # observing since before the week began: the live sample is whole
    sampler = WeeklySampler(CONFIG, store, tmp_path, clock=clock)
    await write_findings([], week_traffic.earlier)
    await write_findings(week_traffic.signals, week_traffic.flagged)
    clock.now_s = start + 3 * 86400
    sampler.observe(week_traffic.earlier)
    sampler.observe(week_traffic.flagged)
    assert await sampler.run_once() == []  # not due yet
    clock.now_s = end + 1800
    assert await sampler.run_once() == []  # within the grace for late spans
    clock.now_s = end + 3600
    [batch] = await sampler.run_once()
    assert batch.week == week_traffic.week and len(batch.rows) == 15 and batch.params["source"] == "schedule"
    assert case_turns(batch.rows) == await expected_case_ids(store, week_traffic.week)
    assert (tmp_path / "review-batches" / batch.week / f"{batch.batch_id}.jsonl").is_file()
    assert (tmp_path / "review-batches" / batch.week / f"{batch.batch_id}.md").is_file()
    assert week_traffic.week not in sampler.samples  # the drawn week's memory is released
    sampler.observe(week_traffic.flagged[:10])  # late rows of a drawn week are dropped
    assert week_traffic.week not in sampler.samples
    assert await sampler.run_once() == []  # drawn once
    assert len(await list_batches(store, week_traffic.week)) == 1


async def test_a_restart_mid_week_rebuilds_the_same_reservoirs_from_the_store(
    store: DirectEvalStore, write_findings: Writer, week_traffic: Week, tmp_path: Path
) -> None:
    start, end = bounds_s(week_traffic.week)
    half = len(week_traffic.flagged) // 2
    # Before the restart: half the week is in the store.
    await write_findings(week_traffic.signals, week_traffic.flagged[:half])
    clock = Clock(start + 4 * 86400)
    sampler = WeeklySampler(CONFIG, store, tmp_path, clock=clock)
    assert await sampler.run_once() == []  # starts rebuilding the week under way
    # The rest arrives live while (or after) the scan runs.
    await write_findings([], week_traffic.flagged[half:])
    sampler.observe(week_traffic.flagged[half:])
    live_only = SampleSettings.from_config(CONFIG).new_sample()
    for row in week_traffic.flagged:
        live_only.offer(FlaggedTurn.from_flagged(row))
    await asyncio.wait_for(sampler.wait_rebuilt(), 30)
    assert sampler.samples[week_traffic.week].state() == live_only.state()
    clock.now_s = end + 3600
    [batch] = await sampler.run_once()
    assert case_turns(batch.rows) == [
        p.candidate.turn.turn_id for p in draw_batch(live_only, 15, max_examples=CONFIG.cluster_examples)
    ]


async def test_catch_up_draws_the_last_complete_week_unless_it_has_a_batch(
    store: DirectEvalStore, write_findings: Writer, tmp_path: Path
) -> None:
    traffic = make_week("2026-W30", sizes={"retrieval": 40, "refusal": 6, "error": 1})
    await write_findings(traffic.signals, traffic.flagged)
    _, end = bounds_s("2026-W30")
    clock = Clock(end + 2 * 86400)  # started on the Wednesday after
    sampler = WeeklySampler(CONFIG, store, tmp_path, clock=clock)
    [batch] = await sampler.run_once()
    assert batch.week == "2026-W30" and {r["Category"] for r in batch.rows} == {
        "retrieval",
        "refusal",
        "error",
    }
    restarted = WeeklySampler(CONFIG, store, tmp_path, clock=clock)
    assert await restarted.run_once() == []


@pytest.fixture
async def service(
    tmp_path: Path, chdb_dsn: str, database_name: str, make_service_config: Callable[..., Config]
) -> AsyncIterator[Service]:
    """Not started: the test starts it once the past week's findings are written."""
    config = make_service_config(
        tmp_path, chdb_dsn, database_name, **{"evals.sampling.grace_s": 0, "evals.sampling.batch_size": 10}
    )
    svc = Service(config)
    yield svc
    await svc.aclose()


async def test_the_service_catches_up_the_last_complete_week_on_start(
    service: Service, write_findings: Writer
) -> None:
    week = last_complete_week(time.time())
    traffic = make_week(week, sizes={"negative_feedback": 60, "retrieval": 20, "truncation": 3, "policy": 1})
    await write_findings(traffic.signals, traffic.flagged)  # flagged before this collector started
    await service.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    rows: list[dict[str, object]] = []
    while not rows and loop.time() < deadline:
        rows = await service.eval_store.select(
            "SELECT BatchId, Category, SessionId FROM review_batches WHERE Week = {w:String}", {"w": week}
        )
        if not rows:
            await asyncio.sleep(0.1)
    assert len(rows) == 10
    assert {r["Category"] for r in rows} >= {"negative_feedback", "retrieval", "truncation", "policy"}
    assert len({r["SessionId"] for r in rows}) == 10
    folder = service.data_dir / "review-batches" / week
    assert (folder / f"{rows[0]['BatchId']}.md").is_file()
    # `tracesieve sample` while the collector runs goes through its admin API: the same batch;
    # and --new stores another one through the collector's store operation.
    settings = SampleSettings.from_config(service.config.evals.sampling)
    async with open_eval_store(store=None, data_dir=service.data_dir, token="s3cret") as store:
        assert isinstance(store, AdminEvalStore)
        shown = await sample_week(store, week, settings)
        assert not shown.created and shown.batch.batch_id == rows[0]["BatchId"]
        extra = await sample_week(store, week, settings, new=True)
        assert extra.created and extra.batch.batch_id != shown.batch.batch_id
    assert len(await list_batches(service.eval_store, week)) == 2
