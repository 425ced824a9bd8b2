"""MLflow, LiteLLM, LangSmith, Langfuse (conventions.md §4–5)."""

from __future__ import annotations

import json

from .normalise_testkit import one


def test_mlflow_json_encoded_values() -> None:
    span = one(
        {
            "mlflow.spanType": '"CHAT_MODEL"',
            "mlflow.traceRequestId": '"tr-1"',
            "mlflow.spanInputs": json.dumps(
                {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
            ),
            "mlflow.spanOutputs": json.dumps(
                {
                    "id": "chatcmpl-m",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Hello"},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ),
            "mlflow.chat.tokenUsage": json.dumps({"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}),
            "mlflow.llm.provider": '"openai"',
            "mlflow.llm.model": '"gpt-4o"',
            "session.id": '"sess-m"',
        }
    )
    assert (span.kind, span.operation, span.convention, span.provider) == ("llm", "chat", "mlflow", "openai")
    assert span.input_messages == [{"role": "user", "content": "Hi"}]
    assert (span.output_text, span.finish_reasons, span.response_id) == ("Hello", ["stop"], "chatcmpl-m")
    assert (span.input_tokens, span.output_tokens, span.request_model) == (5, 1, "gpt-4o")
    assert span.session_id == "sess-m"
    retriever = one(
        {
            "mlflow.spanType": '"RETRIEVER"',
            "mlflow.spanInputs": json.dumps({"query": "refunds?"}),
            "mlflow.spanOutputs": json.dumps(
                [{"page_content": "14 days", "metadata": {"doc_uri": "faq.md", "score": 0.7}, "id": None}]
            ),
        }
    )
    assert (retriever.kind, retriever.retrieval_query) == ("retrieval", "refunds?")
    assert retriever.retrieved_documents == [{"id": "faq.md", "score": 0.7, "content": "14 days"}]
    agent = one({"mlflow.spanType": '"AGENT"', "mlflow.spanInputs": '"plain text"'})
    assert (agent.kind, agent.input_messages) == ("agent", [])


def test_litellm_quirks() -> None:
    span = one(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "llm.request.type": "completion",  # LiteLLM's call type: a chat completion
            "llm.is_streaming": "False",
            "llm.user": "u-lite",
            "gen_ai.system_instructions": "You are a plain string.",
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "Hi"}], "tool_call_id": None}]
            ),
            "gen_ai.output.messages": json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": ""}],
                        "tool_calls": [
                            {"id": "x", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                        ],
                        "finish_reason": "tool_calls",
                    }
                ]
            ),
            "gen_ai.response.finish_reasons": '["tool_calls"]',
            "gen_ai.usage.prompt_tokens": 9,
            "gen_ai.usage.completion_tokens": 3,
            "litellm.call_id": "abc",
        },
        name="litellm_request",
        scope="litellm",
    )
    assert (span.kind, span.operation, span.convention) == ("llm", "chat", "litellm")
    assert span.system_instructions == "You are a plain string."
    assert span.input_messages == [{"role": "user", "content": "Hi"}]
    assert span.tool_calls == [{"id": "x", "name": "f", "arguments": "{}"}]
    assert span.finish_reasons == ["tool_call"]
    assert (span.input_tokens, span.output_tokens, span.user_id) == (9, 3, "u-lite")
    system_message = one(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system_instructions": json.dumps(
                [{"role": "system", "parts": [{"type": "text", "content": "Sys."}]}]
            ),
        },
        scope="litellm",
    )
    assert system_message.system_instructions == "Sys."
    failed = one(
        {"gen_ai.operation.name": "chat", "error.type": "RateLimitError", "error.message": "slow down"},
        scope="litellm",
        status=(2, ""),
    )
    assert (failed.status_code, failed.status_message, failed.error_type) == (
        "Error",
        "slow down",
        "RateLimitError",
    )


def test_langsmith_whole_json_prompt_and_completion() -> None:
    human = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "HumanMessage"],
        "kwargs": {"content": "Hi there", "type": "human"},
    }
    span = one(
        {
            "langsmith.span.kind": "llm",
            "langsmith.trace.session_id": "ls-session",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.prompt": json.dumps({"messages": [[human]]}),
            "gen_ai.completion": json.dumps(
                {
                    "generations": [
                        [
                            {
                                "text": "Hello!",
                                "generation_info": {"finish_reason": "stop"},
                                "message": {
                                    "lc": 1,
                                    "type": "constructor",
                                    "id": ["langchain", "schema", "messages", "AIMessage"],
                                    "kwargs": {"content": "Hello!", "type": "ai"},
                                },
                            }
                        ]
                    ]
                }
            ),
            "gen_ai.usage.input_tokens": 4,
        }
    )
    assert (span.kind, span.convention, span.session_id) == ("llm", "langsmith", "ls-session")
    assert span.input_messages == [{"role": "user", "content": "Hi there"}]
    assert (span.output_messages, span.finish_reasons) == (
        [{"role": "assistant", "content": "Hello!"}],
        ["stop"],
    )
    retriever = one(
        {
            "langsmith.span.kind": "retriever",
            "gen_ai.prompt": json.dumps({"query": "refunds?"}),
            "gen_ai.completion": json.dumps(
                {"documents": [{"page_content": "14 days", "metadata": {"id": "d1"}}]}
            ),
        }
    )
    assert (retriever.kind, retriever.retrieval_query) == ("retrieval", "refunds?")
    assert retriever.retrieved_documents == [{"id": "d1", "score": None, "content": "14 days"}]


def test_langfuse_output_shapes() -> None:
    refusal = one(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.input": json.dumps(
                {"messages": [{"role": "user", "content": "Bad idea?"}]}
            ),
            "langfuse.observation.output": json.dumps(
                {"role": "assistant", "content": None, "refusal": "No."}
            ),
            "langfuse.observation.usage_details": json.dumps({"input": 3, "output": 1}),
            "langfuse.observation.level": "ERROR",
            "langfuse.observation.status_message": "flagged",
            "langfuse.session.id": "lf-s",
            "langfuse.user.id": "lf-u",
        },
        scope="langfuse-sdk",
    )
    assert (refusal.kind, refusal.refusal, refusal.output_text) == ("llm", "No.", "")
    assert refusal.input_messages == [{"role": "user", "content": "Bad idea?"}]
    assert (refusal.input_tokens, refusal.output_tokens) == (3, 1)
    assert (refusal.status_code, refusal.status_message) == ("Error", "flagged")
    assert (refusal.session_id, refusal.user_id) == ("lf-s", "lf-u")
    choices = one(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.input": "just text",
            "langfuse.observation.output": json.dumps([{"role": "assistant", "content": "A"}]),
        }
    )
    assert choices.input_messages == [{"role": "user", "content": "just text"}] and choices.output_text == "A"
    tool = one({"langfuse.observation.type": "tool", "langfuse.observation.output": json.dumps({"temp": 4})})
    agent = one(
        {"langfuse.observation.type": "agent", "langfuse.observation.input": json.dumps({"task": "x"})}
    )
    span = one({"langfuse.observation.type": "span", "langfuse.observation.output": "done"})
    assert (tool.kind, tool.output_text) == ("tool", '{"temp":4}')
    assert (agent.kind, agent.input_messages) == ("agent", [])
    assert (span.kind, span.has_content) == ("other", False)
    trace_metadata = one(
        {"langfuse.trace.metadata.langfuse_session_id": '"from-metadata"', "langfuse.trace.name": "t"}
    )
    assert trace_metadata.session_id == "from-metadata"
