"""OpenLLMetry / Traceloop: legacy indexed content, workflow layer, vector-db events (conventions.md §3)."""

from __future__ import annotations

import json

from .normalise_testkit import one


def test_legacy_indexed_attributes() -> None:
    span = one(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "Cohere",
            "gen_ai.request.model": "command-r",
            "gen_ai.response.model": "command-r-08-2024",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": json.dumps([{"type": "text", "text": "Look:"}, {"type": "image_url"}]),
            "gen_ai.prompt.2.role": "tool",
            "gen_ai.prompt.2.tool_call_id": "c0",
            "gen_ai.prompt.2.content": "42",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.tool_calls.0.id": "c1",
            "gen_ai.completion.0.tool_calls.0.name": "search",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"q": "x"}',
            "gen_ai.usage.prompt_tokens": 11,
            "gen_ai.usage.completion_tokens": 4,
            "traceloop.association.properties.session_id": "s-1",
            "traceloop.association.properties.user_id": "u-1",
        },
        name="cohere.chat",
    )
    assert (span.kind, span.operation, span.provider, span.convention) == (
        "llm",
        "chat",
        "cohere",
        "openllmetry",
    )
    assert span.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Look:"},
        {"role": "tool", "content": "42", "tool_call_id": "c0"},
    ]
    assert span.output_messages == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "search", "arguments": '{"q": "x"}'}],
        }
    ]
    assert span.tool_calls == [{"id": "c1", "name": "search", "arguments": '{"q": "x"}'}]
    assert span.finish_reasons == ["tool_call"]
    assert (span.input_tokens, span.output_tokens) == (11, 4)
    assert (span.session_id, span.user_id) == ("s-1", "u-1")


def test_legacy_completion_and_function_call() -> None:
    span = one(
        {
            "llm.request.type": "completion",
            "gen_ai.system": "MistralAI",
            "gen_ai.prompt.0.content": "Once upon",
            "gen_ai.completion.0.content": " a time",
            "gen_ai.completion.0.finish_reason": "length",
            "gen_ai.completion.1.function_call.name": "f",
            "gen_ai.completion.1.function_call.arguments": "{}",
        }
    )
    assert (span.operation, span.kind, span.provider) == ("text_completion", "llm", "mistral_ai")
    assert span.input_messages == [{"role": "user", "content": "Once upon"}]
    assert (span.output_text, span.finish_reasons) == (" a time", ["length"])
    assert span.tool_calls == [{"id": "", "name": "f", "arguments": "{}"}]


def test_vector_db_result_events() -> None:
    chroma = one(
        {"db.system": "chroma", "db.operation": "query", "db.vector.query.top_k": 2},
        events=[
            (
                "db.query.result",
                {
                    "db.query.result.id": "a",
                    "db.query.result.distance": 0.1,
                    "db.query.result.document": "alpha",
                },
            ),
            ("db.query.result", {"db.query.result.id": "b", "db.query.result.score": 0.4}),
        ],
        name="chroma.query",
    )
    assert (chroma.kind, chroma.operation) == ("retrieval", "retrieval")
    assert chroma.retrieved_documents == [
        {"id": "a", "score": None, "content": "alpha"},  # a distance is not a score
        {"id": "b", "score": 0.4, "content": ""},
    ]
    milvus = one(
        {"db.system": "milvus"},
        events=[
            (
                "db.search.result",
                {"db.search.result.id": 7, "db.search.result.score": 0.9, "db.search.result.entity": "{}"},
            )
        ],
    )
    assert milvus.kind == "retrieval" and milvus.retrieved_documents == [
        {"id": "7", "score": 0.9, "content": "{}"}
    ]


def test_workflow_layer_and_entity_io() -> None:
    workflow = one(
        {
            "traceloop.span.kind": "workflow",
            "traceloop.entity.name": "answer",
            "traceloop.entity.input": json.dumps({"args": ["hello"], "kwargs": {}}),
            "traceloop.entity.output": json.dumps({"ok": True}),
        }
    )
    assert (workflow.kind, workflow.operation, workflow.input_messages) == ("agent", "invoke_workflow", [])
    task = one({"traceloop.span.kind": "task", "traceloop.entity.input": "{not json"})
    assert (task.kind, task.operation, task.input_messages) == ("agent", "task", [])
    tool = one(
        {
            "traceloop.span.kind": "tool",
            "gen_ai.tool.name": "calc",
            "traceloop.entity.input": json.dumps({"args": [2, 3], "kwargs": {}}),
            "traceloop.entity.output": "5",
        }
    )
    assert (tool.kind, tool.output_text) == ("tool", "5")
    retriever = one(
        {
            "traceloop.span.kind": "task",
            "db.vector.query.top_k": 2,
            "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"query": "refunds?"}}),
            "traceloop.entity.output": json.dumps([{"id": "kb-1", "score": 0.5, "content": "14 days"}]),
        }
    )
    assert retriever.kind == "retrieval" and retriever.retrieval_query == "refunds?"
    assert retriever.retrieved_documents == [{"id": "kb-1", "score": 0.5, "content": "14 days"}]
    langchain = one(
        {
            "traceloop.span.kind": "task",
            "llm.request.type": "chat",
            "traceloop.entity.input": json.dumps(
                {"inputs": {"messages": [{"role": "user", "content": "hi"}]}}
            ),
        }
    )
    assert langchain.input_messages == [{"role": "user", "content": "hi"}]
