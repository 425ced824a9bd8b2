"""The analysis's findings writer: signals on their 0.2 s linger, flagged rows on a cadence of
their own (the latest row of each turn), and each batch's future resolved only once all of it
is written. The flagged cadence is set to a minute here, so that which write carries a row
depends on the writer's rules and never on how fast the machine runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tracesieve.collector import analysis as analysis_module
from tracesieve.collector.analysis import Analysis
from tracesieve.collector.config import Config
from tracesieve.collector.contracts import Feedback, FlaggedSpan, Signal, SpanRef
from tracesieve.processors.sessions import Findings

T = 1_700_000_000 * 10**9


class RecordingStore:
    """What the analysis writes, one entry per write: (signal span ids, (flagged span, signals))."""

    def __init__(self) -> None:
        self.writes: list[tuple[list[str], list[tuple[str, list[str]]]]] = []

    async def write_findings(
        self,
        signals: list[Signal],
        flagged: list[FlaggedSpan],
        feedback: list[tuple[Feedback, SpanRef | None]],
    ) -> None:
        self.writes.append(([s.span_id for s in signals], [(f.span_id, f.signals) for f in flagged]))

    async def find_feedback_target(self, item: Feedback) -> None:
        return None

    async def load_pending_feedback(self, since_ns: int, limit: int) -> list[Feedback]:
        return []


def _signal(span: str, name: str) -> Signal:
    return Signal(name, "unhelpful_answer", 0.9, {}, "s1", "t" * 32, span, T, "bot")


def _flagged(span: str, signals: list[str]) -> FlaggedSpan:
    return FlaggedSpan(T, "s1", "t" * 32, span, 0.9, signals, ["unhelpful_answer"], {})


@pytest.fixture
def analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Analysis, RecordingStore]:
    monkeypatch.setattr(analysis_module, "_FLAGGED_LINGER_S", 60.0)
    store = RecordingStore()
    config = Config.model_validate({"service": {"analysis_worker": False}})
    return Analysis(config, store, tmp_path, stored_mark=lambda: 0, limit_checkpoint=lambda seq: None), store


async def test_flagged_rows_wait_for_their_cadence_and_only_the_latest_row_of_a_turn_goes(
    analysis: tuple[Analysis, RecordingStore],
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


async def test_settle_writes_the_waiting_flagged_rows_without_waiting_for_the_cadence(
    analysis: tuple[Analysis, RecordingStore],
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
    await writer.aclose(asyncio.get_running_loop().time() + 5)
