"""The draw through the real store: flagged rows written by the collector's own sink, the
batch stored in ``review_batches`` in one INSERT, its files written, and a rerun giving it back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.ids import review_case_id
from tracesieve.evals.sampling.batch import BATCH_COLUMNS, load_batch
from tracesieve.evals.sampling.files import write_batch_files
from tracesieve.evals.sampling.sampler import NothingToSample, SampleSettings, sample_week
from tracesieve.evals.sampling.scan import scan_week
from tracesieve.evals.store import DirectEvalStore
from tracesieve.processors.sampling import FlaggedTurn

from .conftest import Writer
from .traffic import CATEGORY_SIZES, Week

SETTINGS = SampleSettings(size=15, seed=0, reservoir_size=120, sketch_size=16384, max_examples=3)


@pytest.fixture
async def store(
    chdb_dsn: str, database_name: str, write_findings: Writer, week_traffic: Week
) -> AsyncIterator[DirectEvalStore]:
    await write_findings([], week_traffic.earlier)  # older versions first, as the stream writes them
    await write_findings(week_traffic.signals, week_traffic.flagged)
    store = DirectEvalStore(chdb_dsn, database_name)
    await store.open()
    try:
        yield store
    finally:
        await store.aclose()


async def test_the_scan_equals_the_live_reservoirs(store: DirectEvalStore, week_traffic: Week) -> None:
    live = SETTINGS.new_sample()
    for row in week_traffic.versions():
        live.offer(FlaggedTurn.from_flagged(row))
    scanned = await scan_week(store, week_traffic.week, SETTINGS.new_sample())
    assert scanned.state() == live.state()
    assert scanned.category_counts() == live.category_counts()
    # A restart mid-week: half the rows seen live, then the week rebuilt from the store.
    restarted = SETTINGS.new_sample()
    for row in week_traffic.flagged[: len(week_traffic.flagged) // 2]:
        restarted.offer(FlaggedTurn.from_flagged(row))
    await scan_week(store, week_traffic.week, restarted)
    assert restarted.state() == live.state()


async def test_draw_stores_the_batch_and_writes_its_files(
    store: DirectEvalStore, week_traffic: Week, tmp_path: Path
) -> None:
    outcome = await sample_week(store, week_traffic.week, SETTINGS)
    assert outcome.created
    batch = outcome.batch
    assert batch.batch_id.startswith(f"{week_traffic.week}-")
    assert len(batch.rows) == 15
    assert {r["Category"] for r in batch.rows} == set(CATEGORY_SIZES)
    assert len({r["SessionId"] for r in batch.rows}) == 15
    # Stored as drawn, read back identically.
    stored = await load_batch(store, batch.batch_id)
    assert stored.rows == batch.rows
    assert [r["Position"] for r in stored.rows] == list(range(1, 16))
    parts = await store.select(
        "SELECT count() AS parts FROM system.parts "
        "WHERE database = currentDatabase() AND table = 'review_batches' AND active"
    )
    assert parts == [{"parts": 1}]  # one INSERT
    # Each case carries the turn, its context, signals with evidence, and the documents.
    by_trace = {r.trace_id: r for r in week_traffic.flagged}
    for row in batch.rows:
        source = by_trace[row["TraceId"]]
        assert row["CaseId"] == review_case_id(row["TraceId"], row["SpanId"])
        assert row["UserMessage"] == source.user_message and row["OutputText"] == source.output_text
        assert orjson.loads(row["InputMessages"]) == source.input_messages
        assert orjson.loads(row["SessionContext"]) == source.session_context
        assert orjson.loads(row["RetrievedDocuments"]) == source.retrieved_documents
        evidence = orjson.loads(row["Evidence"])
        assert list(evidence) == sorted(source.signals, key=lambda s: (-evidence[s]["score"], s))
        for item in evidence.values():
            assert item["category"] in source.categories
            assert item["span_id"] == source.span_id and item["score"] == pytest.approx(
                source.flag_score, abs=1e-3
            )
            assert item["detail"].endswith(f"evidence for turn {item['detail'].split()[-1]}")
        assert set(row) == set(BATCH_COLUMNS)
    params = batch.params
    assert (
        params["size"] == 15 and params["seed"] == 0 and params["flagged_turns"] == len(week_traffic.flagged)
    )
    assert params["category_counts"]["policy"] == 1 and params["counts_exact"] is True
    # The files: one JSONL line per case, and Markdown a reviewer can read on its own.
    jsonl, md = write_batch_files(batch, tmp_path)
    cases = [orjson.loads(line) for line in jsonl.read_text().splitlines()]
    assert [c["case_id"] for c in cases] == [r["CaseId"] for r in batch.rows]
    assert cases[0]["input_messages"][1]["role"] == "user" and cases[0]["evidence"]
    text = md.read_text()
    assert text.startswith(f"# Review batch {batch.batch_id}")
    for row in batch.rows:
        assert f"case `{row['CaseId']}`" in text
    assert "### Question" in text and "### Answer" in text and "### Signals" in text
    assert "### Retrieved documents" in text and "### Conversation before" in text


async def test_a_rerun_gives_the_stored_batch_and_new_draws_another(
    store: DirectEvalStore, week_traffic: Week, tmp_path: Path
) -> None:
    first = await sample_week(store, week_traffic.week, SETTINGS)
    again = await sample_week(store, week_traffic.week, SETTINGS)
    assert not again.created
    assert again.batch.batch_id == first.batch.batch_id and again.batch.rows == first.batch.rows
    files_first = [p.read_bytes() for p in write_batch_files(first.batch, tmp_path / "a")]
    files_again = [p.read_bytes() for p in write_batch_files(again.batch, tmp_path / "b")]
    assert files_first == files_again
    # Other settings without --new: refused, naming the batch.
    other = SampleSettings(size=12, seed=0, reservoir_size=96, sketch_size=16384, max_examples=3)
    with pytest.raises(PermanentError, match="pass --new"):
        await sample_week(store, week_traffic.week, other)
    # --new: another batch, sharing no case and no question with the first.
    extra = await sample_week(store, week_traffic.week, SETTINGS, new=True)
    assert extra.created and extra.batch.batch_id != first.batch.batch_id
    assert len(extra.batch.rows) == 15
    assert not {r["CaseId"] for r in extra.batch.rows} & {r["CaseId"] for r in first.batch.rows}
    assert extra.batch.params["ordinal"] == 2


async def test_reviewed_cases_are_never_drawn(store: DirectEvalStore, week_traffic: Week) -> None:
    # Label the cases of a first draw (as the review page would), with no batch stored.
    sample = await scan_week(store, week_traffic.week, SETTINGS.new_sample())
    from tracesieve.evals.sampling.draw import draw_batch

    reviewed = [
        review_case_id(p.candidate.turn.trace_id, p.candidate.turn.span_id) for p in draw_batch(sample, 15)
    ]
    await store.insert(
        "labels",
        [
            {"CaseId": c, "Verdict": "bad", "Reviewer": "ana", "LabelledAt": 1_700_000_000_000}
            for c in reviewed
        ],
    )
    outcome = await sample_week(store, week_traffic.week, SETTINGS)
    assert not {r["CaseId"] for r in outcome.batch.rows} & set(reviewed)
    assert {r["Category"] for r in outcome.batch.rows} >= {"negative_feedback", "retrieval"}
    assert outcome.batch.params["excluded_cases"] == 15


async def test_an_empty_week_has_nothing_to_sample(store: DirectEvalStore) -> None:
    with pytest.raises(NothingToSample, match="no flagged turns in 2026-W41"):
        await sample_week(store, "2026-W41", SETTINGS)
