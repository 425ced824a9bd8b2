"""OpenTelemetry GenAI conventions, every generation and placement (conventions.md §1)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from tracesieve.collector.contracts import CanonicalSpan, LogEvent
from tracesieve.processors.normalise import NormaliseConfig, apply_log_event, normalise_traces

from .normalise_testkit import TRACE_ID, log_events, new_span_id, normalise, one, trace_request

INPUT = [
    {
        "role": "user",
        "parts": [
            {"type": "text", "content": "Weather in Oslo?"},
            {"type": "uri", "modality": "image", "uri": "https://x/y.png"},
            {"type": "text", "content": "And tomorrow?"},
        ],
    },
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Oslo"}}],
    },
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "4°C, snow"}]},
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c2", "result": {"temp": 4}}]},
]
EXPECTED_INPUT = [
    {"role": "user", "content": "Weather in Oslo?\nAnd tomorrow?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "name": "weather", "arguments": '{"city":"Oslo"}'}],
    },
    {"role": "tool", "content": "4°C, snow", "tool_call_id": "c1"},
    {"role": "tool", "content": '{"temp":4}', "tool_call_id": "c2"},
]
OUTPUT = [
    {
        "role": "assistant",
        "parts": [
            {"type": "reasoning", "content": "snow is likely"},
            {"type": "text", "content": "4°C and snowing."},
        ],
        "finish_reason": "stop",
    }
]


def chat_attrs(**extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.usage.input_tokens": 21,
        "gen_ai.usage.output_tokens": 9,
        **extra,
    }


def test_current_attributes_as_json_text() -> None:
    span = one(
        chat_attrs(
            **{
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are terse."}]),
                "gen_ai.input.messages": json.dumps(INPUT),
                "gen_ai.output.messages": json.dumps(OUTPUT),
                "gen_ai.conversation.id": "conv-1",
            }
        )
    )
    assert (span.kind, span.operation, span.provider, span.convention) == (
        "llm",
        "chat",
        "openai",
        "otel_genai",
    )
    assert (span.request_model, span.response_model, span.response_id) == (
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "chatcmpl-1",
    )
    assert (span.input_tokens, span.output_tokens) == (21, 9)
    assert span.system_instructions == "You are terse."
    assert span.input_messages == EXPECTED_INPUT
    assert span.output_messages == [{"role": "assistant", "content": "4°C and snowing."}]
    assert span.output_text == "4°C and snowing."  # the reasoning part is not output text
    assert span.finish_reasons == ["stop"]  # from the output messages: no finish_reasons attribute
    assert span.session_id == "conv-1"


def test_current_attributes_structured() -> None:
    # Some SDKs can put AnyValue kvlists/arrays on spans: same result as the JSON text.
    span = one(chat_attrs(**{"gen_ai.input.messages": INPUT, "gen_ai.output.messages": OUTPUT}))
    assert span.input_messages == EXPECTED_INPUT
    assert span.output_text == "4°C and snowing."
    kept, _, _ = normalise_traces(
        trace_request({"attrs": chat_attrs(**{"gen_ai.input.messages": INPUT})}),
        NormaliseConfig(keep_content_attributes=True),
    )
    arguments = json.loads(kept[0].attributes["gen_ai.input.messages"])[1]["parts"][0]["arguments"]
    assert arguments == {"city": "Oslo"}


def test_tool_call_output_and_refusal_part() -> None:
    output = [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c9", "name": "lookup", "arguments": '{"q":"x"}'}],
        },
        {"role": "assistant", "parts": [{"type": "refusal", "content": "I can't."}], "finish_reason": "stop"},
    ]
    span = one(
        chat_attrs(
            **{
                "gen_ai.output.messages": json.dumps(output),
                "gen_ai.response.finish_reasons": ["tool_calls", "stop"],
            }
        )
    )
    assert span.tool_calls == [{"id": "c9", "name": "lookup", "arguments": '{"q":"x"}'}]
    assert span.finish_reasons == ["tool_call", "stop"]  # the attribute wins, normalised
    assert span.refusal == "I can't."
    assert span.output_text == ""


def test_old_system_values_and_token_names() -> None:
    cases = {
        "az.ai.openai": "azure.ai.openai",
        "az.ai.inference": "azure.ai.inference",
        "vertex_ai": "gcp.vertex_ai",
        "gemini": "gcp.gemini",
        "xai": "x_ai",
        "OpenAI": "openai",
        "anthropic": "anthropic",
    }
    for old, new in cases.items():
        span = one(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": old,
                "gen_ai.usage.prompt_tokens": 5,
                "gen_ai.usage.completion_tokens": "7",
            }
        )
        assert span.provider == new
        assert (span.input_tokens, span.output_tokens) == (5, 7)


def test_provider_name_wins_over_system() -> None:
    span = one(
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock", "gen_ai.system": "openai"}
    )
    assert span.provider == "aws.bedrock"


def test_tool_agent_embedding_retrieval_spans() -> None:
    tool = one(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "weather",
            "gen_ai.tool.call.id": "c1",
            "gen_ai.tool.call.arguments": '{"city":"Oslo"}',
            "gen_ai.tool.call.result": '{"temp": 4}',
        },
        kind=1,
    )
    assert (tool.kind, tool.operation, tool.output_text, tool.tool_calls) == (
        "tool",
        "execute_tool",
        '{"temp":4}',
        [],
    )
    bare_tool = one({"gen_ai.tool.name": "weather"})  # no operation name: a tool name marks a tool
    assert bare_tool.kind == "tool"
    agent = one({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"})
    workflow = one({"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "triage"})
    assert agent.kind == workflow.kind == "agent"
    emb = one(
        {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "e5", "gen_ai.usage.input_tokens": 3}
    )
    assert (emb.kind, emb.request_model, emb.input_tokens) == ("embedding", "e5", 3)
    docs = [{"id": "d1", "score": 0.5, "content": "alpha", "source": "x"}, {"id": 7, "score": "0.25"}]
    retrieval = one(
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.retrieval.query.text": "alpha?",
            "gen_ai.retrieval.documents": json.dumps(docs),
        }
    )
    assert retrieval.kind == "retrieval" and retrieval.retrieval_query == "alpha?"
    assert retrieval.retrieved_documents == [
        {"id": "d1", "score": 0.5, "content": "alpha"},
        {"id": "7", "score": 0.25, "content": ""},
    ]


def test_operation_details_as_a_span_event() -> None:
    details = chat_attrs(**{"gen_ai.input.messages": INPUT, "gen_ai.output.messages": OUTPUT})
    span = one(
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"},
        events=[("gen_ai.client.inference.operation.details", details)],
    )
    assert span.input_messages == EXPECTED_INPUT
    assert span.output_text == "4°C and snowing."
    assert (span.response_model, span.input_tokens) == ("gpt-4o-2024-08-06", 21)
    assert span.events[0][1] == "gen_ai.client.inference.operation.details"


def test_semconv_1_27_content_span_events() -> None:
    span = one(
        {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4", "gen_ai.operation.name": "chat"},
        events=[
            ("gen_ai.content.prompt", {"gen_ai.prompt": json.dumps([{"role": "user", "content": "Hi?"}])}),
            (
                "gen_ai.content.completion",
                {
                    "gen_ai.completion": json.dumps(
                        [{"role": "assistant", "content": "Hello.", "finish_reason": "stop"}]
                    )
                },
            ),
        ],
    )
    assert span.input_messages == [{"role": "user", "content": "Hi?"}]
    assert (span.output_text, span.finish_reasons) == ("Hello.", ["stop"])


MESSAGE_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("gen_ai.system.message", {"content": "Be brief."}),
    ("gen_ai.user.message", {"content": "Weather in Oslo?"}),
    (
        "gen_ai.assistant.message",
        {
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                }
            ]
        },
    ),
    ("gen_ai.tool.message", {"content": "4°C", "id": "c1"}),
    ("gen_ai.choice", {"index": 1, "finish_reason": "length", "message": {"content": "It is 4"}}),
    (
        "gen_ai.choice",
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "4°C."}},
    ),
]
EXPECTED_1_28_INPUT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "name": "weather", "arguments": '{"city":"Oslo"}'}],
    },
    {"role": "tool", "content": "4°C", "tool_call_id": "c1"},
]


def _check_1_28(span: CanonicalSpan) -> None:
    assert span.input_messages == EXPECTED_1_28_INPUT
    assert span.output_messages == [
        {"role": "assistant", "content": "4°C."},
        {"role": "assistant", "content": "It is 4"},
    ]
    assert (span.output_text, span.finish_reasons) == ("4°C.", ["stop", "length"])
    assert span.system_instructions == "Be brief."


@pytest.mark.parametrize("spread", [False, True])
def test_semconv_1_28_message_span_events(spread: bool) -> None:
    # Azure AI Inference / Semantic Kernel put the body in gen_ai.event.content; others spread it.
    events = [
        (
            name,
            {"gen_ai.system": "openai", **body} if spread else {"gen_ai.event.content": json.dumps(body)},
            10 + i,
        )
        for i, (name, body) in enumerate(MESSAGE_BODIES)
    ]
    span = one({"gen_ai.system": "openai", "gen_ai.operation.name": "chat"}, events=events)
    _check_1_28(span)


def _bare_chat_span() -> CanonicalSpan:
    (span,) = normalise(
        {
            "attrs": {"gen_ai.system": "openai", "gen_ai.operation.name": "chat"},
            "span_id": bytes.fromhex("00f067aa0ba902b7"),
        }
    )
    assert not span.has_content
    return span


def _records_1_28() -> list[dict[str, Any]]:
    records = []
    for i, (name, body) in enumerate(MESSAGE_BODIES):
        record: dict[str, Any] = {
            "span_id": bytes.fromhex("00f067aa0ba902b7"),
            "body": body,
            "observed": 100 + i,
        }
        if i % 2:  # older SDKs: the name only in the event.name attribute
            record["attrs"] = {"event.name": name, "gen_ai.system": "openai"}
        else:
            record["event_name"] = name
            record["attrs"] = {"gen_ai.system": "openai"}
        records.append(record)
    return records


def test_semconv_1_28_log_events_in_any_arrival_order() -> None:
    events = log_events(*_records_1_28())
    assert [e.name for e in events] == [name for name, _ in MESSAGE_BODIES]
    assert [e.time_ns for e in events] == list(range(100, 106))
    for order in itertools.permutations(events):
        span = _bare_chat_span()
        for e in order:
            apply_log_event(span, e)
        _check_1_28(span)
        assert (span.kind, span.provider, span.convention) == ("llm", "openai", "otel_genai")


def test_semconv_1_28_log_events_fill_only_what_the_span_lacks() -> None:
    (span,) = normalise(
        {
            "attrs": {
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": json.dumps([{"role": "user", "content": "Own?"}]),
            },
            "span_id": bytes.fromhex("00f067aa0ba902b7"),
        }
    )
    for e in reversed(log_events(*_records_1_28())):
        apply_log_event(span, e)
    assert span.input_messages == [{"role": "user", "content": "Own?"}]  # the span's own content stays
    assert span.output_text == "4°C." and span.finish_reasons == ["stop", "length"]


def test_operation_details_log_record_with_structured_values() -> None:
    span_id = new_span_id()
    (span,) = normalise(
        {"attrs": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}, "span_id": span_id}
    )
    details = chat_attrs(
        **{
            "gen_ai.input.messages": INPUT,
            "gen_ai.output.messages": OUTPUT,
            "gen_ai.system_instructions": [{"type": "text", "content": "You are terse."}],
            "gen_ai.response.finish_reasons": ["stop"],
            "error.type": "<class 'openai.APITimeoutError'>",
        }
    )
    (event,) = log_events(
        {
            "span_id": span_id,
            "event_name": "gen_ai.client.inference.operation.details",
            "attrs": details,
            "time": 5,
        }
    )
    assert event.attributes["gen_ai.input.messages"][0]["parts"][1]["uri"] == "https://x/y.png"
    apply_log_event(span, event)
    assert span.input_messages == EXPECTED_INPUT
    assert (span.output_text, span.finish_reasons, span.system_instructions) == (
        "4°C and snowing.",
        ["stop"],
        "You are terse.",
    )
    assert (span.request_model, span.response_model, span.output_tokens) == ("gpt-4o", "gpt-4o-2024-08-06", 9)
    assert span.error_type == "openai.APITimeoutError"


def test_events_that_leave_the_span_alone() -> None:
    span_id = new_span_id()
    (span,) = normalise({"attrs": {"gen_ai.operation.name": "chat"}, "span_id": span_id})
    before = repr(span)
    other_span, unknown = log_events(
        {
            "span_id": span_id,
            "event_name": "gen_ai.evaluation.result",  # feedback: normalise_logs keeps it apart
            "attrs": {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.2},
        },
        {"span_id": new_span_id(), "event_name": "gen_ai.user.message", "body": {"content": "not mine"}},
        {"span_id": span_id, "event_name": "gen_ai.something.new", "body": {"content": "?"}},
    )
    # Were one handed over anyway (an older ingest log), it must leave the span alone too.
    evaluation = LogEvent(TRACE_ID.hex(), span_id.hex(), "gen_ai.evaluation.result", 1, {}, None)
    for e in (evaluation, other_span, unknown):
        apply_log_event(span, e)
    assert repr(span) == before
    assert span.log_join is None
    assert other_span.trace_id == TRACE_ID.hex()
