"""Redacting OTLP requests and feedback in place: where it looks, how it marks, the key rules."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from tracesieve.collector.contracts import Feedback
from tracesieve.processors.normalise import NormaliseConfig, normalise_logs, normalise_traces
from tracesieve.processors.redaction import COUNT_KEY, KINDS_KEY, RedactionConfig, Redactor

EMAIL = "alice@example.com"
CARD = "4111 1111 1111 1111"
KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
PROMPT = f'[{{"role": "user", "parts": [{{"type": "text", "content": "I am {EMAIL}, card {CARD}"}}]}}]'


def anyvalue(value: Any) -> AnyValue:
    v = AnyValue()
    if isinstance(value, str):
        v.string_value = value
    elif isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, list):
        v.array_value.values.extend(anyvalue(x) for x in value)
    elif isinstance(value, dict):
        v.kvlist_value.values.extend(KeyValue(key=k, value=anyvalue(x)) for k, x in value.items())
    return v


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=anyvalue(v)) for k, v in attrs.items()]


def attrs_of(kv_list: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kv_list:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which in ("string_value", "int_value") else kv.value
    return out


def trace_request(span_attrs: dict[str, Any], **more: Any) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(kvs(more.get("resource", {"service.name": "support-bot"})))
    span = rs.scope_spans.add().spans.add(
        trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="chat gpt-4o", start_time_unix_nano=1
    )
    span.end_time_unix_nano = 2
    span.attributes.extend(kvs(span_attrs))
    for name, attributes in more.get("events", []):
        span.events.add(name=name, time_unix_nano=1).attributes.extend(kvs(attributes))
    for attributes in more.get("links", []):
        span.links.add(trace_id=bytes(range(2, 18)), span_id=bytes(range(2, 10))).attributes.extend(
            kvs(attributes)
        )
    return req


def redactor(**config: Any) -> Redactor:
    return Redactor(RedactionConfig.model_validate({"enabled": True, **config}), ("session.id", "user.id"))


GENAI = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.input.messages": PROMPT,
    "session.id": "conv-1",
    "gen_ai.usage.input_tokens": 12,
}


def test_span_attributes_are_redacted_and_the_span_counts_them() -> None:
    req = trace_request(GENAI)
    assert redactor().redact_traces(req)
    attrs = attrs_of(req.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert attrs["gen_ai.input.messages"] == PROMPT.replace(EMAIL, "[REDACTED:email]").replace(
        CARD, "[REDACTED:card]"
    )
    assert attrs[COUNT_KEY] == 2 and attrs[KINDS_KEY] == "card,email"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini" and attrs["gen_ai.usage.input_tokens"] == 12


def test_events_links_nested_values_and_resources_are_redacted() -> None:
    req = trace_request(
        {"tags": [["deep", {"who": EMAIL}], "+44 20 7946 0958"]},
        resource={"service.name": "bot", "owner": EMAIL},
        events=[("gen_ai.user.message", {"content": f"my key is {KEY}"})],
        links=[{"note": EMAIL}],
    )
    assert redactor().redact_traces(req)
    rs = req.resource_spans[0]
    span = rs.scope_spans[0].spans[0]
    raw = req.SerializeToString()
    assert EMAIL.encode() not in raw and KEY.encode() not in raw and b"7946" not in raw
    assert attrs_of(span.events[0].attributes)["content"] == "my key is [REDACTED:secret]"
    span_attrs = attrs_of(span.attributes)
    assert span_attrs[COUNT_KEY] == 4 and span_attrs[KINDS_KEY] == "email,phone,secret"
    resource = attrs_of(rs.resource.attributes)
    assert resource["owner"] == "[REDACTED:email]" and resource[COUNT_KEY] == 1


def test_an_unchanged_request_reports_no_change_and_gets_no_marks() -> None:
    req = trace_request({"gen_ai.request.model": "gpt-4o-mini-2024-07-18", "msg": "nothing personal here"})
    before = req.SerializeToString()
    r = redactor()
    assert not r.might_change(before)
    assert not r.redact_traces(req)
    assert req.SerializeToString() == before


def test_marks_sent_by_a_client_are_removed() -> None:
    req = trace_request({COUNT_KEY: 0, KINDS_KEY: "none", "x": "plain"})
    r = redactor()
    assert r.might_change(req.SerializeToString())
    assert r.redact_traces(req)
    assert attrs_of(req.resource_spans[0].scope_spans[0].spans[0].attributes) == {"x": "plain"}


def test_log_bodies_and_attributes_are_redacted_and_counted() -> None:
    req = ExportLogsServiceRequest()
    lr = (
        req.resource_logs.add()
        .scope_logs.add()
        .log_records.add(
            trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), event_name="gen_ai.user.message"
        )
    )
    lr.body.CopyFrom(anyvalue({"content": f"reach me at {EMAIL}", "parts": [CARD]}))
    lr.attributes.extend(kvs({"gen_ai.provider.name": "openai", "note": KEY}))
    assert redactor().redact_logs(req)
    raw = req.SerializeToString()
    assert EMAIL.encode() not in raw and b"4111" not in raw and KEY.encode() not in raw
    attrs = attrs_of(lr.attributes)
    assert attrs[COUNT_KEY] == 3 and attrs[KINDS_KEY] == "card,email,secret"
    events, _, _, _ = normalise_logs(req, NormaliseConfig())
    assert events[0].body == {"content": "reach me at [REDACTED:email]", "parts": ["[REDACTED:card]"]}


def test_feedback_text_is_redacted_and_counted_in_its_attributes() -> None:
    items = [
        Feedback("f1", 1, "api", comment=f"wrong! mail {EMAIL}", label="bad", attributes={"ticket": CARD}),
        Feedback("f2", 1, "api", comment="fine", attributes={COUNT_KEY: "9"}),
    ]
    assert redactor().redact_feedback(items)
    assert items[0].comment == "wrong! mail [REDACTED:email]"
    assert items[0].attributes == {"ticket": "[REDACTED:card]", COUNT_KEY: "2", KINDS_KEY: "card,email"}
    assert items[1].attributes == {}
    assert not redactor().redact_feedback([Feedback("f3", 1, "api", comment="fine")])


@pytest.mark.parametrize(("action", "expected"), [("mask", "[REDACTED:blocked_key]"), ("remove", None)])
def test_blocked_keys_are_masked_or_removed(action: str, expected: str | None) -> None:
    req = trace_request({"http.request.header.cookie": "a=1", "user.ip": "10.0.0.1", "keep": "x"})
    r = redactor(blocked_keys=[r"http\.request\.header\..*", "user.ip"], blocked_key_action=action)
    assert r.redact_traces(req)
    attrs = attrs_of(req.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert attrs.get("http.request.header.cookie") == expected and attrs.get("user.ip") == expected
    assert attrs["keep"] == "x" and attrs[COUNT_KEY] == 2 and attrs[KINDS_KEY] == "blocked_key"


def test_an_allow_list_keeps_what_normalisation_needs() -> None:
    attributes = {**GENAI, "user.id": "u-1", "app.scenario": "a", "custom.note": "n", "http.url": "/x"}
    req = trace_request(attributes)
    r = redactor(allowed_keys=["app\\..*"])
    assert r.redact_traces(req)
    attrs = attrs_of(req.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert "custom.note" not in attrs and "http.url" not in attrs
    assert {"app.scenario", "session.id", "user.id", "gen_ai.request.model"} <= set(attrs)
    assert attrs[KINDS_KEY] == "card,email,unlisted_key" and attrs[COUNT_KEY] == 4
    spans, _, _ = normalise_traces(req, NormaliseConfig())
    span = spans[0]
    assert (span.kind, span.session_id, span.user_id, span.request_model) == (
        "llm",
        "conv-1",
        "u-1",
        "gpt-4o-mini",
    )
    assert span.input_messages[0]["content"] == "I am [REDACTED:email], card [REDACTED:card]"


def test_ignored_keys_are_left_as_they_are_and_blocked_keys_win() -> None:
    req = trace_request({"user.id": EMAIL, "contact": EMAIL})
    r = redactor(ignored_keys=["user\\.id", "contact"], blocked_keys=["contact"])
    r.redact_traces(req)
    attrs = attrs_of(req.resource_spans[0].scope_spans[0].spans[0].attributes)
    assert attrs["user.id"] == EMAIL and attrs["contact"] == "[REDACTED:blocked_key]"


def test_summary_off_leaves_no_marks() -> None:
    req = trace_request(GENAI)
    assert redactor(summary=False).redact_traces(req)
    assert COUNT_KEY not in attrs_of(req.resource_spans[0].scope_spans[0].spans[0].attributes)


def test_the_deepest_value_protobuf_admits_is_redacted() -> None:
    req = trace_request({})
    value = req.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deep").value
    for depth in range(36):  # about 90 message levels: upb decodes at most 100
        value = value.array_value.values.add() if depth % 2 else value.kvlist_value.values.add(key="k").value
    value.string_value = EMAIL
    parsed = ExportTraceServiceRequest.FromString(req.SerializeToString())
    assert redactor().redact_traces(parsed)
    assert EMAIL.encode() not in parsed.SerializeToString()


def test_counts_accumulate_by_kind() -> None:
    r = redactor()
    r.redact_traces(trace_request(GENAI))
    r.redact_traces(trace_request(GENAI))
    assert r.redactions == {"email": 2, "card": 2}


def test_marks_come_first_on_a_span_with_many_attributes() -> None:
    # The normaliser keeps the first `max_attributes` of a span (16 at least): the marks must be among them.
    many = {f"app.k{i}": "plain" for i in range(40)} | {"note": EMAIL}
    req = trace_request(many)
    assert redactor().redact_traces(req)
    keys = [kv.key for kv in req.resource_spans[0].scope_spans[0].spans[0].attributes]
    assert keys[:2] == [COUNT_KEY, KINDS_KEY] and len(keys) == 43
