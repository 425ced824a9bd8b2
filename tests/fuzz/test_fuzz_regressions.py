"""Regressions for what the fuzzers found, each fixed at its root, plus the targets' own oracles.

1. ``decoder``: a span time past 2**63 ns (OTLP times are fixed64, up to the year 2554) was
   accepted, acknowledged, and then refused by the DateTime64(9) column, so the span was dropped
   after the ack. Normalisation now caps times at DateTime64(9)'s last instant.
2. ``decoder``: a token count of 2**32 or more (``gen_ai.usage.input_tokens``) did the same to the
   UInt32 column. Such counts are now unusable (0), as negative ones were.
3. ``http``: a header byte HTTP forbids made aiohttp log an ERROR with a traceback (the answer,
   400, was right): see ``tests/collector/receivers/test_hostile_receivers.py``.
4. ``http`` (``/v1/logs``): a GenAI log event whose message ``role`` or part ``type`` was a
   structured AnyValue (a kvlist or an array, so a dict or a list once decoded) raised
   ``TypeError: unhashable type`` in the log join, which runs in the trace assembler after the
   ack. The message readers now check the type first, and the join leaves out (with a warning)
   an event it cannot read instead of raising: see also ``tests/collector/test_hostile_store.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tracesieve.collector.contracts import CanonicalSpan, LogEvent
from tracesieve.processors.normalise import NormaliseConfig, apply_log_event, normalise_logs, normalise_traces
from tracesieve.sinks.clickhouse.rows import build_rows

from . import _harness
from ._harness import FuzzCrash
from .targets import DecoderTarget, GrpcTarget, HttpTarget

TIME_MAX_NS = (1 << 63) - 1
U64_MAX = (1 << 64) - 1


def _traces(**span_fields: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="chat")
    )
    for name, value in span_fields.items():
        setattr(span, name, value)
    return request


@pytest.mark.parametrize("ns", [1 << 63, U64_MAX, 16_725_225_600 * 10**9])
def test_span_and_event_times_past_the_column_are_capped_and_the_rows_build(ns: int) -> None:
    request = _traces(start_time_unix_nano=ns, end_time_unix_nano=ns)
    request.resource_spans[0].scope_spans[0].spans[0].events.add(name="e", time_unix_nano=ns)
    spans, rejected, _ = normalise_traces(request, NormaliseConfig())
    assert rejected == 0
    assert (spans[0].start_ns, spans[0].end_ns, spans[0].events[0][0]) == (
        TIME_MAX_NS,
        TIME_MAX_NS,
        TIME_MAX_NS,
    )
    assert build_rows(spans, 0)


def test_times_within_the_column_are_kept_as_sent() -> None:
    spans, _, _ = normalise_traces(
        _traces(start_time_unix_nano=0, end_time_unix_nano=TIME_MAX_NS), NormaliseConfig()
    )
    assert (spans[0].start_ns, spans[0].end_ns) == (0, TIME_MAX_NS)


def test_log_event_times_past_the_column_are_capped() -> None:
    request = ExportLogsServiceRequest()
    record = (
        request.resource_logs.add()
        .scope_logs.add()
        .log_records.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), event_name="gen_ai.choice")
    )
    record.time_unix_nano = U64_MAX
    events, _, _, _ = normalise_logs(request, NormaliseConfig())
    assert events[0].time_ns == TIME_MAX_NS


@pytest.mark.parametrize(
    ("sent", "stored"),
    [(1 << 40, 0), ((1 << 32) - 1, (1 << 32) - 1), (1 << 32, 0), (-5, 0), (12, 12)],
)
def test_token_counts_past_uint32_are_unusable(sent: int, stored: int) -> None:
    request = _traces(start_time_unix_nano=1, end_time_unix_nano=2)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="gen_ai.operation.name").value.string_value = "chat"
    span.attributes.add(key="gen_ai.usage.input_tokens").value.int_value = sent
    span.attributes.add(key="gen_ai.usage.output_tokens").value.string_value = str(sent)
    spans, _, _ = normalise_traces(request, NormaliseConfig())
    assert (spans[0].input_tokens, spans[0].output_tokens) == (stored, stored)
    assert build_rows(spans, 0)


ODD = [{"k": {"k": "x"}}, ["a", "b"], [], None, 5]


@pytest.mark.parametrize("odd", ODD)
def test_log_events_with_structured_roles_and_part_types_are_joined(
    odd: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user = {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}
    attributes = {
        "gen_ai.input.messages": [
            {"role": odd, "parts": [{"type": "text", "content": "odd role"}]},
            {"role": "system", "parts": [{"type": odd, "content": "odd part type"}]},
            user,
        ],
        "gen_ai.output.messages": [
            {"role": odd, "parts": [{"type": odd, "content": "x"}], "finish_reason": "stop"},
            {"role": "assistant", "parts": [{"type": "text", "content": "Paris."}], "finish_reason": "stop"},
        ],
    }
    span = CanonicalSpan("ab" * 16, "cd" * 8, "", "chat", 1, 2)
    event = LogEvent("ab" * 16, "cd" * 8, "gen_ai.client.inference.operation.details", 1, attributes, None)
    with caplog.at_level(logging.WARNING):
        apply_log_event(span, event)
    assert {"role": "user", "content": "What is the capital of France?"} in span.input_messages
    assert {"role": "assistant", "content": "Paris."} in span.output_messages
    assert not caplog.records  # read, not merely survived
    assert build_rows([span], 0)


def test_an_event_the_join_cannot_read_is_left_out_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    span = CanonicalSpan("ab" * 16, "cd" * 8, "", "chat", 1, 2)
    good = {"gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}]}
    apply_log_event(
        span, LogEvent("ab" * 16, "cd" * 8, "gen_ai.client.inference.operation.details", 1, good, None)
    )
    assert span.output_text == "ok"

    def broken(*_: object) -> None:
        raise TypeError("a reader bug")

    monkeypatch.setattr("tracesieve.processors.normalise.join.otel_genai.extract", broken)
    with caplog.at_level(logging.WARNING):
        apply_log_event(
            span, LogEvent("ab" * 16, "cd" * 8, "gen_ai.client.inference.operation.details", 2, {}, None)
        )
    assert span.output_text == "ok"
    assert [r.getMessage() for r in caplog.records] == [
        f"log event gen_ai.client.inference.operation.details of span {'cd' * 8} not joined (TypeError)"
    ]


# --- the targets' oracles, on inputs made by hand ---------------------------------------------------


def test_the_decoder_target_passes_its_seeds_and_rejects_garbage_quietly() -> None:
    target = DecoderTarget()
    for seed in list(target.seeds())[:12]:
        target.one_input(seed)
    for garbage in (b"", b"\x00", b"\x03{", b"\x00\xff\xff\xff", b"\x04[1]"):
        target.one_input(garbage)


def test_the_decoder_target_reports_what_normalisation_cannot_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # The oracle itself: an exception after decoding is a finding, not an accepted outcome.
    monkeypatch.setattr(_harness, "build_rows", _refuse)
    body = _traces(start_time_unix_nano=1, end_time_unix_nano=2).SerializeToString()
    with pytest.raises(FuzzCrash, match="normalising an accepted traces request"):
        DecoderTarget().one_input(b"\x00" + body)  # header 0: traces, protobuf


def _refuse(*_: object) -> None:
    raise ValueError("refused")


def test_the_receiver_targets_answer_their_first_seeds() -> None:
    for target in (HttpTarget(), GrpcTarget()):
        target.setup()
        for seed in list(target.seeds())[:6]:
            target.one_input(seed)
        target.check_liveness()
        target.close()
