"""Joining GenAI log-record events to their span (content that was not put on the span)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tracesieve.collector.contracts import KIND_LLM, KIND_OTHER, CanonicalSpan, LogEvent

from ._content import input_messages, output_messages
from ._events import CHOICE, COMPLETION, DETAILS, MESSAGE_ROLES, PROMPT, fold_messages
from ._finish import derive_content
from ._view import SpanView
from ._vocab import error_type
from .conventions import _fill, otel_genai

__all__ = ["apply_log_event"]

_log = logging.getLogger(__name__)

# The fields an event may fill; a field the span had before its first event is never touched.
_FIELDS = (
    "kind",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "response_id",
    "system_instructions",
    "input_messages",
    "output_messages",
    "output_text",
    "refusal",
    "finish_reasons",
    "input_tokens",
    "output_tokens",
    "error_type",
    "tool_calls",
    "retrieval_query",
    "retrieved_documents",
    "convention",
)
_EXCEPTION = "gen_ai.client.operation.exception"
_JOINABLE = frozenset((DETAILS, CHOICE, PROMPT, COMPLETION, _EXCEPTION, *MESSAGE_ROLES))


@dataclass(slots=True)
class _Joined:
    """Kept on the span (``CanonicalSpan.log_join``) between two events of the same span."""

    lacking: tuple[str, ...]
    events: list[LogEvent] = field(default_factory=list)


def _lacks(span: CanonicalSpan, name: str) -> bool:
    value = getattr(span, name)
    if name == "kind":
        return bool(value == KIND_OTHER)
    if name == "convention":
        return value in ("", "plain")
    return not value


def apply_log_event(span: CanonicalSpan, event: LogEvent) -> None:
    """Merge a GenAI log-record event into its span, filling only what the span lacks.

    Handles ``gen_ai.client.inference.operation.details`` (the inference attribute set,
    content structured), the 1.28–1.36 ``gen_ai.{system,user,assistant,tool}.message`` and
    ``gen_ai.choice`` events, ``gen_ai.content.prompt`` / ``.completion`` records and
    ``gen_ai.client.operation.exception``. The result does not depend on the order in which a
    span's events arrive: message events are ordered by time (they carry no index), choices by
    their ``index``. An event of another span, ``gen_ai.evaluation.result`` (feedback, handled
    elsewhere) and unknown events leave the span unchanged.
    """
    if event.name not in _JOINABLE or event.trace_id != span.trace_id or event.span_id != span.span_id:
        return
    state = span.log_join
    if not isinstance(state, _Joined):
        state = _Joined(tuple(f for f in _FIELDS if _lacks(span, f)))
        span.log_join = state
    state.events.append(event)
    if not state.lacking:
        return
    # Rebuilt from all the span's events at each arrival: that is what makes the order irrelevant.
    try:
        merged = _fold(span, state.events)
    except Exception as exc:
        # DESIGN.md, delivery: bad input never poisons a batch, and this runs in the assembler,
        # after the ack. An event the merge cannot read is left out; the span keeps the rest.
        state.events.pop()
        _log.warning("log event %s of span %s not joined (%s)", event.name, span.span_id, type(exc).__name__)
        return
    for name in state.lacking:
        setattr(span, name, getattr(merged, name))


def _fold(span: CanonicalSpan, events: list[LogEvent]) -> CanonicalSpan:
    merged = CanonicalSpan(span.trace_id, span.span_id, span.parent_span_id, span.name, 0, 0)
    for e in sorted((e for e in events if e.name == DETAILS), key=lambda e: e.time_ns):
        otel_genai.extract(merged, SpanView(e.attributes, [], span.name, span.scope_name))
        declared = e.attributes.get("error.type")
        if isinstance(declared, str) and not merged.error_type:
            merged.error_type = error_type(declared)
    message_events = [
        (e.name, e.time_ns, e.body) for e in events if e.name == CHOICE or e.name in MESSAGE_ROLES
    ]
    if message_events:
        prompts, out = fold_messages(message_events)
        _fill.inputs(merged, prompts)
        _fill.outputs(merged, out)
    for e in sorted(events, key=lambda e: e.time_ns):
        attrs = e.attributes
        if e.name == PROMPT:
            _fill.inputs(merged, input_messages(attrs.get("gen_ai.prompt", e.body), plain_as_user=True))
        elif e.name == COMPLETION:
            _fill.outputs(merged, output_messages(attrs.get("gen_ai.completion", e.body)))
        elif e.name == _EXCEPTION and not merged.error_type:
            t = attrs.get("exception.type")
            merged.error_type = t if isinstance(t, str) else ""
        _fill.provider_name(merged, attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"))
    if merged.input_messages or merged.output_messages:
        _fill.operation(merged, "chat", KIND_LLM)  # content events only exist for model calls
    derive_content(merged)
    merged.convention = "otel_genai"
    return merged
