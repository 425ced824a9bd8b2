"""Building turns out of spans: which turn a span belongs to, and what it tells the turn's record."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from tracesieve.collector.contracts import KIND_LLM, CanonicalSpan, RetrievedDocument, Signal

from .model import TurnRecord, TurnView

__all__ = ["OpenTurn", "Session", "last_user_message"]

_DOCS_KEPT = 5
_START = attrgetter("start_ns")
_DOC_CHARS = 400


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # parts that were not flattened
        return " ".join(p.get("content", "") if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def last_user_message(span: CanonicalSpan) -> tuple[str, str, int]:
    """(last user message, the assistant message just before it, input message count)."""
    messages = span.input_messages
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            previous = ""
            for j in range(i - 1, -1, -1):
                if messages[j].get("role") == "assistant":
                    previous = _text(messages[j].get("content"))
                    break
            return _text(messages[i].get("content")), previous, len(messages)
    return "", "", len(messages)


def _is_final_answer(span: CanonicalSpan) -> bool:
    """An LLM span whose output is text or a refusal, not only tool calls."""
    return bool(span.output_text or span.refusal)


@dataclass(slots=True, eq=False)
class OpenTurn:
    """A turn in the session state: its record, its spans while it settles, its signals."""

    key: str  # trace id, or "trace id#n" for a later user message in the same trace
    record: TurnRecord
    spans: dict[str, CanonicalSpan] | None = field(default_factory=dict)  # None once settled
    span_ids: set[str] = field(default_factory=set)
    # (span id, signal) -> signal, for every signal on a span of this turn.
    signals: dict[tuple[str, str], Signal] = field(default_factory=dict)
    documents: list[RetrievedDocument] = field(default_factory=list)  # truncated, for reviewers
    input_messages: list[dict[str, object]] = field(default_factory=list)
    answer_is_final: bool = False
    # The signal scores when the turn's flagged row was last written (None: never written).
    flagged_key: tuple[tuple[str, float], ...] | None = None
    fired: set[str] = field(default_factory=set)  # idle detectors that fired on this turn
    response_ids: list[str] = field(default_factory=list)
    placed: bool = False  # in its session's ``turns``

    def add_span(
        self, span: CanonicalSpan, user_message: tuple[str, str, int] | None, max_spans: int, max_chars: int
    ) -> None:
        """Take ``span`` into the turn.

        ``user_message`` is :func:`last_user_message` of an LLM span, None for other spans.
        """
        rec = self.record
        self.span_ids.add(span.span_id)
        if self.spans is not None and len(self.spans) < max_spans:
            self.spans[span.span_id] = span
        if span.start_ns < rec.start_ns or rec.start_ns == 0:
            rec.start_ns = span.start_ns
        if span.end_ns > rec.end_ns:
            rec.end_ns = span.end_ns
        if not rec.service_name:
            rec.service_name = span.service_name
        if not rec.user_id and span.user_id:
            rec.user_id = span.user_id
        if span.status_code == "Error" and (span.kind == KIND_LLM or not span.parent_span_id):
            rec.failed = True
        if span.retrieved_documents and len(self.documents) < _DOCS_KEPT:
            for doc in span.retrieved_documents[: _DOCS_KEPT - len(self.documents)]:
                content = doc.get("content")
                self.documents.append(
                    {
                        "id": doc.get("id", ""),
                        "score": doc.get("score"),
                        "content": content[:_DOC_CHARS] if isinstance(content, str) else "",
                    }
                )
        if user_message is None:
            return
        user, previous, count = user_message
        if user and not rec.user_message:
            rec.user_message = user[:max_chars]
            rec.previous_assistant = previous[:max_chars]
        final = _is_final_answer(span)
        # The answer is the last final LLM span by end time; before any, the last LLM span.
        if rec.answer_span_id and (
            (self.answer_is_final and not final)
            or (final == self.answer_is_final and span.end_ns < rec.answer_end_ns)
        ):
            return
        rec.answer_span_id = span.span_id
        rec.answer_end_ns = span.end_ns
        rec.answer_text = (span.output_text or span.refusal)[:max_chars]
        rec.model = span.response_model or span.request_model
        rec.operation = span.operation
        rec.message_count = count
        if span.input_messages:
            self.input_messages = span.input_messages
        self.answer_is_final = final
        if span.status_code == "Error":
            rec.failed = True

    def view(self) -> TurnView:
        kept = self.spans or {}
        spans = list(kept.values())
        if len(spans) > 1:  # most turns are one LLM span: nothing to sort
            spans.sort(key=_START)
        return TurnView(self.record, spans, kept.get(self.record.answer_span_id))


@dataclass(slots=True, eq=False)
class Session:
    """One session's turns in event-time order (``turns`` sorted by record.start_ns)."""

    key: str
    session_id: str  # what signals are filed under ("" for a trace-only session)
    turns: list[OpenTurn] = field(default_factory=list)
    by_key: dict[str, OpenTurn] = field(default_factory=dict)
    pairs_seen: set[tuple[str, str, str, str]] = field(default_factory=set)
    last_end_ns: int = 0
    dropped: int = 0  # turns trimmed off the front: indexes count them
    armed: tuple[str, int, int] | None = None  # (turn key, end, signals) whose idle timer is set

    def renumber(self, start: int = 0) -> None:
        for n in range(start, len(self.turns)):
            self.turns[n].record.index = self.dropped + n

    def place(self, turn: OpenTurn) -> None:
        """Put ``turn`` (new, or whose start moved) at its event-time position; renumber."""
        turns = self.turns
        if turn.placed:
            turns.remove(turn)
        turn.placed = True
        start = turn.record.start_ns
        i = len(turns)
        while i > 0 and turns[i - 1].record.start_ns > start:
            i -= 1
        turns.insert(i, turn)
        self.renumber(i)

    def trim(self, keep: int) -> list[OpenTurn]:
        """Drop the oldest turns beyond ``keep``; returns them."""
        if len(self.turns) <= keep:
            return []
        dropped = self.turns[: len(self.turns) - keep]
        del self.turns[: len(self.turns) - keep]
        for turn in dropped:
            turn.placed = False
            self.by_key.pop(turn.key, None)
        # Indexes are dropped + position, so dropping from the front leaves them as they are.
        self.dropped += len(dropped)
        # Pairs with a dropped turn can never be evaluated again: forget them, in bulk (a
        # rebuild per trimmed turn measured 20% of the session state's cost once sessions fill).
        if len(self.pairs_seen) > 4 * keep:
            keys = self.by_key
            self.pairs_seen = {p for p in self.pairs_seen if p[0] in keys and p[1] in keys}
        return dropped
