"""Validation, robustness against odd content, the attribute maps, id resolution, config, API."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pydantic
import pytest
import tracesieve.processors.normalise as normalise_pkg
from tracesieve.processors.normalise import NormaliseConfig, apply_log_event, normalise_logs, normalise_traces

from .normalise_testkit import TRACE_ID, kvs, log_request, new_span_id, normalise, one, trace_request


def test_public_api() -> None:
    assert normalise_pkg.__all__ == [
        "NormaliseConfig",
        "apply_log_event",
        "extract_feedback",
        "feedback_from_log_event",
        "normalise_logs",
        "normalise_traces",
    ]


def test_bad_ids_are_rejected_and_counted_the_rest_kept() -> None:
    request = trace_request(
        {"name": "ok"},
        {"name": "short trace", "trace_id": b"abc"},
        {"name": "short trace too", "trace_id": b"xyz"},
        {"name": "zero trace", "trace_id": bytes(16)},
        {"name": "long span", "span_id": b"123456789"},
        {"name": "zero span", "span_id": bytes(8)},
        {"name": "bad parent", "parent": b"12345"},
        {"name": "child", "parent": b"\x00\x00\x00\x00\x00\x00\x00\x07"},
        {"name": "zero parent", "parent": bytes(8)},
    )
    spans, rejected, message = normalise_traces(request, NormaliseConfig())
    assert [s.name for s in spans] == ["ok", "child", "zero parent"]
    assert [s.parent_span_id for s in spans] == ["", "0000000000000007", ""]
    assert rejected == 6
    assert message == (
        "6 spans rejected: invalid trace_id length 3 (2); all-zero trace_id; invalid span_id length 9; "
        "all-zero span_id; invalid parent_span_id length 5"
    )
    _, rejected, message = normalise_traces(
        trace_request({"trace_id": b"abc"}, {"trace_id": b"def"}), NormaliseConfig()
    )
    assert (rejected, message) == (2, "2 spans rejected: invalid trace_id length 3")
    assert normalise_traces(trace_request(), NormaliseConfig()) == ([], 0, "")


ODD_VALUES: list[Any] = [
    "",
    "{",
    "[1, 2",
    "null",
    '"text"',
    "[]",
    "{}",
    '[null, 1, "x", []]',
    '[{"role": 5, "parts": "nope", "content": {"a": 1}, "tool_calls": "x"}]',
    '[{"parts": [null, 3, {"type": "tool_call"}, {"type": "text", "content": 5}]}]',
    '{"choices": [null, {"message": "x"}], "messages": 3, "candidates": 1}',
    '{"documents": [[1]], "generations": [[null]]}',
    "[" * 5000 + "]" * 5000,  # deeper than JSON decoders go
    '{"input": ' * 900 + '"deep"' + "}" * 900,  # within their limit: deeper than a request is
    "[" * 900 + "]" * 900,
    0,
    -3,
    1.5,
    float("nan"),
    True,
    b"\xff\xfe",
    [1, "a", None],
    {"k": [1, {"j": None}]},
]
CONTENT_KEYS = [
    "gen_ai.operation.name",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.response.finish_reasons",
    "gen_ai.system_instructions",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.retrieval.documents",
    "gen_ai.tool.call.result",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.tool_calls.0.arguments",
    "openinference.span.kind",
    "llm.input_messages.0.message.contents.0.message_content.text",
    "llm.invocation_parameters",
    "input.value",
    "output.value",
    "retrieval.documents.x.document.score",
    "traceloop.entity.output",
    "langfuse.observation.output",
    "langfuse.observation.usage_details",
    "ai.prompt.messages",
    "ai.response.toolCalls",
    "ai.values",
    "pydantic_ai.all_messages",
    "events",
    "request_data",
    "mlflow.spanOutputs",
    "mlflow.chat.tokenUsage",
    "session.id",
    "error.type",
]
KINDS = {
    "gen_ai.operation.name": ["chat", "retrieval", "execute_tool", "embeddings", "invoke_agent"],
    "openinference.span.kind": ["LLM", "RETRIEVER", "TOOL", "EMBEDDING"],
}


@pytest.mark.parametrize("key", CONTENT_KEYS)
def test_odd_content_never_raises(key: str) -> None:
    for value, (kind_key, kinds) in itertools.product(ODD_VALUES, KINDS.items()):
        for kind in kinds:
            attrs = {kind_key: kind, key: value} if key != kind_key else {key: value}
            events = [
                (name, {key: value})
                for name in ("gen_ai.client.inference.operation.details", "gen_ai.choice")
            ]
            span = one(attrs, events=events)
            # The attribute is kept unless its text now sits in a canonical field.
            assert key in span.attributes or (
                span.has_content or span.retrieved_documents or span.system_instructions
            )


def test_malformed_json_leaves_the_field_empty() -> None:
    span = one(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": '[{"role": "user", "parts": [',
            "gen_ai.output.messages": "{broken",
            "gen_ai.retrieval.documents": "[{",
            "gen_ai.response.finish_reasons": "[stop",
        }
    )
    assert (span.input_messages, span.output_messages, span.retrieved_documents, span.finish_reasons) == (
        [],
        [],
        [],
        [],
    )
    assert span.kind == "llm"


def test_attributes_are_stringified_as_in_otel_traces() -> None:
    span = one(
        {
            "s": "text",
            "i": 123,
            "d": 0.5,
            "t": True,
            "f": False,
            "b": b"\x00\x01",
            "a": ["x", 1, 2.5, True],
            "m": {"z": 1, "a": [b"\x02"], "n": {"k": "v"}},
            "e": "",
        },
        events=[("exception", {"exception.type": "ValueError", "exception.escaped": False}, 1_700)],
    )
    assert span.attributes == {
        "s": "text",
        "i": "123",
        "d": "0.5",
        "t": "true",
        "f": "false",
        "b": base64.b64encode(b"\x00\x01").decode(),
        "a": '["x",1,2.5,true]',
        "m": '{"a":["Ag=="],"n":{"k":"v"},"z":1}',
        "e": "",
    }
    assert span.events == [
        (1_700, "exception", {"exception.type": "ValueError", "exception.escaped": "false"})
    ]
    assert span.error_type == "ValueError"


def test_links_kind_status_and_resource() -> None:
    request = trace_request(
        {"name": "consumer", "kind": 5, "status": (2, "boom")},
        resource={"service.name": "svc-a", "host.cpus": 4},
        scope="my.scope",
    )
    sp = request.resource_spans[0].scope_spans[0].spans[0]
    link = sp.links.add(trace_id=TRACE_ID, span_id=b"\x00" * 7 + b"\x09", trace_state="k=v")
    link.attributes.extend(kvs({"n": 1}))
    (span,), _, _ = normalise_traces(request, NormaliseConfig())
    assert (span.otel_kind, span.status_code, span.status_message) == ("Consumer", "Error", "boom")
    assert span.links == [(TRACE_ID.hex(), "0000000000000009", "k=v", {"n": "1"})]
    assert (span.service_name, span.resource_attributes) == (
        "svc-a",
        {"service.name": "svc-a", "host.cpus": "4"},
    )
    assert (span.scope_name, span.kind, span.convention) == ("my.scope", "other", "plain")


def test_long_values_are_truncated_in_the_maps_only() -> None:
    config = NormaliseConfig(max_attribute_value_bytes=1000)
    text = "é" * 2000  # 4000 bytes
    messages = json.dumps([{"role": "user", "content": text}], ensure_ascii=False)
    request = trace_request(
        {
            "attrs": {
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": messages,
                "big": text,
                "arr": ["x" * 2000],
            },
            "events": [("note", {"big": text})],
        },
        resource={"service.name": "svc", "big": text},
    )
    (span,), _, _ = normalise_traces(request, config)
    for value in (
        span.attributes["big"],
        span.resource_attributes["big"],
        span.events[0][2]["big"],
        span.attributes["arr"],
    ):
        assert len(value.encode()) <= 1000
        assert value.endswith(" bytes]") and "...[truncated " in value
    assert span.attributes["big"].startswith("éé")
    assert span.input_messages == [{"role": "user", "content": text}]  # content is never cut
    assert span.attributes["gen_ai.operation.name"] == "chat"


def test_session_and_user_resolution_order() -> None:
    both = one(
        {"gen_ai.conversation.id": "conv", "session.id": "sess", "gen_ai.user": "gu", "user.id": "uid"}
    )
    assert (both.session_id, both.user_id) == ("sess", "uid")
    fallback = one({"session.id": "  ", "gen_ai.conversation.id": "conv", "user.id": 42})
    assert (fallback.session_id, fallback.user_id) == ("conv", "42")
    (from_resource,) = normalise(
        {"attrs": {}}, resource={"service.name": "s", "session.id": "res-sess", "user.id": "res-u"}
    )
    assert (from_resource.session_id, from_resource.user_id) == ("res-sess", "res-u")
    (span_first,) = normalise({"attrs": {"session.id": "span-sess"}}, resource={"session.id": "res-sess"})
    assert span_first.session_id == "span-sess"
    config = NormaliseConfig(session_id_keys=["thread_id"], user_id_keys=["customer"])
    (custom,), _, _ = normalise_traces(
        trace_request({"attrs": {"thread_id": "t-1", "session.id": "ignored", "customer": "c-1"}}), config
    )
    assert (custom.session_id, custom.user_id) == ("t-1", "c-1")


def test_config() -> None:
    config = NormaliseConfig()
    assert config.session_id_keys[:3] == (
        "session.id",
        "gen_ai.conversation.id",
        "traceloop.association.properties.session_id",
    )
    assert "gen_ai.user" in config.user_id_keys and config.max_attribute_value_bytes == 65536
    with pytest.raises(pydantic.ValidationError, match="extra"):
        NormaliseConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        NormaliseConfig(max_attribute_value_bytes=10)
    with pytest.raises(pydantic.ValidationError):
        config.max_attribute_value_bytes = 5  # type: ignore[misc]
    for name, field in NormaliseConfig.model_fields.items():
        assert field.description, name


def test_logs_validation_and_filtering() -> None:
    span_id = new_span_id()
    request = log_request(
        {
            "event_name": "gen_ai.user.message",
            "span_id": span_id,
            "body": {"content": "hi"},
            "time": 7,
            "observed": 9,
        },
        {"attrs": {"event.name": "gen_ai.choice"}, "span_id": span_id, "body": {"index": 0}, "observed": 11},
        {"event_name": "gen_ai.user.message", "span_id": b"123", "body": {"content": "bad id"}},
        {"event_name": "gen_ai.user.message", "trace_id": b"12345", "span_id": span_id},
        {"event_name": "app.log", "span_id": span_id, "body": "not GenAI"},
        {"event_name": "gen_ai.user.message", "body": {"content": "no span id"}},
        {"event_name": "gen_ai.user.message", "span_id": bytes(8), "body": {"content": "zero span id"}},
        {"attrs": {"event.name": 5}, "span_id": span_id},
        {
            "event_name": "gen_ai.client.inference.operation.details",
            "span_id": span_id,
            "attrs": {"k": [1, {"a": b"x"}]},
        },
    )
    events, feedback, rejected, message = normalise_logs(request, NormaliseConfig(), seq=4)
    assert [(e.name, e.time_ns, e.body) for e in events] == [
        ("gen_ai.user.message", 7, {"content": "hi"}),
        ("gen_ai.choice", 11, {"index": 0}),
        ("gen_ai.client.inference.operation.details", 0, None),
    ]
    assert events[2].attributes == {"k": [1, {"a": b"x"}]} and feedback == []
    assert {(e.trace_id, e.span_id, e.seq) for e in events} == {(TRACE_ID.hex(), span_id.hex(), 4)}
    assert (rejected, message) == (
        2,
        "2 log records rejected: invalid span_id length 3; invalid trace_id length 5",
    )


def test_a_span_that_breaks_the_normaliser_is_kept_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import tracesieve.processors.normalise.traces as traces_module

    def broken(*_: Any) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(traces_module, "normalise_span", broken)
    spans, rejected, message = normalise_traces(
        trace_request({"name": "a"}, {"trace_id": b"x"}), NormaliseConfig()
    )
    assert [s.name for s in spans] == ["a"] and rejected == 1
    warning = f"span {spans[0].span_id} only partly normalised (KeyError)"
    assert message == f"1 span rejected: invalid trace_id length 1; {warning}"


def test_odd_log_events_never_raise() -> None:
    names = [
        "gen_ai.client.inference.operation.details",
        "gen_ai.user.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
        "gen_ai.client.operation.exception",
    ]
    span_id = new_span_id()
    (span,) = normalise({"attrs": {"gen_ai.operation.name": "chat"}, "span_id": span_id})
    for name, value in itertools.product(names, ODD_VALUES):
        records = [
            {"span_id": span_id, "event_name": name, "body": value},
            {
                "span_id": span_id,
                "event_name": name,
                "attrs": {"gen_ai.input.messages": value, "gen_ai.prompt": value},
            },
        ]
        for event in log_events_of(records):
            apply_log_event(span, event)
    assert span.kind == "llm"


def log_events_of(records: list[dict[str, Any]]) -> list[Any]:
    events, _, rejected, _ = normalise_logs(log_request(*records), NormaliseConfig())
    assert rejected == 0
    return events


def test_attributes_past_the_count_limit_are_dropped_and_counted() -> None:
    attrs: dict[str, object] = {"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "s-1"}
    attrs.update({f"extra.{i:05d}": f"v{i}" for i in range(10_000)})
    request = trace_request(
        {"attrs": attrs, "events": [("note", {f"e{i}": i + 1 for i in range(50)})]},
        resource={"service.name": "svc", **{f"r{i}": "x" for i in range(30)}},
    )
    (span,), rejected, _ = normalise_traces(request, NormaliseConfig(max_attributes=20))
    assert rejected == 0
    assert span.session_id == "s-1"  # read from the attributes kept
    assert len(span.attributes) == 21
    assert span.attributes["tracesieve.dropped_attributes_count"] == str(10_002 - 20)
    assert "extra.00017" in span.attributes and "extra.00018" not in span.attributes
    assert span.events[0][2]["tracesieve.dropped_attributes_count"] == "30"
    assert span.resource_attributes["tracesieve.dropped_attributes_count"] == "11"
    (by_default,), _, _ = normalise_traces(request, NormaliseConfig())
    assert len(by_default.attributes) == 1000 + 1
    assert by_default.attributes["tracesieve.dropped_attributes_count"] == "9002"
    assert "tracesieve.dropped_attributes_count" not in by_default.events[0][2]
