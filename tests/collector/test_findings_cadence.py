"""The analysis's findings writer: signals every 0.2 s at most, flagged rows once a second at most
(the latest row of each turn), and each batch's future resolved only once all of it is written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tracesieve.collector.analysis import Analysis
from tracesieve.collector.config import Config
from tracesieve.collector.contracts import Feedback, FlaggedSpan, Signal, SpanRef
from tracesieve.processors.sessions import Findings

T = 1_700_000_000 * 10**9


class RecordingStore:
    """What the analysis writes, and when (monotonic seconds)."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, list[str], list[tuple[str, list[str]]]]] = []

    async def write_findings(
        self,
        signals: list[Signal],
        flagged: list[FlaggedSpan],
        feedback: list[tuple[Feedback, SpanRef | None]],
    ) -> None:
        self.writes.append(
            (time.monotonic(), [s.span_id for s in signals], [(f.span_id, f.signals) for f in flagged])
        )

    async def find_feedback_target(self, item: Feedback) -> None:
        return None

    async def load_pending_feedback(self, since_ns: int, limit: int) -> list[Feedback]:
        return []


def _signal(span: str, name: str) -> Signal:
    return Signal(name, "unhelpful_answer", 0.9, {}, "s1", "t" * 32, span, T, "bot")


def _flagged(span: str, signals: list[str]) -> FlaggedSpan:
    return FlaggedSpan(T, "s1", "t" * 32, span, 0.9, signals, ["unhelpful_answer"], {})


def _analysis(tmp_path: Path, store: RecordingStore) -> Analysis:
    config = Config.model_validate({"service": {"analysis_worker": False}})
    return Analysis(config, store, tmp_path, stored_mark=lambda: 0, limit_checkpoint=lambda seq: None)


async def test_flagged_rows_wait_for_their_cadence_and_only_the_latest_row_of_a_turn_goes(
    tmp_path: Path,
) -> None:
    store = RecordingStore()
    analysis = _analysis(tmp_path, store)
    start = time.monotonic()
    first = analysis._write(Findings(signals=[_signal("a", "refusal")], flagged=[_flagged("a", ["refusal"])]))
    assert first is not None
    await first  # nothing written yet this second: signals and the flagged row go at once
    second = analysis._write(Findings(signals=[_signal("b", "rephrase")], flagged=[_flagged("a", ["r"])]))
    third = analysis._write(Findings(signals=[_signal("c", "error")]))
    fourth = analysis._write(Findings(flagged=[_flagged("a", ["refusal", "rephrase", "error"])]))
    assert second is not None and third is not None and fourth is not None
    await third  # signals alone: on the signals' cadence
    assert not second.done() and not fourth.done()  # their flagged row waits for its own
    await asyncio.gather(second, fourth)
    times = [at - start for at, _, _ in store.writes]
    assert [(signals, flagged) for _, signals, flagged in store.writes] == [
        (["a"], [("a", ["refusal"])]),
        (["b", "c"], []),
        ([], [("a", ["refusal", "rephrase", "error"])]),  # the latest row of the turn only
    ]
    assert times[1] < 0.5 and times[2] >= 0.95


async def test_settle_writes_the_waiting_flagged_rows_without_waiting_for_the_cadence(
    tmp_path: Path,
) -> None:
    store = RecordingStore()
    analysis = _analysis(tmp_path, store)
    await analysis.start(0)
    first = analysis._write(Findings(flagged=[_flagged("a", ["refusal"])]))
    assert first is not None
    await first
    start = time.monotonic()
    pending = analysis._write(Findings(flagged=[_flagged("b", ["rephrase"])]))
    assert pending is not None
    await analysis.settle()
    await pending
    assert time.monotonic() - start < 0.6
    assert [flagged for _, _, flagged in store.writes] == [[("a", ["refusal"])], [("b", ["rephrase"])]]
    await analysis.aclose(asyncio.get_running_loop().time() + 5)
