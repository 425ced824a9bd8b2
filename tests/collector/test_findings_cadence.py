"""The analysis's findings writer: signals on their 0.2 s linger, flagged rows on a cadence of
their own (the latest row of each turn), and each batch's future resolved only once all of it
is written. The flagged cadence is set to a minute here, so that which write carries a row
depends on the writer's rules and never on how fast the machine runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tracesieve.collector import analysis as analysis_module
from tracesieve.collector.analysis import Analysis
from tracesieve.collector.config import Config
from tracesieve.collector.contracts import Feedback, FlaggedSpan, Signal, SpanRef
from tracesieve.processors.sessions import Findings
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig
from tracesieve.sinks.clickhouse.sink import ClickHouseSink

T = 1_700_000_000 * 10**9


class RecordingSink:
    """The real chDB sink, and what each of its findings writes carried:
    (signal span ids, [(flagged span, its signals)])."""

    def __init__(self, sink: ClickHouseSink) -> None:
        self.sink = sink
        self.writes: list[tuple[list[str], list[tuple[str, list[str]]]]] = []

    async def write_findings(
        self,
        signals: list[Signal],
        flagged: list[FlaggedSpan],
        feedback: list[tuple[Feedback, SpanRef | None]],
    ) -> None:
        self.writes.append(([s.span_id for s in signals], [(f.span_id, f.signals) for f in flagged]))
        await self.sink.write_findings(signals, flagged, feedback)

    def __getattr__(self, name: str) -> Any:  # lookups, pending feedback: the sink's own
        return getattr(self.sink, name)


def _signal(span: str, name: str) -> Signal:
    return Signal(name, "unhelpful_answer", 0.9, {}, "s1", "t" * 32, span, T, "bot")


def _flagged(span: str, signals: list[str]) -> FlaggedSpan:
    return FlaggedSpan(T, "s1", "t" * 32, span, 0.9, signals, ["unhelpful_answer"], {})


@pytest.fixture
async def analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chdb_dsn: str, database_name: str
) -> AsyncIterator[tuple[Analysis, RecordingSink]]:
    monkeypatch.setattr(analysis_module, "_FLAGGED_LINGER_S", 60.0)
    sink = ClickHouseSink(ClickHouseSinkConfig(dsn=chdb_dsn, database=database_name))
    await sink.start()
    store = RecordingSink(sink)
    config = Config.model_validate({"service": {"analysis_worker": False}})
    yield Analysis(config, store, tmp_path, stored_mark=lambda: 0, limit_checkpoint=lambda seq: None), store
    await sink.aclose(time.monotonic() + 30)


async def _stored_flagged(store: RecordingSink) -> list[tuple[str, list[str]]]:
    result = await store.sink.query("SELECT SpanId, Signals FROM flagged_spans FINAL ORDER BY SpanId")
    return [(row[0], list(row[1])) for row in result[1]]


async def test_flagged_rows_wait_for_their_cadence_and_only_the_latest_row_of_a_turn_goes(
    analysis: tuple[Analysis, RecordingSink],
) -> None:
    writer, store = analysis
    first = writer._write(Findings(signals=[_signal("a", "refusal")], flagged=[_flagged("a", ["refusal"])]))
    assert first is not None
    await first  # the first flagged rows go at once, with the signals
    second = writer._write(Findings(signals=[_signal("b", "rephrase")], flagged=[_flagged("a", ["r"])]))
    third = writer._write(Findings(signals=[_signal("c", "error")]))
    fourth = writer._write(Findings(flagged=[_flagged("a", ["refusal", "rephrase", "error"])]))
    assert second is not None and third is not None and fourth is not None
    await third  # signals alone: on the signals' linger
    assert store.writes == [(["a"], [("a", ["refusal"])]), (["b", "c"], [])]
    assert not second.done() and not fourth.done()  # their flagged row waits for its cadence
    writer._write_flagged_soon()
    await asyncio.gather(second, fourth)
    assert store.writes[2:] == [([], [("a", ["refusal", "rephrase", "error"])])]  # the latest row only
    assert await _stored_flagged(store) == [("a", ["refusal", "rephrase", "error"])]


async def test_settle_writes_the_waiting_flagged_rows_without_waiting_for_the_cadence(
    analysis: tuple[Analysis, RecordingSink],
) -> None:
    writer, store = analysis
    await writer.start(0)
    first = writer._write(Findings(flagged=[_flagged("a", ["refusal"])]))
    assert first is not None
    await first
    pending = writer._write(Findings(flagged=[_flagged("b", ["rephrase"])]))
    assert pending is not None
    await writer.settle()  # with a minute's cadence, only settle's request can write it now
    await pending
    assert [flagged for _, flagged in store.writes] == [[("a", ["refusal"])], [("b", ["rephrase"])]]
    assert await _stored_flagged(store) == [("a", ["refusal"]), ("b", ["rephrase"])]
    await writer.aclose(asyncio.get_running_loop().time() + 5)
