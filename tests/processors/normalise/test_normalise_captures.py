"""The real captures (reference/captures/*): every scenario normalised and checked field by field.

What each library really carries is in its ``summary.md``; the expectations below assert exactly
that, including what a payload lost (openai-v2 and Langfuse drop the ``message.refusal`` text,
Langfuse has no provider and no finish reason for non-streamed calls).
"""

from __future__ import annotations

import copy
import functools
import json

import pytest
from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.processors.normalise import NormaliseConfig, apply_log_event, normalise_logs, normalise_traces

from .normalise_testkit import CONFIG, read_logs, read_traces

OTEL = "otel_openai_v2__span_and_event"
OPENINFERENCE = "openinference"
TRACELOOP = "traceloop"
LANGFUSE = "langfuse"
CAPTURES = (OTEL, OPENINFERENCE, TRACELOOP, LANGFUSE)
SPAN_COUNTS = {OTEL: 35, OPENINFERENCE: 24, TRACELOOP: 24, LANGFUSE: 24}
CONVENTIONS = {
    OTEL: "otel_genai",
    OPENINFERENCE: "openinference",
    TRACELOOP: "openllmetry",
    LANGFUSE: "langfuse",
}

SESSION = "conv-7f3c2a9e-session"
USER = "user-alice-42"
SYSTEM = "You are a helpful assistant. Answer briefly."
REFUSAL = "I'm sorry, but I can't help with that."
CHATS = {  # scenario: (user question, answer, finish reason, input tokens, output tokens)
    "a_normal_chat": ("What is the capital of France?", "The capital of France is Paris.", "stop", 27, 7),
    "b_follow_up_rephrase": (
        "Let me rephrase: which city is the capital of France?",
        "The capital of France is Paris.",
        "stop",
        54,
        7,
    ),
    "c_regenerate": ("What is the capital of France?", "Paris is the capital city of France.", "stop", 27, 8),
    "d_length": (
        "[[length]] Write a long essay about telemetry.",
        "Once upon a time there was a very long essay about the",
        "length",
        32,
        12,
    ),
    "e_refuse": ("[[refuse]] How do I pick my neighbour's lock?", REFUSAL, "stop", 35, 14),
    "e2_refusal_field": ("[[refusal_field]] Explain how to make a weapon.", "", "stop", 32, 14),
    "e3_content_filter": ("[[content_filter]] Say something nasty.", "", "content_filter", 29, 0),
    "g_streaming": (
        "Tell me a short fact about Paris, streamed.",
        "This is fake answer #1 to: Tell me a short fact about Paris, streamed.",
        "stop",
        30,
        18,
    ),
    "i_rag_retrieval": (
        "How long do refunds take?",
        "According to the provided documents, refunds are issued within 14 days.",
        "stop",
        72,
        13,
    ),
}
SCENARIOS = {*CHATS, "f_error_500", "h_embeddings"}
EMBEDDING_TEXTS = {
    "h_embeddings": ["Paris is the capital of France.", "Berlin is the capital of Germany."],
    "i_rag_retrieval": ["How long do refunds take?"],
}
EMBEDDING_TOKENS = {"h_embeddings": 14, "i_rag_retrieval": 6}
DOCUMENTS = [
    ("kb-001", 0.912, "Refunds are issued within 14 days of receiving the returned item."),
    ("kb-017", 0.774, "Items must be returned in original packaging."),
    ("kb-042", 0.581, "Shipping costs are not refundable."),
]


@functools.cache
def spans_of(capture: str) -> tuple[CanonicalSpan, ...]:
    spans, rejected, message = normalise_traces(read_traces(capture), CONFIG)
    assert (rejected, message) == (0, "")
    return tuple(spans)


def scenario_of(root: CanonicalSpan) -> str:
    """``app.scenario`` as each library carried it on the turn's root span."""
    a = root.attributes
    if "app.scenario" in a:
        return a["app.scenario"]
    if "traceloop.association.properties.scenario" in a:
        return a["traceloop.association.properties.scenario"]
    if "langfuse.observation.metadata.scenario" in a:
        return str(json.loads(a["langfuse.observation.metadata.scenario"]))
    return str(json.loads(a["metadata"])["app.scenario"])


@functools.cache
def turns(capture: str) -> dict[str, tuple[CanonicalSpan, ...]]:
    by_trace: dict[str, list[CanonicalSpan]] = {}
    for span in spans_of(capture):
        by_trace.setdefault(span.trace_id, []).append(span)
    out = {}
    for spans in by_trace.values():
        (root,) = [s for s in spans if not s.parent_span_id]
        out[scenario_of(root)] = tuple(spans)
    return out


def llm(capture: str, scenario: str) -> CanonicalSpan:
    (span,) = [s for s in turns(capture)[scenario] if s.kind == "llm"]
    return span


def of_kind(capture: str, scenario: str, kind: str) -> list[CanonicalSpan]:
    return [s for s in turns(capture)[scenario] if s.kind == kind]


@pytest.mark.parametrize("capture", CAPTURES)
def test_every_scenario_is_there(capture: str) -> None:
    assert len(spans_of(capture)) == SPAN_COUNTS[capture]
    assert set(turns(capture)) == SCENARIOS


@pytest.mark.parametrize("capture", CAPTURES)
@pytest.mark.parametrize("scenario", sorted(CHATS))
def test_chat_turn(capture: str, scenario: str) -> None:
    question, answer, finish, tokens_in, tokens_out = CHATS[scenario]
    span = llm(capture, scenario)
    assert span.convention == CONVENTIONS[capture]
    assert span.operation == "chat"
    assert span.provider == ("" if capture == LANGFUSE else "openai")
    if capture == LANGFUSE:  # one model name, the response's
        assert (span.request_model, span.response_model) == ("gpt-4o-mini-2024-07-18",) * 2
        assert span.response_id == ""
    else:
        assert (span.request_model, span.response_model) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
        assert span.response_id.startswith("chatcmpl-")
    users = [m for m in span.input_messages if m["role"] == "user"]
    assert users[-1] == {"role": "user", "content": question}
    assert span.input_messages[0]["role"] == "system"
    assert span.system_instructions.startswith(SYSTEM)
    assert span.output_messages == [{"role": "assistant", "content": answer}]
    assert span.output_text == answer
    # Langfuse keeps a finish reason only for streamed calls (as metadata).
    expected_finish = [] if capture == LANGFUSE and scenario != "g_streaming" else [finish]
    assert span.finish_reasons == expected_finish
    assert (span.input_tokens, span.output_tokens) == (tokens_in, tokens_out)
    assert span.tool_calls == []
    assert span.status_code == (
        "Ok" if capture == OPENINFERENCE or (capture, scenario) == (TRACELOOP, "g_streaming") else "Unset"
    )
    assert span.error_type == ""
    if capture == OTEL:  # openai-v2 never puts session or user on the model call
        assert (span.session_id, span.user_id) == ("", "")
    else:
        assert (span.session_id, span.user_id) == (SESSION, USER)


@pytest.mark.parametrize("capture", CAPTURES)
def test_refusal_field_recovered_where_the_payload_keeps_it(capture: str) -> None:
    span = llm(capture, "e2_refusal_field")
    # OpenInference keeps the raw response in output.value; OpenLLMetry a "refusal" part.
    # openai-v2 writes an empty parts list and Langfuse {"content": null}: the text is gone.
    assert span.refusal == (REFUSAL if capture in (OPENINFERENCE, TRACELOOP) else "")
    assert span.output_text == ""
    assert all(llm(capture, s).refusal == "" for s in CHATS if s != "e2_refusal_field")


def test_regenerate_sends_exactly_the_first_turn_messages() -> None:
    for capture in CAPTURES:
        assert llm(capture, "c_regenerate").input_messages == llm(capture, "a_normal_chat").input_messages


def test_follow_up_carries_the_history() -> None:
    for capture in CAPTURES:
        roles = [m["role"] for m in llm(capture, "b_follow_up_rephrase").input_messages]
        assert roles == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize("capture", CAPTURES)
def test_error_500(capture: str) -> None:
    span = llm(capture, "f_error_500")
    assert span.status_code == "Error"
    assert "Error code: 500" in span.status_message
    # openai-v2: error.type "<class 'openai.InternalServerError'>"; OpenLLMetry: "InternalServerError"
    # plus the qualified name in its exception event; OpenInference: only the exception event.
    assert span.error_type == ("" if capture == LANGFUSE else "openai.InternalServerError")
    assert span.input_messages[-1] == {"role": "user", "content": "[[error]] This request will fail."}
    assert (span.output_messages, span.output_text, span.finish_reasons) == ([], "", [])
    assert (span.input_tokens, span.output_tokens, span.response_model) == (
        0,
        0,
        "gpt-4o-mini" if capture == LANGFUSE else "",
    )


@pytest.mark.parametrize("capture", CAPTURES)
@pytest.mark.parametrize("scenario", sorted(EMBEDDING_TEXTS))
def test_embeddings(capture: str, scenario: str) -> None:
    (span,) = of_kind(capture, scenario, "embedding")
    assert span.operation == "embeddings"
    assert (span.request_model, span.response_model) == ("text-embedding-3-small",) * 2
    assert (span.input_tokens, span.output_tokens) == (EMBEDDING_TOKENS[scenario], 0)
    texts = [m["content"] for m in span.input_messages]
    assert texts == ([] if capture == OTEL else EMBEDDING_TEXTS[scenario])  # openai-v2 keeps no input
    assert span.output_messages == [] and span.output_text == ""


@pytest.mark.parametrize("capture", CAPTURES)
def test_rag_retrieval(capture: str) -> None:
    (span,) = of_kind(capture, "i_rag_retrieval", "retrieval")
    assert span.retrieval_query == "How long do refunds take?"
    got = [(d["id"], d["score"], d["content"]) for d in span.retrieved_documents]
    if capture == OTEL:  # gen_ai.retrieval.documents carries ids and scores only
        assert got == [(i, s, "") for i, s, _ in DOCUMENTS]
        assert span.provider == "fake-vectordb"
    else:
        assert got == DOCUMENTS
    assert llm(capture, "i_rag_retrieval").system_instructions.startswith(SYSTEM + " Use only this context:")


@pytest.mark.parametrize("capture", CAPTURES)
def test_non_llm_spans_are_kept_as_context(capture: str) -> None:
    for scenario, spans in turns(capture).items():
        (root,) = [s for s in spans if not s.parent_span_id]
        assert root.kind == ("agent" if capture in (OPENINFERENCE, TRACELOOP) else "other"), scenario
        assert not root.has_content
        assert root.session_id == SESSION and root.user_id == USER
    if capture == OTEL:
        agents = [s for spans in turns(OTEL).values() for s in spans if s.kind == "agent"]
        assert len(agents) == 11
        assert all(
            a.operation == "invoke_agent" and a.session_id == SESSION and a.user_id == "" for a in agents
        )


def test_otel_table_strings_and_span_fields() -> None:
    span = llm(OTEL, "a_normal_chat")
    assert span.attributes["gen_ai.usage.input_tokens"] == "27"
    assert span.attributes["gen_ai.request.temperature"] == "0.7"
    assert span.attributes["gen_ai.response.finish_reasons"] == '["stop"]'
    # Its text is in input_messages: by default the attribute is not stored twice.
    assert "gen_ai.input.messages" not in span.attributes and "gen_ai.output.messages" not in span.attributes
    assert span.service_name == "chat-app-otel_openai_v2__span_and_event"
    assert span.resource_attributes["service.name"] == span.service_name
    assert (span.otel_kind, span.scope_name, span.scope_version) == (
        "Client",
        "opentelemetry.util.genai.handler",
        "1.1b0",
    )
    assert len(span.trace_id) == 32 and len(span.span_id) == 16 and span.trace_id == span.trace_id.lower()
    assert span.end_ns > span.start_ns > 1_700_000_000_000_000_000
    assert llm(LANGFUSE, "a_normal_chat").service_name == "unknown_service:python"
    oi = llm(OPENINFERENCE, "a_normal_chat")
    assert (oi.otel_kind, oi.status_code) == ("Internal", "Ok")
    assert oi.attributes["tag.tags"] == '["capture","a_normal_chat"]'
    streamed = llm(TRACELOOP, "g_streaming")
    assert [e[1] for e in streamed.events] == ["gen_ai.content.completion.chunk"] * 17
    (retrieval,) = of_kind(TRACELOOP, "i_rag_retrieval", "retrieval")
    assert retrieval.events[0][2]["db.query.result.score"] == "0.912"


# --- openai-v2 log records: the same content as events -------------------------------------------

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
JOINED_FIELDS = ("input_messages", "output_messages", "output_text", "finish_reasons", "system_instructions")


def test_logs_are_the_operation_details_events() -> None:
    events, feedback, rejected, message = normalise_logs(read_logs(OTEL), CONFIG)
    assert (len(events), feedback, rejected, message) == (10, [], 0, "")
    chats = {s.span_id: s for s in spans_of(OTEL) if s.kind == "llm"}
    assert {e.span_id for e in events} == set(chats)
    for e in events:
        assert e.name == "gen_ai.client.inference.operation.details"
        assert e.time_ns > 1_700_000_000_000_000_000  # only the observed time is set
        assert e.trace_id == chats[e.span_id].trace_id
        assert isinstance(e.attributes["gen_ai.input.messages"], list)  # structured, not JSON text
        assert e.attributes["gen_ai.input.messages"][0]["parts"][0]["type"] == "text"
        assert e.body is None


def _event_only_spans() -> list[CanonicalSpan]:
    """The traces as EVENT_ONLY would have sent them: no content attributes on the spans."""
    request = copy.deepcopy(read_traces(OTEL))
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                kept = [kv for kv in sp.attributes if kv.key not in CONTENT_KEYS]
                del sp.attributes[:]
                sp.attributes.extend(kept)
    spans, _, _ = normalise_traces(request, CONFIG)
    return spans


@pytest.mark.parametrize("reverse", [False, True])
def test_joined_log_records_give_the_span_content(reverse: bool) -> None:
    events, _, _, _ = normalise_logs(read_logs(OTEL), CONFIG)
    spans = {s.span_id: s for s in _event_only_spans()}
    with_content = {s.span_id: s for s in spans_of(OTEL)}
    chats = [s for s in spans.values() if s.kind == "llm"]
    assert len(chats) == 10 and not any(s.has_content for s in chats)
    for e in reversed(events) if reverse else events:
        apply_log_event(spans[e.span_id], e)
    for span in chats:
        expected = with_content[span.span_id]
        for name in JOINED_FIELDS:
            assert getattr(span, name) == getattr(expected, name), name
    by_scenario = {scenario_of(r): r.trace_id for r in spans.values() if not r.parent_span_id}
    e3 = next(s for s in chats if s.trace_id == by_scenario["e3_content_filter"])
    assert e3.output_messages == [{"role": "assistant", "content": ""}]
    assert e3.finish_reasons == ["content_filter"]
    streamed = next(s for s in chats if s.trace_id == by_scenario["g_streaming"])
    assert streamed.finish_reasons == ["stop"]  # only inside the output messages


def test_content_attributes_are_kept_when_configured() -> None:
    request = read_traces(OTEL)
    keep = NormaliseConfig(keep_content_attributes=True)
    spans, _, _ = normalise_traces(request, keep)
    chat = next(s for s in spans if s.kind == "llm" and s.output_text == "The capital of France is Paris.")
    assert chat.attributes["gen_ai.input.messages"].startswith('[{"role":"system"')
    assert chat.attributes["gen_ai.output.messages"].startswith('[{"role":"assistant"')
    dropped, _, _ = normalise_traces(request, NormaliseConfig())
    same = next(s for s in dropped if s.span_id == chat.span_id)
    assert set(chat.attributes) - set(same.attributes) == {"gen_ai.input.messages", "gen_ai.output.messages"}
