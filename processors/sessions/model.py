"""What detectors see of a session: compact records of past turns, and the turn being evaluated.

A *turn* is one user message and the work that answered it: the spans of one trace that share
the same last user message (an agent loop's LLM calls, its retrievals and tool calls). Its
*answer* is the last LLM span, by end time, that produced text (or a refusal) rather than only
tool calls.

:class:`TurnRecord` is what the session state keeps per turn once the turn's spans have been
seen: small, JSON-able (snapshots), bounded by the ``max_*_chars`` limits of the session
config. :class:`TurnView` is the complete turn, spans included, handed to ``on_turn``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracesieve.collector.contracts import (
    KIND_LLM,
    KIND_RETRIEVAL,
    KIND_TOOL,
    CanonicalSpan,
    Message,
    RetrievedDocument,
    SpanRef,
)

__all__ = ["TurnRecord", "TurnView"]


@dataclass(slots=True)
class TurnRecord:
    """One turn of a session, as kept in the session state and its snapshots."""

    session_id: str
    trace_id: str
    start_ns: int  # earliest span start of the turn (event time)
    end_ns: int  # latest span end of the turn
    index: int = 0  # position in the session by event time, 0-based
    answer_span_id: str = ""  # "" while the turn has no answer
    answer_end_ns: int = 0
    user_message: str = ""  # the turn's last user message (truncated)
    answer_text: str = ""  # the answer's text, or its refusal (truncated)
    # The message the assistant answered before this turn's user message, if the app sent
    # history: lets a detector tell an answer to a clarifying question from a new question.
    previous_assistant: str = ""
    message_count: int = 0  # input messages of the answer call (history length)
    service_name: str = ""
    user_id: str = ""
    model: str = ""  # response model, else request model, of the answer
    operation: str = ""
    failed: bool = False  # the answer span or the turn's root ended in error
    # signal name -> score, for every signal on any span of the turn.
    signals: dict[str, float] = field(default_factory=dict)

    def ref(self) -> SpanRef:
        """The answer span (the span a reviewer judges) as a signal target."""
        return SpanRef(
            self.session_id, self.trace_id, self.answer_span_id, self.answer_end_ns, self.service_name
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TurnRecord:
        return cls(**data)


@dataclass(slots=True)
class TurnView:
    """A turn with all its spans seen so far (start-time order), for ``Detector.on_turn``."""

    record: TurnRecord
    spans: list[CanonicalSpan]
    answer: CanonicalSpan | None

    @property
    def llm_spans(self) -> list[CanonicalSpan]:
        return [s for s in self.spans if s.kind == KIND_LLM]

    @property
    def retrievals(self) -> list[CanonicalSpan]:
        return [s for s in self.spans if s.kind == KIND_RETRIEVAL]

    @property
    def tools(self) -> list[CanonicalSpan]:
        return [s for s in self.spans if s.kind == KIND_TOOL]

    @property
    def input_messages(self) -> list[Message]:
        """The answer call's input (history as sent), else the first LLM call's."""
        if self.answer is not None and self.answer.input_messages:
            return self.answer.input_messages
        for span in self.spans:
            if span.kind == KIND_LLM and span.input_messages:
                return span.input_messages
        return []

    @property
    def documents(self) -> list[RetrievedDocument]:
        docs: list[RetrievedDocument] = []
        for span in self.spans:
            docs.extend(span.retrieved_documents)
        return docs
