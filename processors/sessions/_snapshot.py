"""The session state as JSON-able data, and back (see ``SessionProcessor.snapshot``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tracesieve.collector.contracts import Feedback, Signal

from ._turns import OpenTurn, Session
from .model import TurnRecord

if TYPE_CHECKING:
    from .processor import SessionProcessor

__all__ = [
    "meta_json",
    "restore_meta",
    "restore_sessions",
    "restore_state",
    "session_json",
    "snapshot_state",
]

SNAPSHOT_VERSION = 1


def session_json(session: Session) -> dict[str, Any]:
    """One session as JSON-able data (the spans of unsettled turns are not included)."""
    return {
        "key": session.key,
        "session_id": session.session_id,
        "last_end_ns": session.last_end_ns,
        "dropped": session.dropped,
        "turns": [
            {
                "key": t.key,
                "record": t.record.to_json(),
                "span_ids": list(t.span_ids),
                "signals": [_signal_json(s) for s in t.signals.values()],
                "documents": t.documents,
                "answer_is_final": t.answer_is_final,
                "flagged_key": None if t.flagged_key is None else [list(k) for k in t.flagged_key],
                "response_ids": t.response_ids,
                "fired": sorted(t.fired),
            }
            for t in session.turns
        ],
        "pairs_seen": [list(p) for p in session.pairs_seen],
    }


def meta_json(proc: SessionProcessor) -> dict[str, Any]:
    """Everything but the sessions: event clock, user sessions, waiting feedback, detector state."""
    return {
        "version": SNAPSHOT_VERSION,
        "clock": proc.clock.snapshot(),
        "user_sessions": dict(proc._user_session),
        "pending": [_feedback_json(i) for i in proc._pending.items()],
        "detectors": {d.name: saved for d in proc._detectors if (saved := d.snapshot()) is not None},
    }


def snapshot_state(proc: SessionProcessor) -> dict[str, Any]:
    return {**meta_json(proc), "sessions": [session_json(s) for s in proc._sessions.values()]}


def restore_state(proc: SessionProcessor, state: dict[str, Any]) -> None:
    """Load ``state`` into a freshly built processor."""
    restore_meta(proc, state)
    restore_sessions(proc, state.get("sessions", []))


def restore_meta(proc: SessionProcessor, state: dict[str, Any]) -> None:
    if state.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unknown session snapshot version {state.get('version')!r}")
    proc.clock.restore(state.get("clock", {}))
    proc._user_session.update(state.get("user_sessions", {}))
    proc.wait_for_target(Feedback(**raw) for raw in state.get("pending", []))
    for detector in proc._detectors:
        saved = state.get("detectors", {}).get(detector.name)
        if saved is not None:
            detector.restore(saved)


def restore_sessions(proc: SessionProcessor, sessions: Iterable[dict[str, Any]]) -> None:
    """Add sessions (:func:`session_json`'s data) to a freshly built processor, timers armed."""
    for data in sessions:
        session = Session(data["key"], data["session_id"], last_end_ns=data["last_end_ns"])
        session.dropped = data.get("dropped", 0)
        for t in data["turns"]:
            turn = OpenTurn(t["key"], TurnRecord.from_json(t["record"]), spans=None)
            turn.span_ids = set(t["span_ids"])
            for raw in t["signals"]:
                signal = Signal(**raw)
                turn.signals[signal.key] = signal
            turn.documents = t["documents"]
            turn.answer_is_final = t["answer_is_final"]
            flagged = t.get("flagged_key")
            turn.flagged_key = None if flagged is None else tuple((str(n), float(v)) for n, v in flagged)
            turn.response_ids = list(t.get("response_ids", []))
            for response_id in turn.response_ids:
                proc._by_response[response_id] = turn
            turn.fired = set(t["fired"])
            turn.placed = True
            session.turns.append(turn)
            session.by_key[turn.key] = turn
            proc._turn_session[id(turn)] = session
            proc._by_trace.setdefault(turn.record.trace_id, turn)
            proc._trace_session[turn.record.trace_id] = session.key
            if turn.record.answer_span_id:
                proc._by_span[turn.record.answer_span_id] = turn
        session.pairs_seen = {(p[0], p[1], p[2], p[3]) for p in data.get("pairs_seen", [])}
        proc._sessions[session.key] = session
        proc._arm_idle(session)


def _signal_json(signal: Signal) -> dict[str, Any]:
    return {name: getattr(signal, name) for name in Signal.__slots__}


def _feedback_json(item: Feedback) -> dict[str, Any]:
    return {name: getattr(item, name) for name in Feedback.__slots__}
