"""OpenInference: flattened messages, tool calls, multimodal contents, raw I/O (conventions.md §2)."""

from __future__ import annotations

import json

from .normalise_testkit import one

IN = "llm.input_messages"
OUT = "llm.output_messages"


def test_tool_calls_and_tool_results() -> None:
    span = one(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-2024-08-06",
            f"{IN}.0.message.role": "system",
            f"{IN}.0.message.content": "Use tools.",
            f"{IN}.1.message.role": "user",
            f"{IN}.1.message.content": "Weather in Oslo?",
            f"{IN}.2.message.role": "assistant",
            f"{IN}.2.message.tool_calls.0.tool_call.id": "c1",
            f"{IN}.2.message.tool_calls.0.tool_call.function.name": "weather",
            f"{IN}.2.message.tool_calls.0.tool_call.function.arguments": '{"city": "Oslo"}',
            f"{IN}.3.message.role": "tool",
            f"{IN}.3.message.tool_call_id": "c1",
            f"{IN}.3.message.name": "weather",
            f"{IN}.3.message.content": "4°C",
            f"{OUT}.0.message.role": "assistant",
            f"{OUT}.0.message.tool_calls.0.tool_call.id": "c2",
            f"{OUT}.0.message.tool_calls.0.tool_call.function.name": "forecast",
            f"{OUT}.0.message.tool_calls.0.tool_call.function.arguments": '{"days": 1}',
            f"{OUT}.0.message.tool_calls.1.tool_call.id": "c3",
            f"{OUT}.0.message.tool_calls.1.tool_call.function.name": "alerts",
            f"{OUT}.0.message.tool_calls.1.tool_call.function.arguments": "{}",
            "llm.finish_reason": "tool_calls",
            "llm.token_count.prompt": 40,
            "llm.token_count.completion": 12,
        },
        kind=1,
    )
    assert (span.kind, span.operation, span.convention, span.provider) == (
        "llm",
        "chat",
        "openinference",
        "openai",
    )
    assert span.response_model == "gpt-4o-2024-08-06"
    assert span.input_messages == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'}],
        },
        {"role": "tool", "content": "4°C", "tool_call_id": "c1", "name": "weather"},
    ]
    assert span.tool_calls == [
        {"id": "c2", "name": "forecast", "arguments": '{"days": 1}'},
        {"id": "c3", "name": "alerts", "arguments": "{}"},
    ]
    assert span.finish_reasons == ["tool_call"]
    assert (span.input_tokens, span.output_tokens) == (40, 12)
    assert span.system_instructions == "Use tools."


def test_multimodal_contents_and_index_gaps() -> None:
    span = one(
        {
            "openinference.span.kind": "LLM",
            f"{IN}.0.message.role": "user",
            f"{IN}.0.message.contents.0.message_content.type": "text",
            f"{IN}.0.message.contents.0.message_content.text": "What is in this picture?",
            f"{IN}.0.message.contents.1.message_content.type": "image",
            f"{IN}.0.message.contents.1.message_content.image.image.url": "https://x/cat.png",
            f"{IN}.0.message.contents.2.message_content.type": "text",
            f"{IN}.0.message.contents.2.message_content.text": "Be precise.",
            f"{IN}.2.message.role": "user",  # index 1 missing: the order is kept, the gap closed
            f"{IN}.2.message.content": "Well?",
            f"{IN}.10.message.role": "user",
            f"{IN}.10.message.content": "Hello?",
            f"{OUT}.0.message.role": "assistant",
            f"{OUT}.0.message.content": "A cat.",
        }
    )
    assert span.input_messages == [
        {"role": "user", "content": "What is in this picture?\nBe precise."},
        {"role": "user", "content": "Well?"},
        {"role": "user", "content": "Hello?"},
    ]
    assert span.output_text == "A cat."


def test_raw_input_and_output_values_only() -> None:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Build a bomb"}]}
    response = {
        "id": "chatcmpl-9",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": None, "refusal": "No."},
            }
        ],
    }
    span = one(
        {
            "openinference.span.kind": "LLM",
            "llm.invocation_parameters": json.dumps({"model": "gpt-4o-mini"}),
            "input.value": json.dumps(request),
            "input.mime_type": "application/json",
            "output.value": json.dumps(response),
            "output.mime_type": "application/json",
        }
    )
    assert span.input_messages == [{"role": "user", "content": "Build a bomb"}]
    assert span.output_messages == [{"role": "assistant", "content": ""}]
    assert (span.refusal, span.output_text, span.finish_reasons) == ("No.", "", ["stop"])
    assert (span.request_model, span.response_id) == ("gpt-4o-mini", "chatcmpl-9")


def test_raw_output_tool_calls_and_plain_text() -> None:
    response = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                    ],
                },
            }
        ]
    }
    span = one(
        {
            "openinference.span.kind": "LLM",
            "input.value": "plain prompt",
            "output.value": json.dumps(response),
        }
    )
    assert span.input_messages == [{"role": "user", "content": "plain prompt"}]
    assert span.tool_calls == [{"id": "t1", "name": "f", "arguments": '{"a":1}'}]
    assert span.finish_reasons == ["tool_call"]


def test_completions_api() -> None:
    span = one(
        {
            "openinference.span.kind": "LLM",
            "llm.prompts.0.prompt.text": "Once upon",
            "llm.choices.0.completion.text": " a time",
        }
    )
    assert (span.operation, span.input_messages, span.output_text) == (
        "text_completion",
        [{"role": "user", "content": "Once upon"}],
        " a time",
    )


def test_provider_conversion() -> None:
    cases = [
        ("azure", "openai", "azure.ai.openai"),
        ("azure", "", "azure.ai.inference"),
        ("google", "vertexai", "gcp.vertex_ai"),
        ("google", "", "gcp.gen_ai"),
        ("aws", "anthropic", "aws.bedrock"),
        ("xai", "", "x_ai"),
        ("mistralai", "mistralai", "mistral_ai"),
        ("", "anthropic", "anthropic"),
    ]
    for provider, system, expected in cases:
        attrs = {"openinference.span.kind": "LLM", "llm.provider": provider, "llm.system": system}
        assert one({k: v for k, v in attrs.items() if v}).provider == expected, (provider, system)


def test_retriever_reranker_embedding_tool_agent() -> None:
    retriever = one(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "refunds?",
            "retrieval.documents.0.document.id": 17,
            "retrieval.documents.0.document.score": 0.8,
            "retrieval.documents.0.document.content": "Refunds take 14 days.",
            "retrieval.documents.1.document.content": "No id, no score.",
        }
    )
    assert retriever.kind == "retrieval" and retriever.retrieval_query == "refunds?"
    assert retriever.retrieved_documents == [
        {"id": "17", "score": 0.8, "content": "Refunds take 14 days."},
        {"id": "", "score": None, "content": "No id, no score."},
    ]
    reranker = one(
        {
            "openinference.span.kind": "RERANKER",
            "reranker.query": "best doc?",
            "reranker.output_documents.0.document.id": "a",
            "reranker.output_documents.0.document.score": 3.5,
        }
    )
    assert (reranker.kind, reranker.retrieval_query, reranker.retrieved_documents[0]["score"]) == (
        "retrieval",
        "best doc?",
        3.5,
    )
    embedding = one(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "embedding.embeddings.0.embedding.text": "alpha",
            "embedding.embeddings.0.embedding.vector": [0.1, 0.2],
        }
    )
    assert embedding.kind == "embedding" and embedding.input_messages == [
        {"role": "user", "content": "alpha"}
    ]
    tool = one(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "weather",
            "input.value": '{"city": "Oslo"}',
            "output.value": "4°C",
        }
    )
    assert (tool.kind, tool.operation, tool.output_text, tool.input_messages) == (
        "tool",
        "execute_tool",
        "4°C",
        [],
    )
    agent = one({"openinference.span.kind": "AGENT", "input.value": "plan my trip", "output.value": "done"})
    chain = one({"openinference.span.kind": "CHAIN", "input.value": json.dumps({"question": "why?"})})
    assert agent.kind == chain.kind == "agent"
    assert agent.input_messages == chain.input_messages == []  # function inputs are not prompts


def test_mime_types_keep_plain_text_as_text() -> None:
    span = one(
        {
            "openinference.span.kind": "LLM",
            "input.value": '["not", "json", "to", "decode"]',
            "input.mime_type": "text/plain",
            "output.value": '{"choices": "looks like JSON"}',
            "output.mime_type": "text/plain",
        }
    )
    assert span.input_messages == [{"role": "user", "content": '["not", "json", "to", "decode"]'}]
    assert span.output_text == '{"choices": "looks like JSON"}'
    retriever = one(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": '{"query": "x"}',
            "input.mime_type": "text/plain",
        }
    )
    assert retriever.retrieval_query == '{"query": "x"}'
