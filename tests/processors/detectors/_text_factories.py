"""Builders of the session records the language detectors read (``TurnRecord``, ``TurnView``,
``CanonicalSpan``), with ids and times derived from a counter so tests stay short."""

from __future__ import annotations

import itertools
from typing import Any

from tracesieve.collector.contracts import KIND_LLM, KIND_RETRIEVAL, KIND_TOOL, CanonicalSpan, Message
from tracesieve.processors.sessions.model import TurnRecord, TurnView

_ids = itertools.count(1)
SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def _hex(n: int, width: int) -> str:
    return f"{n:0{width}x}"


def turn(
    user: str,
    answer: str = "Here is what I found.",
    *,
    index: int = 0,
    start_s: float | None = None,
    duration_s: float = 2.0,
    previous_assistant: str = "",
    message_count: int = 0,
    session_id: str = "s-1",
    failed: bool = False,
    has_answer: bool = True,
    service: str = "shop-bot",
    model: str = "gpt-4o-mini",
) -> TurnRecord:
    """One turn; ``start_s`` defaults to 60 s per ``index`` after ``T0``."""
    n = next(_ids)
    start_ns = T0 + int((index * 60 if start_s is None else start_s) * SECOND)
    end_ns = start_ns + int(duration_s * SECOND)
    return TurnRecord(
        session_id=session_id,
        trace_id=_hex(n, 32),
        start_ns=start_ns,
        end_ns=end_ns,
        index=index,
        answer_span_id=_hex(n, 16) if has_answer else "",
        answer_end_ns=end_ns if has_answer else 0,
        user_message=user,
        answer_text=answer if has_answer else "",
        previous_assistant=previous_assistant,
        message_count=message_count,
        service_name=service,
        model=model,
        failed=failed,
    )


def llm_span(
    output: str = "",
    *,
    messages: list[Message] | None = None,
    system: str = "",
    refusal: str = "",
    trace_id: str | None = None,
    kind: str = KIND_LLM,
    attributes: dict[str, str] | None = None,
    documents: list[dict[str, Any]] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    service: str = "shop-bot",
    model: str = "gpt-4o-mini",
) -> CanonicalSpan:
    n = next(_ids)
    return CanonicalSpan(
        trace_id=trace_id or _hex(n, 32),
        span_id=_hex(n, 16),
        parent_span_id="",
        name=f"{kind} {n}",
        start_ns=T0 + n * SECOND,
        end_ns=T0 + n * SECOND + SECOND // 2,
        service_name=service,
        attributes=dict(attributes or {}),
        kind=kind,
        request_model=model if kind == KIND_LLM else "",
        response_model=model if kind == KIND_LLM else "",
        system_instructions=system,
        input_messages=list(messages or []),
        output_text=output,
        refusal=refusal,
        retrieved_documents=list(documents or []),
        tool_calls=list(tool_calls or []),
    )


def view(
    question: str,
    answer: str,
    *,
    system: str = "",
    history: list[Message] | None = None,
    documents: list[str] | None = None,
    tool_results: list[str] | None = None,
    tool_attributes: dict[str, str] | None = None,
    retrieval: bool = False,
) -> TurnView:
    """A turn: an optional retrieval span (``documents``), optional tool spans (``tool_results``
    as their output), and the answering LLM span whose input is system + history + question."""
    trace_id = _hex(next(_ids), 32)
    spans: list[CanonicalSpan] = []
    if documents is not None or retrieval:
        docs = [{"id": f"doc-{i}", "score": 0.8, "content": d} for i, d in enumerate(documents or [])]
        spans.append(llm_span(kind=KIND_RETRIEVAL, trace_id=trace_id, documents=docs))
    for result in tool_results or []:
        spans.append(llm_span(result, kind=KIND_TOOL, trace_id=trace_id))
    if tool_attributes:
        spans.append(llm_span(kind=KIND_TOOL, trace_id=trace_id, attributes=tool_attributes))
    messages: list[Message] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.extend(history or [])
    messages.append({"role": "user", "content": question})
    answer_span = llm_span(answer, messages=messages, system=system, trace_id=trace_id)
    spans.append(answer_span)
    record = TurnRecord(
        session_id="s-1",
        trace_id=trace_id,
        start_ns=spans[0].start_ns,
        end_ns=answer_span.end_ns,
        answer_span_id=answer_span.span_id,
        answer_end_ns=answer_span.end_ns,
        user_message=question,
        answer_text=answer,
        service_name="shop-bot",
        model="gpt-4o-mini",
    )
    return TurnView(record=record, spans=spans, answer=answer_span)
