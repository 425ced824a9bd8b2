"""The session processor: event-time order, pairs, timers on the watermark, bounds, snapshots,
feedback joins and scoring, with small deterministic detectors written for these tests."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest
from tracesieve.collector.contracts import KIND_LLM, KIND_RETRIEVAL, CanonicalSpan, Feedback, Signal, SpanRef
from tracesieve.processors.detectors.base import Detector, make_signal, span_ref
from tracesieve.processors.scoring import Scorer, ScoringConfig
from tracesieve.processors.sessions import SessionProcessor, SessionsConfig, TurnRecord, TurnView

S = 1_000_000_000
T0 = 1_700_000_000 * S


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class FailedSpan(Detector):
    name = "error"
    category = "error"

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        if span.status_code == "Error":
            return [make_signal(self, span_ref(span, session_id), 1.0, {"status": span.status_message})]
        return ()


class SameWords(Detector):
    """Pairs whose user messages share their last word: a stand-in for rephrase."""

    name = "rephrase"
    category = "unhelpful_answer"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def on_pair(self, earlier: TurnRecord, later: TurnRecord, distance: int) -> Sequence[Signal]:
        self.calls.append((earlier.trace_id, later.trace_id, distance))
        if earlier.user_message.split()[-1] == later.user_message.split()[-1]:
            return [make_signal(self, earlier.ref(), 0.8, {"later": later.trace_id, "distance": distance})]
        return ()


class Silence(Detector):
    name = "abandoned_session"
    category = "unhelpful_answer"

    def __init__(self, idle_s: int = 60) -> None:
        self.idle_ns = idle_s * S
        self.fired: list[str] = []

    def idle_deadline_ns(self, last: TurnRecord) -> int | None:
        return last.end_ns + self.idle_ns

    def on_idle(self, last: TurnRecord) -> Sequence[Signal]:
        self.fired.append(last.trace_id)
        if last.signals:
            return [make_signal(self, last.ref(), 0.9, {"weak": sorted(last.signals)})]
        return ()


class Grounding(Detector):
    name = "ungrounded_answer"
    category = "hallucination"

    def __init__(self) -> None:
        self.views: list[TurnView] = []

    def on_turn(self, turn: TurnView) -> Sequence[Signal]:
        self.views.append(turn)
        return ()


class Thumbs(Detector):
    name = "negative_feedback"
    category = "negative_feedback"

    def on_feedback(self, feedback: Feedback, target: SpanRef) -> Sequence[Signal]:
        if feedback.thumbs == "down":
            return [make_signal(self, target, 1.0, {"feedback_id": feedback.feedback_id})]
        return ()


def llm(trace: str, n: int, user: str, *, session: str = "s1", at_s: float = 0, answer: str = "ok",
        error: bool = False, user_id: str = "", response_id: str = "") -> CanonicalSpan:  # fmt: skip
    start = T0 + int(at_s * S)
    return CanonicalSpan(
        trace_id=trace,
        span_id=f"{n:016x}",
        parent_span_id="",
        name="chat",
        start_ns=start,
        end_ns=start + S,
        kind=KIND_LLM,
        session_id=session,
        user_id=user_id,
        input_messages=[{"role": "user", "content": user}],
        output_text=answer,
        status_code="Error" if error else "Unset",
        response_id=response_id,
    )


def make(
    detectors: Sequence[Detector], clock: Clock, threshold: float = 0.5, **cfg: object
) -> SessionProcessor:
    return SessionProcessor(
        SessionsConfig(**cfg),  # type: ignore[arg-type]
        detectors,
        Scorer(ScoringConfig(flag_threshold=threshold)),
        wall_ns=clock,
    )


def test_turns_are_ordered_by_event_time_whatever_the_arrival_order() -> None:
    clock = Clock(T0 + 3600 * S)
    pairs = SameWords()
    proc = make([pairs], clock)
    proc.process([llm("c" * 32, 3, "gamma", at_s=120)])
    proc.process([llm("a" * 32, 1, "alpha", at_s=0)])
    proc.process([llm("b" * 32, 2, "beta", at_s=60)])
    session = proc._sessions["s1"]
    assert [t.record.trace_id[0] for t in session.turns] == ["a", "b", "c"]
    assert [t.record.index for t in session.turns] == [0, 1, 2]
    # Pairs are compared as soon as both turns are known (a, c looked adjacent before b came);
    # the late turn is then compared with its neighbours, at the event-time distances.
    assert pairs.calls == [
        ("a" * 32, "c" * 32, 1),
        ("a" * 32, "b" * 32, 1),
        ("b" * 32, "c" * 32, 1),
        ("a" * 32, "c" * 32, 2),
    ]


def test_pair_signal_lands_on_the_earlier_turn_and_flags_it() -> None:
    clock = Clock(T0 + 3600 * S)
    proc = make([SameWords()], clock)
    proc.process([llm("a" * 32, 1, "what is the refund policy", at_s=0)])
    found = proc.process([llm("b" * 32, 2, "tell me about the policy", at_s=30)])
    assert [(s.signal, s.trace_id, s.span_id) for s in found.signals] == [("rephrase", "a" * 32, f"{1:016x}")]
    assert found.signals[0].evidence == {"later": "b" * 32, "distance": 1}
    [flag] = found.flagged
    assert (flag.trace_id, flag.span_id, flag.signals) == ("a" * 32, f"{1:016x}", ["rephrase"])
    assert flag.flag_score == pytest.approx(0.8)
    assert flag.user_message == "what is the refund policy"


def test_pairs_further_than_two_user_turns_apart_are_not_compared() -> None:
    clock = Clock(T0 + 3600 * S)
    pairs = SameWords()
    proc = make([pairs], clock)
    for i, word in enumerate(["x", "y", "z", "x"]):
        proc.process([llm(f"{i:032x}", i + 1, f"about {word}", at_s=i * 10)])
    assert (f"{0:032x}", f"{3:032x}", 3) not in pairs.calls
    assert all(distance <= 2 for _, _, distance in pairs.calls)


def test_idle_timer_fires_on_the_watermark_not_before() -> None:
    clock = Clock(T0 + 10 * S)
    silence = Silence(idle_s=60)
    proc = make([FailedSpan(), silence], clock, allowed_lateness_s=5, idle_source_s=1000)
    proc.process([llm("a" * 32, 1, "hi", at_s=0, error=True)])
    assert proc.advance().signals == []
    # Another session's span moves event time to 64 s: watermark 59 s < deadline 61 s.
    clock.now = T0 + 70 * S
    proc.observe_time(T0 + 64 * S)
    assert proc.advance().signals == []
    proc.observe_time(T0 + 67 * S)  # watermark 62 s ≥ 61 s
    found = proc.advance()
    assert [(s.signal, s.trace_id) for s in found.signals] == [("abandoned_session", "a" * 32)]
    assert found.signals[0].evidence == {"weak": ["error"]}
    assert [f.signals for f in found.flagged] == [["abandoned_session", "error"]]
    assert proc.advance().signals == []  # once


def test_idle_source_fallback_fires_timers_on_a_quiet_stream() -> None:
    clock = Clock(T0 + 1 * S)
    silence = Silence(idle_s=60)
    proc = make([FailedSpan(), silence], clock, allowed_lateness_s=5, idle_source_s=2)
    proc.process([llm("a" * 32, 1, "hi", at_s=0, error=True)])
    clock.now = T0 + 30 * S  # quiet: event time follows the wall clock, minus the lateness
    assert proc.advance().signals == []
    clock.now = T0 + 67 * S
    assert [s.signal for s in proc.advance().signals] == ["abandoned_session"]


def test_a_session_that_goes_on_is_not_idle() -> None:
    clock = Clock(T0 + 1 * S)
    silence = Silence(idle_s=60)
    proc = make([FailedSpan(), silence], clock, idle_source_s=2)
    proc.process([llm("a" * 32, 1, "hi", at_s=0, error=True)])
    proc.process([llm("b" * 32, 2, "again", at_s=30)])
    clock.now = T0 + 300 * S
    proc.advance()
    assert silence.fired == ["b" * 32]  # only the last turn is ever judged


def test_a_late_turn_cancels_a_pending_idle_timer() -> None:
    clock = Clock(T0 + 1 * S)
    silence = Silence(idle_s=60)
    proc = make([FailedSpan(), silence], clock, idle_source_s=1000)
    proc.process([llm("b" * 32, 2, "later", at_s=50)])
    proc.process([llm("a" * 32, 1, "first", at_s=0, error=True)])  # late, earlier in event time
    clock.now = T0 + 200 * S
    proc.observe_time(T0 + 200 * S)
    proc.advance()
    assert silence.fired == ["b" * 32]


def test_turn_view_holds_the_spans_of_the_turn_and_its_answer() -> None:
    clock = Clock(T0 + 100 * S)
    grounding = Grounding()
    proc = make([grounding], clock)
    retrieval = CanonicalSpan(
        trace_id="a" * 32, span_id="r" * 16, parent_span_id="", name="retrieve", start_ns=T0,
        end_ns=T0 + 1, kind=KIND_RETRIEVAL, session_id="s1",
        retrieved_documents=[{"id": "d1", "score": 0.9, "content": "x"}],
    )  # fmt: skip
    answer = llm("a" * 32, 1, "q", at_s=1)
    proc.process([retrieval, answer])
    view = grounding.views[-1]
    assert view.answer is answer
    assert [s.span_id for s in view.retrievals] == ["r" * 16]
    assert view.documents == [{"id": "d1", "score": 0.9, "content": "x"}]
    assert view.record.answer_span_id == answer.span_id


def test_agent_loop_answer_is_the_last_span_with_text() -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([Grounding()], clock)
    call_tool = llm("a" * 32, 1, "book it", at_s=0, answer="")
    call_tool.tool_calls = [{"id": "1", "name": "book", "arguments": "{}"}]
    final = llm("a" * 32, 2, "book it", at_s=2, answer="Booked.")
    proc.process([final, call_tool])
    [turn] = proc._sessions["s1"].turns
    assert (turn.record.answer_span_id, turn.record.answer_text) == (final.span_id, "Booked.")


def test_sessions_without_session_id_group_by_user_and_gap() -> None:
    clock = Clock(T0 + 10_000 * S)
    proc = make([SameWords()], clock, user_session_gap_s=600)
    proc.process([llm("a" * 32, 1, "one", session="", user_id="u1", at_s=0)])
    proc.process([llm("b" * 32, 2, "two", session="", user_id="u1", at_s=100)])
    proc.process([llm("c" * 32, 3, "three", session="", user_id="u1", at_s=5000)])
    sizes = sorted(len(s.turns) for s in proc._sessions.values())
    assert sizes == [1, 2]
    # A span with neither a session nor a user is a session of its own, with no session id.
    proc.process([llm("d" * 32, 4, "alone", session="", at_s=0)])
    assert proc._sessions["trace:" + "d" * 32].session_id == ""
    # Forgotten sessions take their user's entry with them.
    proc.observe_time(T0 + 9_000 * S)
    proc.advance()
    assert proc.session_count == 0 and proc._user_session == {}


def test_memory_bounds_sessions_turns_and_settled_spans() -> None:
    clock = Clock(T0 + 10_000 * S)
    proc = make(
        [SameWords()], clock, max_sessions=3, max_turns_per_session=3, turn_settle_s=10, session_ttl_s=100
    )
    for i in range(5):
        proc.process([llm(f"{i:032x}", i + 1, "q", session=f"s{i}", at_s=i)])
    assert list(proc._sessions) == ["s2", "s3", "s4"]  # least recently active went first
    for i in range(30):
        proc.process([llm(f"{10 + i:032x}", 10 + i, f"q{i}", session="s4", at_s=10 + i)])
        # Pairs with dropped turns go in bulk: never more than 4 per kept turn, plus the newest.
        assert len(proc._sessions["s4"].pairs_seen) <= 4 * 3 + 2
    turns = proc._sessions["s4"].turns
    assert len(turns) == 3
    assert [t.record.index for t in turns] == [28, 29, 30]  # indexes count the dropped turns
    kept = {t.key for t in turns}
    pairs = proc._sessions["s4"].pairs_seen
    assert {(p[0], p[1]) for p in pairs if p[0] in kept and p[1] in kept} == {
        (turns[0].key, turns[1].key),
        (turns[0].key, turns[2].key),
        (turns[1].key, turns[2].key),
    }
    assert turns[-1].spans is not None
    proc.observe_time(T0 + 60 * S)  # watermark 55 s: every turn ended ≤ 41 s, settled
    proc.advance()
    assert all(t.spans is None for t in proc._sessions["s4"].turns)
    proc.observe_time(T0 + 250 * S)  # watermark 245 s: past every session's ttl
    proc.advance()
    assert proc.session_count == 0


def test_replayed_span_re_emits_its_signals_only() -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([FailedSpan()], clock)
    span = llm("a" * 32, 1, "q", error=True)
    first = proc.process([span])
    again = proc.process([llm("a" * 32, 1, "q", error=True)])
    assert [s.key for s in again.signals] == [s.key for s in first.signals]
    assert again.flagged == []


def _canonical(state: dict[str, object]) -> dict[str, object]:
    """Span ids are a set: compare them without their order."""
    for session in state["sessions"]:  # type: ignore[attr-defined]
        for turn in session["turns"]:
            turn["span_ids"] = sorted(turn["span_ids"])
    return state


def test_snapshot_restore_round_trip_keeps_turns_signals_and_timers() -> None:
    clock = Clock(T0 + 10 * S)
    silence = Silence(idle_s=60)
    proc = make([FailedSpan(), SameWords(), silence], clock, idle_source_s=1000)
    proc.process([llm("a" * 32, 1, "about x", at_s=0)])
    proc.process([llm("b" * 32, 2, "tell x", at_s=20, error=True)])
    proc.wait_for_target([Feedback("fb1", T0, "api", span_id="f" * 16, thumbs="down")])
    state = orjson.loads(orjson.dumps(proc.snapshot()))

    silence2 = Silence(idle_s=60)
    restored = make([FailedSpan(), SameWords(), silence2], clock, idle_source_s=1000)
    restored.restore(state)
    assert _canonical(orjson.loads(orjson.dumps(restored.snapshot()))) == _canonical(state)
    assert restored.pending_feedback == 1
    # A replayed span is recognised, and re-emits the signal it had triggered.
    again = restored.process([llm("b" * 32, 2, "tell x", at_s=20, error=True)])
    assert {s.signal for s in again.signals} == {"error"}
    # The idle timer of the last turn was re-armed.
    clock.now = T0 + 200 * S
    restored.observe_time(T0 + 200 * S)
    assert [s.signal for s in restored.advance().signals] == ["abandoned_session"]


def test_feedback_before_its_span_waits_and_lands_on_that_span() -> None:
    clock = Clock(T0 + 10 * S)
    proc = make([Thumbs()], clock)
    item = Feedback("fb1", T0, "api", trace_id="a" * 32, thumbs="down")
    found, missing = proc.add_feedback([item])
    assert not found and missing == [item]
    proc.wait_for_target(missing)
    found = proc.process([llm("a" * 32, 7, "q", at_s=0)])
    assert [(s.signal, s.span_id) for s in found.signals] == [("negative_feedback", f"{7:016x}")]
    assert [(f.feedback_id, r.span_id) for f, r in found.resolved] == [("fb1", f"{7:016x}")]
    assert proc.pending_feedback == 0


def test_feedback_on_a_span_that_never_arrives_joins_its_trace() -> None:
    clock = Clock(T0 + 10 * S)
    proc = make([Thumbs()], clock)
    # Parented to the app's root span, which is no LLM step and never reaches the state.
    item = Feedback("fb1", T0, "otel_event", span_id="0" * 15 + "9", trace_id="a" * 32, thumbs="down")
    proc.wait_for_target([item, item])  # a resend waits once
    assert proc.pending_feedback == 1
    found = proc.process([llm("a" * 32, 7, "q", at_s=0)])
    assert [(s.signal, s.span_id) for s in found.signals] == [("negative_feedback", f"{7:016x}")]
    assert proc.pending_feedback == 0
    assert proc.process([llm("a" * 32, 8, "q", at_s=1)]).signals == []  # joined once


@pytest.mark.parametrize(
    "target",
    [
        {"span_id": f"{2:016x}"},
        {"trace_id": "b" * 32},
        {"response_id": "resp-2"},
        {"session_id": "s1"},
    ],
)
def test_feedback_joins_live_turns_by_any_id(target: dict[str, str]) -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([Thumbs()], clock)
    proc.process([llm("a" * 32, 1, "first", at_s=0, response_id="resp-1")])
    proc.process([llm("b" * 32, 2, "second", at_s=30, response_id="resp-2")])
    found, missing = proc.add_feedback([Feedback("fb", T0 + 40 * S, "api", thumbs="down", **target)])
    assert missing == []
    assert [(s.trace_id, s.span_id) for s in found.signals] == [("b" * 32, f"{2:016x}")]
    assert [f.span_id for f in found.flagged] == [f"{2:016x}"]


def test_session_feedback_lands_on_the_turn_before_it() -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([Thumbs()], clock)
    proc.process([llm("a" * 32, 1, "first", at_s=0)])
    proc.process([llm("b" * 32, 2, "second", at_s=30)])
    found, _ = proc.add_feedback([Feedback("fb", T0 + 10 * S, "api", session_id="s1", thumbs="down")])
    assert [s.trace_id for s in found.signals] == ["a" * 32]


def test_feedback_for_a_stored_span_is_judged_with_its_prior_signals() -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([Thumbs()], clock, threshold=0.9)
    ref = SpanRef("s9", "e" * 32, "1" * 16, T0, "svc")
    from tracesieve.collector.contracts import FlaggedSpan

    base = FlaggedSpan(T0, "s9", "e" * 32, "1" * 16, 0.0, [], ["error"], {}, user_message="q")
    found = proc.apply_feedback(
        Feedback("fb", T0, "api", span_id="1" * 16, thumbs="down"), ref, {"error": 0.5}, base
    )
    assert [s.signal for s in found.signals] == ["negative_feedback"]
    [flag] = found.flagged
    assert flag.signals == ["error", "negative_feedback"]
    assert flag.flag_score == pytest.approx(1.0)
    assert flag.categories == ["error", "negative_feedback"]
    assert found.resolved == [(Feedback("fb", T0, "api", span_id="1" * 16, thumbs="down"), ref)]


def test_flagged_row_is_written_again_only_when_the_signals_change() -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([FailedSpan(), Thumbs()], clock)
    first = proc.process([llm("a" * 32, 1, "q", error=True)])
    assert len(first.flagged) == 1
    retrieval = CanonicalSpan(
        trace_id="a" * 32, span_id="r" * 16, parent_span_id="", name="r", start_ns=T0, end_ns=T0 + 1,
        kind=KIND_RETRIEVAL, session_id="s1",
    )  # fmt: skip
    assert proc.process([retrieval]).flagged == []
    found, _ = proc.add_feedback([Feedback("fb", T0, "api", trace_id="a" * 32, thumbs="down")])
    assert [f.signals for f in found.flagged] == [["error", "negative_feedback"]]


def test_signals_below_the_threshold_do_not_flag() -> None:
    clock = Clock(T0 + 100 * S)
    proc = make([SameWords()], clock, threshold=0.9)
    proc.process([llm("a" * 32, 1, "about x", at_s=0)])
    found = proc.process([llm("b" * 32, 2, "tell x", at_s=10)])
    assert [s.signal for s in found.signals] == ["rephrase"]
    assert found.flagged == []


def test_scorer_combines_as_a_noisy_or_with_weights() -> None:
    scorer = Scorer(ScoringConfig(flag_threshold=0.5, weights={"latency_outlier": 0.5}))
    assert scorer.combine({"rephrase": 0.8}) == pytest.approx(0.8)
    assert scorer.combine({"rephrase": 0.4, "refusal": 0.4}) == pytest.approx(1 - 0.6 * 0.6)
    assert scorer.combine({"latency_outlier": 0.8}) == pytest.approx(0.4)
    assert not scorer.flags({"latency_outlier": 0.8})
    assert scorer.flags({"latency_outlier": 0.8, "rephrase": 0.2})
    assert not scorer.flags({})
