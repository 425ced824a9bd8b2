"""The session processor: session state → detectors → scorer, on the canonical span stream.

::

    processor = SessionProcessor(SessionsConfig(), build_detectors({}), Scorer(ScoringConfig()))
    processor.observe_time(span.end_ns)          # at admission, for every span: the watermark
    found = processor.process(released_spans)    # signals and flagged turns, at once
    found = processor.advance()                  # timers on the watermark (call it often)

Spans arrive out of order and late. Each is filed under its session (the span's session id;
else its trace's; else its user's, split by ``user_session_gap_s``; else a session of its own
trace) and its turn (see :mod:`.model`); turns are kept in event-time order, so a late turn
lands in its place and is compared with its neighbours then. Detectors run eagerly: per-span
hooks at once, ``on_turn`` whenever a turn gains spans, ``on_pair`` for every pair of turns at
most two user turns apart as soon as both are known, idle hooks when the watermark passes their
deadline (never on a sleep). A signal is identified by (span, signal): emitting it again
replaces it, so re-evaluation and replay are harmless; signals are never retracted.

Memory is bounded: ``max_sessions`` (least recently active go first), ``max_turns_per_session``,
spans kept per turn only until ``turn_settle_s`` after it (event time), sessions forgotten
``session_ttl_s`` after their last turn.

:meth:`snapshot`/:meth:`restore` carry the state (records, signals, timers, the watermark,
detector state, feedback waiting for its span) as JSON-able data: the embedded service
checkpoints it to its data folder, the Kafka scale-out moves it between replicas.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracesieve.collector.contracts import (
    KIND_LLM,
    KIND_OTHER,
    CanonicalSpan,
    Feedback,
    FlaggedSpan,
    Signal,
    SpanRef,
)
from tracesieve.processors.detectors.base import Detector, span_ref
from tracesieve.processors.scoring import Scorer

from ._snapshot import meta_json, restore_meta, restore_sessions, restore_state, session_json, snapshot_state
from ._turns import OpenTurn, Session, last_user_message
from .config import SessionsConfig
from .event_clock import EventClock
from .model import TurnRecord
from .pending_feedback import PendingFeedback

__all__ = ["Findings", "SessionProcessor"]

_log = logging.getLogger(__name__)

_CONTEXT_TURNS = 3  # earlier turns shown to a reviewer with a flagged turn
_CONTEXT_CHARS = 500
# The pairs a turn at position p takes part in, as (earlier, later) offsets from p: it may be
# the later turn of a pair one or two turns apart, or the earlier one, or between them.
_PAIR_OFFSETS = ((-2, 0), (-1, 0), (0, 1), (0, 2), (-1, 1))
_DISTANCES = ("0", "1", "2")  # the pairs-seen keys hold the distance as text (snapshots)


@dataclass(slots=True)
class Findings:
    """What the processor found: rows to write. ``resolved`` pairs feedback with its target."""

    signals: list[Signal] = field(default_factory=list)
    flagged: list[FlaggedSpan] = field(default_factory=list)
    resolved: list[tuple[Feedback, SpanRef]] = field(default_factory=list)

    def extend(self, other: Findings) -> None:
        self.signals.extend(other.signals)
        self.flagged.extend(other.flagged)
        self.resolved.extend(other.resolved)

    def __bool__(self) -> bool:
        return bool(self.signals or self.flagged or self.resolved)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


class SessionProcessor:
    """Session state, detectors and scorer; see the module docstring. Not thread-safe."""

    def __init__(
        self,
        config: SessionsConfig,
        detectors: Sequence[Detector],
        scorer: Scorer,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._cfg = config
        self._detectors = list(detectors)
        self._span_detectors = [d for d in detectors if type(d).on_span is not Detector.on_span]
        self._turn_detectors = [d for d in detectors if type(d).on_turn is not Detector.on_turn]
        self._pair_detectors = [d for d in detectors if type(d).on_pair is not Detector.on_pair]
        self._idle_detectors = [
            d for d in detectors if type(d).idle_deadline_ns is not Detector.idle_deadline_ns
        ]
        self._feedback_detectors = [d for d in detectors if type(d).on_feedback is not Detector.on_feedback]
        self._scorer = scorer
        self._wall = wall_ns
        self.clock = EventClock(config.allowed_lateness_s, config.idle_source_s, wall_ns)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._trace_session: dict[str, str] = {}
        self._user_session: dict[str, str] = {}
        # Feedback targets: trace id / LLM span id / response id -> turn (live turns only).
        self._by_trace: dict[str, OpenTurn] = {}
        self._by_span: dict[str, OpenTurn] = {}
        self._by_response: dict[str, OpenTurn] = {}
        self._turn_session: dict[int, Session] = {}
        # (deadline, n, session key, turn key): idle timers; stale entries are skipped.
        self._timers: list[tuple[int, int, str, str]] = []
        self._timer_n = 0
        self._settling: deque[tuple[int, str, str]] = deque()  # (end_ns, session key, turn key)
        self._pending = PendingFeedback(config.max_pending_feedback, config.pending_feedback_ttl_s, wall_ns)
        self.evicted_sessions = 0
        # Keys of sessions changed / forgotten since the last take_changes(); None: not tracked
        # (the embedded pipeline snapshots the whole state instead).
        self._changed: set[str] | None = None
        self._forgotten: set[str] = set()

    # -- input ----------------------------------------------------------------------------------

    def observe_time(self, event_ns: int) -> None:
        """Advance event time: call for every admitted span (its end), held or not."""
        self.clock.observe(event_ns)

    @property
    def watermark_ns(self) -> int:
        return self.clock.watermark()

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def process(self, spans: Iterable[CanonicalSpan]) -> Findings:
        """File released spans into their sessions and run the detectors."""
        found = Findings()
        touched: dict[int, tuple[Session, OpenTurn]] = {}
        cfg = self._cfg
        span_detectors = self._span_detectors
        for span in spans:
            if span.kind == KIND_OTHER:
                continue
            self.clock.observe(span.end_ns)
            session = self._session_for(span)
            user = last_user_message(span) if span.kind == KIND_LLM else None
            turn = self._turn_for(session, span, user)
            if span.span_id in turn.span_ids:
                # Replayed after a crash: what it triggered is written again (idempotently).
                found.signals.extend(s for s in turn.signals.values() if s.span_id == span.span_id)
                continue
            old_start = turn.record.start_ns
            turn.add_span(span, user, cfg.max_spans_per_turn, cfg.max_text_chars)
            if not turn.placed or turn.record.start_ns != old_start:
                session.place(turn)
                self._settling.append((turn.record.end_ns, session.key, turn.key))
            if span.end_ns > session.last_end_ns:
                session.last_end_ns = span.end_ns
            if user is not None:
                self._by_span[span.span_id] = turn
                if span.response_id:
                    self._by_response[span.response_id] = turn
                    turn.response_ids.append(span.response_id)
            touched[id(turn)] = (session, turn)
            for detector in span_detectors:
                for signal in detector.on_span(span, session.session_id):
                    self._add_signal(turn, signal, found)
            if self._pending:
                self._join_pending_span(span, session, turn, found)
        sessions: dict[int, Session] = {}
        for session, turn in touched.values():
            self._evaluate_turn(session, turn, found)
            sessions[id(session)] = session
        for session in sessions.values():
            self._sessions.move_to_end(session.key)
            if self._changed is not None:
                self._changed.add(session.key)
            if len(session.turns) > cfg.max_turns_per_session:
                for dropped in session.trim(cfg.max_turns_per_session):
                    self._forget_turn(dropped)
            self._arm_idle(session)
        if len(self._sessions) > cfg.max_sessions:
            self._evict_over_capacity()
        return found

    def add_feedback(self, items: Iterable[Feedback]) -> tuple[Findings, list[Feedback]]:
        """Join feedback to live turns; returns findings and the feedback not found in the state
        (look it up in the store, then :meth:`apply_feedback` or :meth:`wait_for_target`)."""
        found = Findings()
        missing: list[Feedback] = []
        for item in items:
            located = self._locate(item)
            if located is None:
                missing.append(item)
                continue
            turn, ref = located
            self._apply_feedback(item, ref, turn, found)
        return found, missing

    def wait_for_target(self, items: Iterable[Feedback]) -> None:
        """Keep feedback whose target is in neither the state nor the store, until it arrives
        (see :mod:`.pending_feedback`)."""
        self._pending.add(items)

    def apply_feedback(
        self, item: Feedback, ref: SpanRef, prior: dict[str, float], base: FlaggedSpan | None
    ) -> Findings:
        """Judge feedback whose target is only in the store (its turn has left the state).

        ``prior`` holds the target turn's stored signal scores by name; ``base`` is a flagged
        row built from the stored span (content, context), or None.
        """
        found = Findings()
        found.resolved.append((item, ref))
        scores = dict(prior)
        evidence: dict[str, Any] = {}
        for detector in self._feedback_detectors:
            for signal in detector.on_feedback(item, ref):
                found.signals.append(signal)
                scores[signal.signal] = max(scores.get(signal.signal, 0.0), signal.score)
                evidence[signal.signal] = signal.evidence
        if found.signals and base is not None and self._scorer.flags(scores):
            base.flag_score = self._scorer.combine(scores)
            base.signals = sorted(scores)
            base.categories = sorted({*base.categories, *(s.category for s in found.signals)})
            base.evidence = {**base.evidence, **evidence}
            base.updated_ns = self._wall()
            found.flagged.append(base)
        return found

    def advance(self) -> Findings:
        """Fire the timers the watermark has passed; settle and forget old turns and sessions."""
        found = Findings()
        mark = self.clock.watermark()
        timers = self._timers
        while timers and timers[0][0] <= mark:
            _, _, session_key, turn_key = heapq.heappop(timers)
            session = self._sessions.get(session_key)
            if session is None or not session.turns or session.turns[-1].key != turn_key:
                continue  # the session went on, or was forgotten
            turn = session.turns[-1]
            for detector in self._idle_detectors:
                if detector.name in turn.fired:
                    continue
                deadline = detector.idle_deadline_ns(turn.record)
                if deadline is None or deadline > mark:
                    continue
                turn.fired.add(detector.name)
                if self._changed is not None:
                    self._changed.add(session_key)
                for signal in detector.on_idle(turn.record):
                    self._add_signal(turn, signal, found)
            self._score(session, turn, found)
        settle_ns = int(self._cfg.turn_settle_s * 1e9)
        settling = self._settling
        while settling and settling[0][0] + settle_ns <= mark:
            _, session_key, turn_key = settling.popleft()
            session = self._sessions.get(session_key)
            settled = session.by_key.get(turn_key) if session else None
            if settled is None or settled.spans is None:
                continue
            if settled.record.end_ns + settle_ns <= mark:
                settled.spans = None
            else:  # it gained later spans since: look again then
                settling.append((settled.record.end_ns, session_key, turn_key))
        # Least recently active first: stop at the first session still in use.
        ttl_ns = int(self._cfg.session_ttl_s * 1e9)
        sessions = self._sessions
        while sessions:
            key, session = next(iter(sessions.items()))
            if session.last_end_ns + ttl_ns > mark:
                break
            del sessions[key]
            self._forget_session(session)
        self._pending.expire()
        return found

    # -- sessions and turns -------------------------------------------------------------------

    def _session_for(self, span: CanonicalSpan) -> Session:
        if span.session_id:
            key = span.session_id
            sid = span.session_id
        elif span.trace_id in self._trace_session:
            key = self._trace_session[span.trace_id]
            sid = self._sessions[key].session_id if key in self._sessions else ""
        elif span.user_id:
            key = self._user_session.get(span.user_id, "")
            current = self._sessions.get(key) if key else None
            gap = int(self._cfg.user_session_gap_s * 1e9)
            if current is None or span.start_ns - current.last_end_ns > gap:
                key = f"user:{span.user_id}@{span.start_ns // 1_000_000_000}"
                self._user_session[span.user_id] = key
            sid = key
        else:
            key = "trace:" + span.trace_id
            sid = ""
        session = self._sessions.get(key)
        if session is None:
            session = Session(key, sid)
            self._sessions[key] = session
        self._trace_session[span.trace_id] = key
        return session

    def _turn_for(self, session: Session, span: CanonicalSpan, user: tuple[str, str, int] | None) -> OpenTurn:
        key = span.trace_id
        primary: OpenTurn | None = session.by_key.get(key)
        if (
            primary is not None
            and user is not None
            and user[0]
            and primary.record.user_message
            and _norm(user[0]) != _norm(primary.record.user_message)
        ):
            # A second user message inside one trace: a turn of its own.
            digest = hashlib.blake2b(_norm(user[0]).encode(), digest_size=4).hexdigest()
            key = f"{span.trace_id}#{digest}"
            primary = session.by_key.get(key)
        if primary is None:
            record = TurnRecord(session.session_id, span.trace_id, span.start_ns, span.end_ns)
            primary = OpenTurn(key, record)
            session.by_key[key] = primary
            self._turn_session[id(primary)] = session
            self._by_trace.setdefault(span.trace_id, primary)
        return primary

    def _evaluate_turn(self, session: Session, turn: OpenTurn, found: Findings) -> None:
        if self._turn_detectors and turn.record.answer_span_id and turn.spans is not None:
            view = turn.view()
            for detector in self._turn_detectors:
                for signal in detector.on_turn(view):
                    self._add_signal(turn, signal, found)
        self._evaluate_pairs(session, turn, found)
        if turn.record.signals:
            self._score(session, turn, found)

    def _evaluate_pairs(self, session: Session, turn: OpenTurn, found: Findings) -> None:
        if not self._pair_detectors:
            return
        turns = session.turns
        n = len(turns)
        if n and turns[-1] is turn:  # the common case: the newest turn
            p = n - 1
        else:
            try:
                p = turns.index(turn)
            except ValueError:
                return
        for da, db in _PAIR_OFFSETS:
            a, b = p + da, p + db
            if a < 0 or b >= n:
                continue
            earlier, later = turns[a], turns[b]
            if not earlier.record.answer_span_id or not later.record.user_message:
                continue
            distance = db - da
            seen = (earlier.key, later.key, earlier.record.answer_span_id, _DISTANCES[distance])
            if seen in session.pairs_seen:
                continue
            session.pairs_seen.add(seen)
            for detector in self._pair_detectors:
                for signal in detector.on_pair(earlier.record, later.record, distance):
                    self._add_signal(earlier, signal, found)
            if earlier is not turn:
                self._score(session, earlier, found)

    def _add_signal(self, turn: OpenTurn, signal: Signal, found: Findings) -> None:
        if not signal.session_id and turn.record.session_id:
            signal.session_id = turn.record.session_id
        old = turn.signals.get(signal.key)
        if old is not None and old.score >= signal.score:
            return
        turn.signals[signal.key] = signal
        scores = turn.record.signals
        if signal.score > scores.get(signal.signal, -1.0):
            scores[signal.signal] = signal.score
        found.signals.append(signal)

    def _score(self, session: Session, turn: OpenTurn, found: Findings) -> None:
        scores = turn.record.signals
        if not scores or not self._scorer.flags(scores):
            return
        key = tuple(sorted(scores.items()))
        if key == turn.flagged_key:
            return  # written already, with these signals
        turn.flagged_key = key
        found.flagged.append(self._flagged_row(session, turn, self._scorer.combine(scores)))

    def _flagged_row(self, session: Session, turn: OpenTurn, flag_score: float) -> FlaggedSpan:
        rec = turn.record
        span_id = rec.answer_span_id
        time_ns = rec.answer_end_ns or rec.end_ns
        if not span_id:  # no LLM span: the strongest signal's span stands for the turn
            top = max(turn.signals.values(), key=lambda s: s.score)
            span_id, time_ns = top.span_id, top.time_ns
        evidence: dict[str, Any] = {}
        for signal in sorted(turn.signals.values(), key=lambda s: -s.score):
            evidence.setdefault(
                signal.signal, {**signal.evidence, "score": round(signal.score, 4), "span_id": signal.span_id}
            )
        position = session.turns.index(turn) if turn.placed else len(session.turns)
        context = [
            {
                "trace_id": t.record.trace_id,
                "user": t.record.user_message[:_CONTEXT_CHARS],
                "assistant": t.record.answer_text[:_CONTEXT_CHARS],
            }
            for t in session.turns[max(0, position - _CONTEXT_TURNS) : position]
        ]
        return FlaggedSpan(
            time_ns=time_ns,
            session_id=session.session_id,
            trace_id=rec.trace_id,
            span_id=span_id,
            flag_score=flag_score,
            signals=sorted(rec.signals),
            categories=sorted({s.category for s in turn.signals.values()}),
            evidence=evidence,
            service_name=rec.service_name,
            user_id=rec.user_id,
            turn_index=rec.index,
            model=rec.model,
            user_message=rec.user_message,
            output_text=rec.answer_text,
            input_messages=list(turn.input_messages),
            retrieved_documents=list(turn.documents),
            session_context=context,
            updated_ns=self._wall(),
        )

    # -- timers and eviction --------------------------------------------------------------------

    def _arm_idle(self, session: Session) -> None:
        if not self._idle_detectors or not session.turns:
            return
        last = session.turns[-1]
        armed = (last.key, last.record.end_ns, len(last.record.signals))
        if armed == session.armed:
            return  # the same last turn, unchanged: its timer is in the heap already
        session.armed = armed
        deadlines = [
            d for det in self._idle_detectors if det.name not in last.fired
            if (d := det.idle_deadline_ns(last.record)) is not None
        ]  # fmt: skip
        if deadlines:
            self._timer_n += 1
            heapq.heappush(self._timers, (min(deadlines), self._timer_n, session.key, last.key))

    def _evict_over_capacity(self) -> None:
        while len(self._sessions) > self._cfg.max_sessions:
            _, session = self._sessions.popitem(last=False)
            self._forget_session(session)

    def _forget_session(self, session: Session) -> None:
        self.evicted_sessions += 1
        if self._changed is not None:
            self._changed.discard(session.key)
            self._forgotten.add(session.key)
        for turn in session.turns:
            self._forget_turn(turn)
        for turn in session.by_key.values():
            self._forget_turn(turn)
        if session.key.startswith("user:"):  # "user:<user id>@<start s>": only its user points here
            user = session.key[5:].rpartition("@")[0]
            if self._user_session.get(user) == session.key:
                del self._user_session[user]

    def _forget_turn(self, turn: OpenTurn) -> None:
        self._turn_session.pop(id(turn), None)
        trace_id = turn.record.trace_id
        if self._by_trace.get(trace_id) is turn:
            del self._by_trace[trace_id]
            self._trace_session.pop(trace_id, None)
        for span_id in turn.span_ids:
            if self._by_span.get(span_id) is turn:
                del self._by_span[span_id]
        for response_id in turn.response_ids:
            if self._by_response.get(response_id) is turn:
                del self._by_response[response_id]

    # -- feedback -------------------------------------------------------------------------------

    def _locate(self, item: Feedback) -> tuple[OpenTurn, SpanRef] | None:
        if item.span_id:
            turn = self._by_span.get(item.span_id)
            if turn is not None:
                return turn, self._ref_in(turn, item.span_id)
            for turn in self._live_turns_of_trace(item.trace_id):
                if item.span_id in turn.span_ids:
                    return turn, self._ref_in(turn, item.span_id)
            if not item.trace_id:
                return None
        if item.response_id:
            turn = self._by_response.get(item.response_id)
            if turn is not None:
                return turn, turn.record.ref()
        if item.trace_id:
            turns = [t for t in self._live_turns_of_trace(item.trace_id) if t.record.answer_span_id]
            if turns:
                turn = max(turns, key=lambda t: t.record.start_ns)
                return turn, turn.record.ref()
            return None
        if item.session_id:
            session = self._sessions.get(item.session_id)
            if session is None:
                return None
            answered = [t for t in session.turns if t.record.answer_span_id]
            if not answered:
                return None
            before = [t for t in answered if t.record.start_ns <= item.time_ns]
            turn = before[-1] if before else answered[0]
            return turn, turn.record.ref()
        return None

    def _live_turns_of_trace(self, trace_id: str) -> list[OpenTurn]:
        if not trace_id:
            return []
        key = self._trace_session.get(trace_id)
        session = self._sessions.get(key) if key else None
        if session is None:
            return []
        return [t for t in session.by_key.values() if t.record.trace_id == trace_id]

    def _ref_in(self, turn: OpenTurn, span_id: str) -> SpanRef:
        if span_id == turn.record.answer_span_id:
            return turn.record.ref()
        span = (turn.spans or {}).get(span_id)
        if span is not None:
            return span_ref(span, turn.record.session_id)
        rec = turn.record
        return SpanRef(rec.session_id, rec.trace_id, span_id, rec.end_ns, rec.service_name)

    def _apply_feedback(self, item: Feedback, ref: SpanRef, turn: OpenTurn, found: Findings) -> None:
        found.resolved.append((item, ref))
        for detector in self._feedback_detectors:
            for signal in detector.on_feedback(item, ref):
                self._add_signal(turn, signal, found)
        session = self._turn_session.get(id(turn))
        if session is not None:
            self._score(session, turn, found)
            if self._changed is not None:
                self._changed.add(session.key)

    def _join_pending_span(
        self, span: CanonicalSpan, session: Session, turn: OpenTurn, found: Findings
    ) -> None:
        keys = [("span", span.span_id)]
        if span.kind == KIND_LLM and turn.record.answer_span_id:
            keys.append(("trace", span.trace_id))
            if span.response_id:
                keys.append(("response", span.response_id))
            if session.session_id:
                keys.append(("session", session.session_id))
        for key in keys:
            for item in self._pending.take(key):
                ref = self._ref_in(turn, span.span_id) if key[0] == "span" else turn.record.ref()
                self._apply_feedback(item, ref, turn, found)

    @property
    def pending_feedback(self) -> int:
        return len(self._pending)

    @property
    def dropped_feedback(self) -> int:
        return self._pending.dropped

    # -- checkpoints ----------------------------------------------------------------------------

    def track_changes(self) -> None:
        """Start recording which sessions change, for :meth:`take_changes`."""
        if self._changed is None:
            self._changed = set(self._sessions)

    def take_changes(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str], dict[str, Any]]:
        """What changed since the last call: (key, session data) of each changed session, the keys
        of sessions forgotten, and the rest of the state (clock, pending feedback, detectors).
        Together with the previous calls' output, enough for :meth:`restore_changes`."""
        if self._changed is None:
            raise RuntimeError("take_changes() without track_changes()")
        changed, self._changed = self._changed, set()
        forgotten, self._forgotten = self._forgotten, set()
        enabled = gc.isenabled()
        gc.disable()  # as in snapshot(): the data makes no cycles
        try:
            sessions = [(key, session_json(self._sessions[key])) for key in changed if key in self._sessions]
            return sessions, sorted(forgotten - changed), meta_json(self)
        finally:
            if enabled:
                gc.enable()

    def restore_changes(self, sessions: Iterable[dict[str, Any]], meta: dict[str, Any] | None) -> None:
        """Replace the state with the sessions and the rest that :meth:`take_changes` gave."""
        self.__init__(self._cfg, self._detectors, self._scorer, self._wall)  # type: ignore[misc]
        if meta is not None:
            restore_meta(self, meta)
        restore_sessions(self, sessions)
        self._changed = set()

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data (spans of unsettled turns are not included)."""
        # Building it allocates a few objects per turn; with the cyclic GC on, those allocations
        # trigger collections that walk the whole (large, long-lived) heap: measured 30 µs per
        # turn with it, a few without. The snapshot makes no cycles.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return snapshot_state(self)
        finally:
            if enabled:
                gc.enable()

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the state with a :meth:`snapshot`'s; timers are re-armed from the records."""
        self.__init__(self._cfg, self._detectors, self._scorer, self._wall)  # type: ignore[misc]
        restore_state(self, state)
