"""The redacting OtlpConsumer: what the next stage gets, when ``raw`` is rewritten, the config."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.config import load_config
from tracesieve.collector.contracts import Feedback, OtlpConsumer
from tracesieve.collector.receivers.otlp_http.feedback import decode_feedback_record, encode_feedback_record
from tracesieve.collector.testing import MemoryConsumer
from tracesieve.processors.redaction import (
    COUNT_KEY,
    RedactingConsumer,
    RedactionConfig,
    factory,
)

EMAIL = "alice@example.com"


def request(text: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    span = (
        req.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="chat")
    )
    span.attributes.add(key="gen_ai.input.messages").value.string_value = text
    return req


def wrap(next: MemoryConsumer, **config: Any) -> OtlpConsumer:
    return factory(RedactionConfig.model_validate({"enabled": True, **config}), next, encode_feedback_record)


def test_disabled_means_not_installed() -> None:
    next = MemoryConsumer()
    assert factory(RedactionConfig(), next, encode_feedback_record) is next
    assert isinstance(wrap(next), RedactingConsumer)


async def test_traces_are_redacted_and_raw_rewritten_from_them() -> None:
    next = MemoryConsumer()
    consumer = wrap(next)
    req = request(f"mail {EMAIL}")
    raw = req.SerializeToString()
    await consumer.consume_traces(req, raw)
    ((got, got_raw),) = next.traces
    assert got is req and got_raw != raw and EMAIL.encode() not in got_raw
    assert ExportTraceServiceRequest.FromString(got_raw) == req


async def test_an_unchanged_request_is_handed_on_with_the_same_bytes() -> None:
    next = MemoryConsumer()
    consumer = wrap(next)
    assert isinstance(consumer, RedactingConsumer)
    for text in ("nothing to see", "maybe 020 79 but no"):
        req = request(text)
        raw = req.SerializeToString()
        await consumer.consume_traces(req, raw)
        assert next.traces[-1][1] is raw
    assert consumer.requests_changed == 0 and consumer.requests_skipped >= 1


async def test_logs_are_redacted_before_the_next_stage() -> None:
    next = MemoryConsumer()
    req = ExportLogsServiceRequest()
    lr = req.resource_logs.add().scope_logs.add().log_records.add(event_name="gen_ai.user.message")
    lr.body.string_value = f"I am {EMAIL}"
    await wrap(next).consume_logs(req, req.SerializeToString())
    ((got, got_raw),) = next.logs
    assert got.resource_logs[0].scope_logs[0].log_records[0].body.string_value == "I am [REDACTED:email]"
    assert EMAIL.encode() not in got_raw


async def test_feedback_is_redacted_and_its_record_re_encoded() -> None:
    next = MemoryConsumer()
    items = [Feedback("f1", 5, "api", span_id="ab" * 8, comment=f"call me: {EMAIL}")]
    raw = encode_feedback_record(items)
    await wrap(next).consume_feedback(items, raw)
    ((got, got_raw),) = next.feedback
    assert EMAIL.encode() not in got_raw
    (decoded,) = decode_feedback_record(got_raw)
    assert decoded.comment == "call me: [REDACTED:email]" and decoded.attributes[COUNT_KEY] == "1"
    assert got[0].comment == decoded.comment


async def test_errors_of_the_next_stage_pass_through() -> None:
    from tracesieve.collector.errors import RetryableError

    next = MemoryConsumer()
    next.fail_with(RetryableError("full", retry_after_s=1))
    req = request(f"mail {EMAIL}")
    with pytest.raises(RetryableError):
        await wrap(next).consume_traces(req, req.SerializeToString())


def test_one_switch_turns_on_the_defaults() -> None:
    config = load_config(None, environ={"TRACESIEVE_PROCESSORS__REDACTION__ENABLED": "true"})
    redaction = config.processors.redaction
    assert redaction.enabled and redaction.patterns.email and redaction.patterns.card
    assert not redaction.patterns.iban and redaction.replacement == "[REDACTED:{kind}]"
    assert not load_config(None, environ={}).processors.redaction.enabled


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"custom": {"Bad Name": "x"}}, "lower-case letters"),
        ({"custom": {"ok": "("}}, "not a valid regular expression"),
        ({"custom": {"ok": "(?P<g>x)"}}, "named groups"),
        ({"custom": {"ok": "x*"}}, "empty string"),
        ({"custom": {"email": "x"}}, "taken by built-in kinds"),
        ({"replacement": '"{kind}"'}, "must not contain"),
        ({"replacement": "[{who}]"}, "placeholders"),
        ({"blocked_keys": ["("]}, "not a valid regular expression"),
        ({"patterns": {"ssn": True}}, "Extra inputs"),
    ],
)
def test_bad_config_is_refused_naming_the_problem(config: dict[str, Any], fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        RedactionConfig.model_validate(config)
    assert fragment in str(info.value)
