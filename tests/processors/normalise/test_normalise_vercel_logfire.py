"""Vercel AI SDK and Logfire / pydantic-ai (conventions.md §5)."""

from __future__ import annotations

import json

from .normalise_testkit import one


def test_vercel_do_generate_and_outer_span() -> None:
    span = one(
        {
            "operation.name": "ai.generateText.doGenerate chat",
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "gpt-4o",
            "ai.model.provider": "openai.chat",
            "ai.prompt.messages": json.dumps(
                [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool-call", "toolCallId": "t0", "toolName": "geo", "input": {"ip": "x"}}
                        ],
                    },
                    {
                        "role": "tool",
                        "content": [
                            {"type": "tool-result", "toolCallId": "t0", "toolName": "geo", "output": "Oslo"}
                        ],
                    },
                ]
            ),
            "ai.response.text": "Snowy.",
            "ai.response.toolCalls": json.dumps(
                [{"toolCallId": "t1", "toolName": "weather", "input": '{"city":"Oslo"}'}]
            ),
            "ai.response.finishReason": "tool-calls",
            "ai.response.id": "resp-1",
            "ai.response.model": "gpt-4o-2024-08-06",
            "ai.usage.promptTokens": 30,
            "ai.usage.completionTokens": 5,
            "ai.telemetry.metadata.sessionId": "s-9",
            "ai.telemetry.metadata.userId": "u-9",
            "gen_ai.system": "openai.chat",
        }
    )
    assert (span.kind, span.operation, span.convention, span.provider) == (
        "llm",
        "chat",
        "vercel_ai",
        "openai",
    )
    assert (span.request_model, span.response_model, span.response_id) == (
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "resp-1",
    )
    assert span.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "t0", "name": "geo", "arguments": '{"ip":"x"}'}],
        },
        {"role": "tool", "content": "Oslo", "tool_call_id": "t0"},
    ]
    assert span.output_text == "Snowy."
    assert span.tool_calls == [{"id": "t1", "name": "weather", "arguments": '{"city":"Oslo"}'}]
    assert span.finish_reasons == ["tool_call"]
    assert (span.input_tokens, span.output_tokens) == (30, 5)
    assert (span.session_id, span.user_id) == ("s-9", "u-9")
    outer = one(
        {
            "ai.operationId": "ai.streamText",
            "ai.model.id": "claude-3-5",
            "ai.model.provider": "anthropic.messages",
            "ai.prompt": json.dumps({"system": "Be kind.", "prompt": "Hello?"}),
            "ai.response.text": "Hi!",
            "ai.usage.inputTokens": 8,
            "ai.usage.outputTokens": 2,
        }
    )
    assert (outer.kind, outer.operation, outer.provider) == ("agent", "ai.streamText", "anthropic")
    assert outer.input_messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hello?"},
    ]
    assert (outer.output_text, outer.input_tokens, outer.output_tokens) == ("Hi!", 8, 2)


def test_vercel_old_names_embeddings_and_tools() -> None:
    old = one(
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "gpt-3.5-turbo",
            "ai.model.provider": "azure-openai.chat",
            "ai.result.text": "Old answer.",
            "ai.finishReason": "length",
        }
    )
    assert (old.provider, old.output_text, old.finish_reasons) == (
        "azure.ai.openai",
        "Old answer.",
        ["length"],
    )
    embed = one(
        {
            "ai.operationId": "ai.embedMany.doEmbed",
            "ai.model.id": "text-embedding-3-small",
            "ai.model.provider": "openai.embedding",
            "ai.values": ['"alpha"', '"beta"'],
            "ai.usage.tokens": 4,
        }
    )
    assert (embed.kind, embed.input_tokens) == ("embedding", 4)
    assert [m["content"] for m in embed.input_messages] == ["alpha", "beta"]
    tool = one(
        {
            "ai.operationId": "ai.toolCall",
            "ai.toolCall.name": "weather",
            "ai.toolCall.id": "t1",
            "ai.toolCall.args": '{"city":"Oslo"}',
            "ai.toolCall.result": '{"temp":4}',
        }
    )
    assert (tool.kind, tool.output_text) == ("tool", '{"temp":4}')


def test_logfire_v1_events_attribute() -> None:
    events = [
        {
            "event.name": "gen_ai.system.message",
            "content": "Be brief.",
            "role": "system",
            "gen_ai.system": "openai",
        },
        {
            "event.name": "gen_ai.user.message",
            "content": "Capital of France?",
            "role": "user",
            "gen_ai.message.index": 1,
        },
        {"event.name": "gen_ai.choice", "index": 0, "message": {"role": "assistant", "content": "Paris."}},
    ]
    span = one(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "logfire.msg": "chat gpt-4o",
            "events": json.dumps(events),
            "logfire.json_schema": "{}",
        },
        name="chat gpt-4o",
    )
    assert (span.kind, span.convention, span.provider) == ("llm", "logfire", "openai")
    assert span.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert span.output_text == "Paris."


def test_pydantic_ai_v2_plus() -> None:
    request = one(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "2+2?"}]}]
            ),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}]
            ),
            "model_request_parameters": "{}",
            "logfire.json_schema": "{}",
        },
        scope="pydantic-ai",
    )
    assert (request.kind, request.convention, request.output_text) == ("llm", "logfire", "4")
    assert request.system_instructions == "Be brief."
    all_messages = [
        {"role": "user", "parts": [{"type": "text", "content": "2+2?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "calc", "arguments": {"e": "2+2"}}],
        },
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "c1", "result": 4}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "4"}]},
    ]
    agent = one(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "calc_agent",
            "gen_ai.conversation.id": "conv-3",
            "pydantic_ai.all_messages": json.dumps(all_messages),
            "final_result": "4",
        },
        scope="pydantic-ai",
    )
    assert (agent.kind, agent.session_id, agent.output_text) == ("agent", "conv-3", "4")
    assert [m["role"] for m in agent.input_messages] == ["user", "assistant", "user"]
    assert agent.input_messages[2] == {"role": "user", "content": "4", "tool_call_id": "c1"}
    v2_tool = one(
        {"gen_ai.tool.name": "calc", "tool_arguments": '{"e":"2+2"}', "tool_response": "4"},
        name="running tool",
    )
    assert (v2_tool.kind, v2_tool.output_text) == ("tool", "4")


def test_logfire_instrument_openai_v1() -> None:
    span = one(
        {
            "request_data": json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}),
            "response_data": json.dumps(
                {
                    "message": {"role": "assistant", "content": "Hello!"},
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2},
                }
            ),
            "logfire.msg": "Chat Completion with 'gpt-4o'",
        }
    )
    assert (span.kind, span.request_model, span.output_text) == ("llm", "gpt-4o", "Hello!")
    assert span.input_messages == [{"role": "user", "content": "Hi"}]
    assert (span.input_tokens, span.output_tokens) == (3, 2)


def test_pydantic_ai_v1_events_without_logfire() -> None:
    # pydantic-ai's old event_mode="attributes" on a plain OTel SDK: recognised by its scope.
    events = [
        {"event.name": "gen_ai.user.message", "content": "Hi", "role": "user", "gen_ai.message.index": 0},
        {"event.name": "gen_ai.choice", "index": 0, "message": {"role": "assistant", "content": "Hello"}},
    ]
    span = one(
        {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "events": json.dumps(events)},
        scope="pydantic-ai",
        name="chat gpt-4o",
    )
    assert (span.convention, span.kind, span.output_text) == ("logfire", "llm", "Hello")
    assert span.input_messages == [{"role": "user", "content": "Hi"}]


def test_a_plain_span_gets_no_content() -> None:
    span = one({"http.request.method": "POST", "input.value": "x", "events": "[]", "session.id": "s"}, kind=2)
    assert (span.convention, span.kind, span.operation, span.has_content) == ("plain", "other", "", False)
    assert span.session_id == "s"
