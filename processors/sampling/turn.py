"""What the sampler reads of a flagged turn, whether it comes from the stream or the store."""

from __future__ import annotations

from dataclasses import dataclass

from tracesieve.collector.contracts import FlaggedSpan

from .signature import SIGNATURE_CHARS

__all__ = ["FlaggedTurn"]


@dataclass(frozen=True, slots=True)
class FlaggedTurn:
    """One version of a flagged turn (a ``flagged_spans`` row).

    ``turn_id`` is ``"<trace_id>/<span_id>"`` (the answer span). A turn's later versions have a
    flag score and categories at least those of its earlier ones (the scorer only adds signals
    and keeps each signal's highest score); the sampler relies on it. ``question`` holds the
    first SIGNATURE_CHARS characters of the user message.
    """

    trace_id: str
    span_id: str
    session_id: str
    time_ns: int
    flag_score: float
    categories: tuple[str, ...]
    question: str

    @property
    def turn_id(self) -> str:
        return f"{self.trace_id}/{self.span_id}"

    @property
    def session_key(self) -> str:
        """The session for "one case per session": a turn without a session is its own trace's."""
        return self.session_id or f"trace:{self.trace_id}"

    @classmethod
    def of(
        cls,
        trace_id: str,
        span_id: str,
        session_id: str,
        time_ns: int,
        flag_score: float,
        categories: tuple[str, ...] | list[str],
        question: str,
    ) -> FlaggedTurn:
        return cls(
            trace_id.lower(),
            span_id.lower(),
            session_id,
            int(time_ns),
            float(flag_score),
            tuple(sorted(set(categories))),
            question[:SIGNATURE_CHARS],
        )

    @classmethod
    def from_flagged(cls, row: FlaggedSpan) -> FlaggedTurn:
        """From the row the analysis just wrote."""
        return cls.of(
            row.trace_id,
            row.span_id,
            row.session_id,
            row.time_ns,
            row.flag_score,
            row.categories,
            row.user_message,
        )
