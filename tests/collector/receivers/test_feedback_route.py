"""``POST /v1/feedback`` on a real OTLP/HTTP receiver (port 0) with a MemoryConsumer behind it."""

from __future__ import annotations

import asyncio
import gzip
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from tracesieve.collector.contracts import Feedback, PartialResult
from tracesieve.collector.errors import OverloadedError, PermanentError, RetryableError
from tracesieve.collector.receivers.otlp_http import OtlpHttpReceiver
from tracesieve.collector.receivers.otlp_http.feedback import (
    MAX_ITEMS,
    decode_feedback_record,
    encode_feedback_record,
)
from tracesieve.collector.testing import MemoryConsumer

from .conftest import HttpFactory

TRACE = "0AF7651916CD43DD8448EB211C80319C"
SPAN = "B7AD6B7169203331"
JSON = "application/json"

Answer = tuple[int, dict[str, Any], dict[str, str]]


def url(receiver: OtlpHttpReceiver, path: str = "/v1/feedback") -> str:
    return f"http://127.0.0.1:{receiver.port}{path}"


async def post(
    session: aiohttp.ClientSession,
    receiver: OtlpHttpReceiver,
    body: Any,
    content_type: str = JSON,
    **headers: str,
) -> Answer:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with session.post(
        url(receiver), data=data, headers={"Content-Type": content_type, **headers}
    ) as resp:
        assert resp.content_type == JSON
        return resp.status, await resp.json(), dict(resp.headers)


def locs(answer: Answer) -> list[str]:
    status, body, _ = answer
    assert status == 400, body
    return [d["loc"] for d in body["details"]]


# --- accepted bodies --------------------------------------------------------------------------------


async def test_one_object_is_accepted_with_its_ids_and_raw_record(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    before = time.time_ns()
    status, body, _ = await post(
        session,
        http_receiver,
        {
            "trace_id": TRACE,
            "span_id": SPAN,
            "user_id": "user-alice-42",
            "thumbs": "down",
            "comment": "Wrong city.",
            "ticket_id": "SUP-1234",
            "attributes": {"app.screen": "chat", "retries": 2},
        },
    )
    (fb,) = consumer.feedback_items
    assert (status, body) == (200, {"accepted": 1, "ids": [fb.feedback_id]})
    assert (fb.source, fb.name, fb.annotator, fb.thumbs, fb.comment, fb.ticket_id, fb.user_id) == (
        "api",
        "user_feedback",
        "human",
        "down",
        "Wrong city.",
        "SUP-1234",
        "user-alice-42",
    )
    assert (fb.trace_id, fb.span_id, fb.score, fb.label) == (TRACE.lower(), SPAN.lower(), None, "")
    assert fb.attributes == {"app.screen": "chat", "retries": "2"}
    assert before <= fb.time_ns <= time.time_ns()
    (items, raw), *_ = consumer.feedback
    assert raw == encode_feedback_record(items) and decode_feedback_record(raw) == items


async def test_arrays_and_wrapped_bodies(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    first = {"session_id": "conv-1", "score": 2, "name": "stars", "timestamp": 1_735_689_600}
    second = {"response_id": "chatcmpl-9", "label": "thumbs_up", "annotator": "LLM", "id": "fb-2"}
    status, body, _ = await post(session, http_receiver, [first, second])
    assert (status, body["accepted"], body["ids"][1]) == (200, 2, "fb-2")
    status, body, _ = await post(session, http_receiver, {"feedback": [first]})
    assert (status, body["accepted"]) == (200, 1)
    status, body, _ = await post(session, http_receiver, [])
    assert (status, body) == (200, {"accepted": 0, "ids": []})
    a, b, again = consumer.feedback_items
    assert len(consumer.feedback) == 2  # the empty body never reached the consumer
    assert (a.session_id, a.score, a.name, a.time_ns) == ("conv-1", 2.0, "stars", 1_735_689_600 * 10**9)
    assert (b.response_id, b.thumbs, b.label, b.annotator, b.feedback_id) == (
        "chatcmpl-9",
        "up",
        "thumbs_up",
        "llm",
        "fb-2",
    )
    assert again.feedback_id == a.feedback_id  # resent with its timestamp: stored once


async def test_langfuse_score_bodies(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    scores = [
        {
            "id": "score-1",
            "traceId": TRACE,
            "observationId": SPAN,
            "name": "correctness",
            "value": 0,
            "dataType": "BOOLEAN",
            "comment": "Paris is not in Germany.",
        },
        {
            "sessionId": "conv-7",
            "name": "tone",
            "value": "rude",
            "dataType": "CATEGORICAL",
            "metadata": {"v": 1},
        },
        {"traceId": TRACE, "name": "fix", "value": "Berlin.", "dataType": "CORRECTION"},
    ]
    status, body, _ = await post(session, http_receiver, scores)
    assert (status, body["accepted"]) == (200, 3)
    boolean, categorical, correction = consumer.feedback_items
    assert (boolean.feedback_id, boolean.trace_id, boolean.span_id, boolean.score, boolean.comment) == (
        "score-1",
        TRACE.lower(),
        SPAN.lower(),
        0.0,
        "Paris is not in Germany.",
    )
    assert (categorical.session_id, categorical.label, categorical.score) == ("conv-7", "rude", None)
    assert categorical.attributes == {"metadata": '{"v":1}', "data_type": "CATEGORICAL"}
    assert (correction.comment, correction.label) == ("Berlin.", "")


@pytest.mark.parametrize(
    ("item", "thumbs"),
    [
        ({"thumbs": "UP"}, "up"),
        ({"thumbs": "👎"}, "down"),
        ({"thumbs_up": False}, "down"),
        ({"thumbsUp": True}, "up"),
        ({"label": "Thumbs-Down"}, "down"),
        ({"label": "wrong"}, ""),
        ({"score": -1}, ""),
    ],
)
async def test_thumbs(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    item: dict[str, Any],
    thumbs: str,
) -> None:
    status, _, _ = await post(session, http_receiver, {"span_id": SPAN, **item})
    assert status == 200
    assert consumer.feedback_items[0].thumbs == thumbs


NS = 1_735_689_600_123_456_789  # 2025-01-01T00:00:00.123456789Z


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2025-01-01T00:00:00.123456789Z", NS),
        ("2025-01-01T01:00:00.123456789+01:00", NS),
        ("2025-01-01 00:00:00.123456789123z", NS),
        ("2025-01-01T00:00:00Z", NS - 123_456_789),
        (1_735_689_600, NS - 123_456_789),
        (1_735_689_600.5, NS - 123_456_789 + 500_000_000),
        (1_735_689_600_123, NS - 456_789),
        (1_735_689_600_123_456, NS - 789),
        (NS, NS),
    ],
)
async def test_timestamps(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    timestamp: Any,
    expected: int,
) -> None:
    status, _, _ = await post(session, http_receiver, {"span_id": SPAN, "score": 1, "timestamp": timestamp})
    assert status == 200
    assert consumer.feedback_items[0].time_ns == expected


async def test_gzip_bodies_are_accepted(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    body = gzip.compress(orjson.dumps({"trace_id": TRACE, "score": 0.5}))
    status, _, _ = await post(session, http_receiver, body, **{"Content-Encoding": "gzip"})
    assert status == 200 and consumer.feedback_items[0].score == 0.5


# --- refused bodies ---------------------------------------------------------------------------------

GOOD = {"span_id": SPAN, "thumbs": "down"}
FUTURE = datetime.fromtimestamp(time.time() + 3 * 86_400, UTC).isoformat()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", ["body"]),
        (b"\xff\xfe", ["body"]),
        (b"5", ["body"]),
        ({"feedback": "x"}, ["feedback"]),
        ({"feedback": [GOOD], "extra": 1}, ["extra"]),
        ([GOOD, "x"], ["feedback[1]"]),
        ({"thumbs": "down"}, ["feedback[0]"]),  # no target
        ({"span_id": SPAN}, ["feedback[0]"]),  # says nothing
        ({**GOOD, "trace_id": "abc"}, ["feedback[0].trace_id"]),
        ({**GOOD, "trace_id": "z" * 32}, ["feedback[0].trace_id"]),
        ({**GOOD, "traceId": "0" * 32}, ["feedback[0].traceId"]),
        ({**GOOD, "span_id": SPAN + "00"}, ["feedback[0].span_id"]),
        ({"observationId": 12, "score": 1}, ["feedback[0].observationId"]),
        ({**GOOD, "score": "0.5"}, ["feedback[0].score"]),
        ({**GOOD, "score": True}, ["feedback[0].score"]),
        ({**GOOD, "value": [1]}, ["feedback[0].value"]),
        ({**GOOD, "score": 1, "value": 2}, ["feedback[0]"]),
        ({**GOOD, "thumbs": "sideways"}, ["feedback[0].thumbs"]),
        ({**GOOD, "thumbs_up": True}, ["feedback[0]"]),
        ({**GOOD, "annotator": "crowd"}, ["feedback[0].annotator"]),
        ({**GOOD, "timestamp": "2025-01-01T00:00:00"}, ["feedback[0].timestamp"]),  # no offset
        ({**GOOD, "timestamp": "yesterday"}, ["feedback[0].timestamp"]),
        ({**GOOD, "timestamp": "2025-02-30T00:00:00Z"}, ["feedback[0].timestamp"]),
        ({**GOOD, "timestamp": FUTURE}, ["feedback[0].timestamp"]),
        ({**GOOD, "timestamp": 86_400}, ["feedback[0].timestamp"]),  # 1970
        ({**GOOD, "timestamp": -1}, ["feedback[0].timestamp"]),
        ({**GOOD, "timestamp": 10**19}, ["feedback[0].timestamp"]),
        ({**GOOD, "timestamp": 1e300}, ["feedback[0].timestamp"]),
        ({**GOOD, "attributes": ["a"]}, ["feedback[0].attributes"]),
        ({**GOOD, "name": ""}, ["feedback[0].name"]),
        ({**GOOD, "comment": "x" * 70_000}, ["feedback[0].comment"]),
        ({**GOOD, "spanid": SPAN}, ["feedback[0].spanid"]),  # unknown field: a typo is not ignored
        (
            [GOOD, GOOD, {"span_id": "x", "trace_id": "y", "score": "z"}],
            ["feedback[2].trace_id", "feedback[2].span_id", "feedback[2].score"],
        ),
    ],
)
async def test_bad_bodies_get_400_naming_each_field(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    body: Any,
    expected: list[str],
) -> None:
    answer = await post(session, http_receiver, body)
    assert sorted(locs(answer)) == sorted(expected)
    assert answer[1]["error"] and all(d["msg"] for d in answer[1]["details"])
    assert consumer.calls == 0  # all or nothing: the good items of the request are not taken either


async def test_the_400_says_what_is_wrong(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession
) -> None:
    _, body, _ = await post(session, http_receiver, [{"span_id": "abc", "score": 1}, {"score": 1}])
    assert body == {
        "error": "invalid feedback: 2 problems",
        "details": [
            {"loc": "feedback[0].span_id", "msg": "must be 16 hex characters"},
            {
                "loc": "feedback[1]",
                "msg": "names no target: give trace_id, span_id, session_id or response_id",
            },
        ],
    }


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-protobuf", "application/xml"])
async def test_other_content_types_get_415(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession, content_type: str
) -> None:
    status, body, _ = await post(session, http_receiver, GOOD, content_type=content_type)
    assert status == 415 and "application/json" in body["error"]


async def test_unknown_content_encoding_gets_415(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession
) -> None:
    status, _, _ = await post(session, http_receiver, GOOD, **{"Content-Encoding": "br"})
    assert status == 415


async def test_too_large_bodies_get_413(make_http: HttpFactory, session: aiohttp.ClientSession) -> None:
    receiver = await make_http(max_request_body_bytes=4096, max_inflight_bytes=4096)
    big = [GOOD] * 200
    status, body, _ = await post(session, receiver, big)
    assert status == 413 and "4096" in body["error"]
    bomb = gzip.compress(orjson.dumps(big))  # small on the wire, over the cap once inflated
    assert len(bomb) < 4096
    status, _, _ = await post(session, receiver, bomb, **{"Content-Encoding": "gzip"})
    assert status == 413


async def test_too_many_items_get_413(
    http_receiver: OtlpHttpReceiver, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await post(session, http_receiver, [GOOD] * (MAX_ITEMS + 1))
    assert status == 413 and str(MAX_ITEMS) in body["error"]


# --- what the consumer answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (OverloadedError("ingest log full", retry_after_s=2), 429, "2"),
        (RetryableError("store unavailable"), 503, "1"),
        (PermanentError("bug"), 500, None),
    ],
)
async def test_consumer_failures_use_the_status_table(
    http_receiver: OtlpHttpReceiver,
    consumer: MemoryConsumer,
    session: aiohttp.ClientSession,
    error: Exception,
    status: int,
    retry_after: str | None,
) -> None:
    consumer.fail_with(error)
    answer_status, body, headers = await post(session, http_receiver, GOOD)
    assert (answer_status, headers.get("Retry-After")) == (status, retry_after)
    assert body == {"error": str(error)}


async def test_overload_is_refused_before_the_body_is_read(
    make_http: HttpFactory, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    receiver = await make_http(max_inflight_requests=1, retry_after_s=3)
    consumer.block()
    first = asyncio.create_task(post(session, receiver, GOOD))
    await consumer.wait_inflight(1)
    status, body, headers = await post(session, receiver, GOOD)
    assert (status, headers["Retry-After"]) == (429, "3") and "in flight" in body["error"]
    consumer.unblock()
    assert (await first)[0] == 200


async def test_items_the_consumer_rejects_are_reported(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    consumer.answer(PartialResult(1, "1 feedback item rejected: duplicate"))
    status, body, _ = await post(session, http_receiver, [GOOD, {**GOOD, "thumbs": "up"}])
    assert status == 200
    assert (body["accepted"], body["rejected"], body["message"]) == (
        1,
        1,
        "1 feedback item rejected: duplicate",
    )


# --- the rest of the port -----------------------------------------------------------------------------


async def test_otlp_routes_keep_working_beside_feedback(
    http_receiver: OtlpHttpReceiver, consumer: MemoryConsumer, session: aiohttp.ClientSession
) -> None:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                scope_spans=[ScopeSpans(spans=[Span(trace_id=bytes(range(16)), span_id=b"\x01" * 8)])]
            )
        ]
    )
    headers = {"Content-Type": "application/x-protobuf"}
    async with session.post(
        url(http_receiver, "/v1/traces"), data=request.SerializeToString(), headers=headers
    ) as r:
        assert r.status == 200
    assert len(consumer.spans) == 1
    async with session.get(url(http_receiver)) as resp:
        assert (resp.status, resp.headers["Allow"]) == (405, "POST")
    assert (await post(session, http_receiver, GOOD))[0] == 200


# --- the ingest-log record ------------------------------------------------------------------------------


def test_records_decode_to_the_same_feedback() -> None:
    items = [
        Feedback("a", 1, "api", name="n", span_id=SPAN.lower(), score=0.5, attributes={"k": "v"}),
        Feedback(
            "b", 2, "api", session_id="s", thumbs="down", score=None, ticket_id="T-1", annotator="human"
        ),
        Feedback("c", 3, "api", trace_id=TRACE.lower(), score=3.0),
    ]
    raw = encode_feedback_record(items)
    assert decode_feedback_record(raw) == items
    assert encode_feedback_record(decode_feedback_record(raw)) == raw


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'{"v": 2, "feedback": []}',
        b'{"v": 1, "feedback": [1]}',
        b'{"v": 1, "feedback": [{"feedback_id": "a"}]}',
        b'{"v": 1, "feedback": [{"feedback_id": "a", "time_ns": "1", "source": "api"}]}',
        b'{"v": 1, "feedback": [{"feedback_id": "a", "time_ns": 1, "source": "api", "score": "x"}]}',
        b"\x00",
    ],
)
def test_corrupt_records_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_feedback_record(raw)


async def test_shutdown_drains_feedback_in_flight_and_refuses_new_with_503(
    make_http: HttpFactory, consumer: MemoryConsumer
) -> None:
    receiver = await make_http()
    async with aiohttp.ClientSession() as idle, aiohttp.ClientSession() as busy:
        assert (await post(idle, receiver, GOOD))[0] == 200  # leaves a kept-alive connection
        consumer.block()
        in_flight = asyncio.create_task(post(busy, receiver, GOOD))
        await consumer.wait_inflight(1)
        closing = asyncio.create_task(receiver.aclose(time.monotonic() + 5))
        await asyncio.sleep(0.05)
        status, body, headers = await post(idle, receiver, GOOD)  # on the open connection
        assert (status, headers["Retry-After"], body) == (503, "1", {"error": "receiver shutting down"})
        consumer.unblock()
        assert (await in_flight)[0] == 200
        await closing
    assert len(consumer.feedback) == 2
