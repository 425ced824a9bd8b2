"""``POST /v1/feedback`` on the OTLP/HTTP port: app-side feedback (thumbs, score, label, comment,
support ticket) as JSON → :class:`~tracesieve.collector.contracts.Feedback`.

The body is one feedback object, an array of them, or ``{"feedback": [...]}``; the fields are
:class:`FeedbackItem`'s (Langfuse score-style camelCase accepted too). A request is all or
nothing: any bad item gets 400 with ``{"error", "details": [{"loc", "msg"}]}``, ``loc`` naming
the field as ``feedback[i].field`` (items numbered from 0 whatever the body's form). Non-JSON
content types get 415, bodies over ``max_request_body_bytes`` (after decompression) or with more
than :data:`MAX_ITEMS` items 413, overload and consumer failures the receivers' one status
table (:mod:`tracesieve.collector.receivers.status`: 429/503 with ``Retry-After``). Success is
answered once :meth:`OtlpConsumer.consume_feedback` returns (the feedback is durable):
``200 {"accepted": n, "ids": [...]}``.

``raw`` handed to the consumer is :func:`encode_feedback_record` of the parsed items, and
:func:`decode_feedback_record` turns it back into equal ``Feedback`` objects (ingest-log replay).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import hdrs, web
from pydantic import ValidationError
from tracesieve.collector.contracts import Feedback, OtlpConsumer, PartialResult
from tracesieve.collector.errors import (
    BadInputError,
    PayloadTooLargeError,
    TracesieveError,
    UnsupportedMediaError,
)
from tracesieve.collector.receivers._codec import Decompressor
from tracesieve.collector.receivers._common import InflightLimiter
from tracesieve.collector.receivers.otlp_http._feedback_item import FeedbackItem
from tracesieve.collector.receivers.otlp_http.config import OtlpHttpConfig
from tracesieve.collector.receivers.status import Failure, translate

__all__ = [
    "FEEDBACK_PATH",
    "MAX_ITEMS",
    "FeedbackItem",
    "FeedbackRejectedError",
    "FeedbackRoute",
    "decode_feedback_record",
    "encode_feedback_record",
    "failure_response",
    "parse_feedback",
]

_log = logging.getLogger(__name__)

FEEDBACK_PATH: Final = "/v1/feedback"
MAX_ITEMS: Final = 1000  # validation runs on the event loop: bound its cost per request
_RECORD_VERSION: Final = 1


# --- body → items ---------------------------------------------------------------------------------


class FeedbackRejectedError(BadInputError):
    """A body that is not valid feedback; ``details`` names each bad field (``loc``, ``msg``)."""

    def __init__(self, reason: str, details: list[dict[str, str]]) -> None:
        super().__init__(reason)
        self.details = details


def parse_feedback(body: bytes, now_ns: int) -> list[Feedback]:
    """The feedback in a request body; raises :class:`FeedbackRejectedError` naming every bad field,
    or :class:`PayloadTooLargeError` past :data:`MAX_ITEMS` items."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedbackRejectedError("body is not valid JSON", [{"loc": "body", "msg": str(exc)}]) from None
    if isinstance(data, dict) and "feedback" in data:
        extra = [{"loc": str(k), "msg": "unknown field next to `feedback`"} for k in data if k != "feedback"]
        if extra:
            raise FeedbackRejectedError("invalid feedback", extra)
        data = data["feedback"]
        if isinstance(data, dict):
            data = [data]
        elif not isinstance(data, list):
            raise FeedbackRejectedError(
                "invalid feedback", [{"loc": "feedback", "msg": "must be an array of feedback objects"}]
            )
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        msg = 'must be a feedback object, an array of them or {"feedback": [...]}'
        raise FeedbackRejectedError("invalid feedback", [{"loc": "body", "msg": msg}])
    if len(data) > MAX_ITEMS:
        raise PayloadTooLargeError(f"at most {MAX_ITEMS} feedback items per request, got {len(data)}")
    items: list[Feedback] = []
    details: list[dict[str, str]] = []
    for i, raw_item in enumerate(data):
        try:
            items.append(FeedbackItem.model_validate(raw_item).to_feedback(now_ns))
        except ValidationError as exc:
            details.extend(_details(f"feedback[{i}]", exc))
    if details:
        raise FeedbackRejectedError(f"invalid feedback: {len(details)} problems", details)
    return items


def _details(prefix: str, exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        if error["type"] == "model_type":
            msg = "must be a feedback object"
        out.append({"loc": prefix + loc, "msg": msg})
    return out


# --- the ingest-log record ------------------------------------------------------------------------

_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Feedback) if f.name != "seq")
_TYPES: Final = {f: str for f in _FIELDS} | {"time_ns": int, "score": float, "attributes": dict}


def encode_feedback_record(items: list[Feedback]) -> bytes:
    """The canonical JSON of ``items`` (every field but ``seq``), for the ingest log."""
    rows = [{name: getattr(fb, name) for name in _FIELDS} for fb in items]
    return orjson.dumps({"v": _RECORD_VERSION, "feedback": rows}, option=orjson.OPT_SORT_KEYS)


def decode_feedback_record(raw: bytes) -> list[Feedback]:
    """The ``Feedback`` objects :func:`encode_feedback_record` wrote; ValueError if ``raw`` is not one."""
    data = orjson.loads(raw)
    if (
        not isinstance(data, dict)
        or data.get("v") != _RECORD_VERSION
        or not isinstance(data.get("feedback"), list)
    ):
        raise ValueError("not a version-1 feedback record")
    out = []
    for row in data["feedback"]:
        if not isinstance(row, dict):
            raise ValueError("feedback record row is not an object")
        kwargs: dict[str, Any] = {}
        for name in _FIELDS:
            if name not in row:
                continue
            value = row[name]
            if name == "score" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not (isinstance(value, _TYPES[name]) or (name == "score" and value is None)):
                raise ValueError(f"feedback record field {name!r} has the wrong type")
            kwargs[name] = value
        try:
            out.append(Feedback(**kwargs))
        except TypeError as exc:
            raise ValueError(f"feedback record row is incomplete ({exc})") from None
    return out


# --- the route ------------------------------------------------------------------------------------


def failure_response(failure: Failure) -> web.Response:
    """A failed feedback request's answer: ``{"error": message}`` with the table's status and headers."""
    return web.json_response(
        {"error": failure.message}, status=failure.http_status, headers=failure.http_headers()
    )


ReadBody = Callable[[web.Request, Decompressor, Callable[[int], None]], Awaitable[bytes]]


class FeedbackRoute:
    """The ``POST /v1/feedback`` handler; shares the receiver's limits, limiter and body reader."""

    def __init__(
        self, config: OtlpHttpConfig, consumer: OtlpConsumer, limiter: InflightLimiter, read_body: ReadBody
    ) -> None:
        self._config = config
        self._consumer = consumer
        self._limiter = limiter
        self._read_body = read_body

    async def handle(self, request: web.Request) -> web.Response:
        try:
            if request.content_type.lower() != "application/json":
                raise UnsupportedMediaError(
                    f"unsupported Content-Type {request.headers.get(hdrs.CONTENT_TYPE)!r}; "
                    "send application/json"
                )
            cap = self._config.max_request_body_bytes
            decompressor = Decompressor(request.headers.get(hdrs.CONTENT_ENCODING), cap)
            length = request.content_length
            if length is not None and length > cap:
                raise PayloadTooLargeError(f"request body of {length} bytes exceeds {cap} bytes")
            lease = self._limiter.acquire(length or 0)
            try:
                body = await self._read_body(request, decompressor, lease.grow_to)
                items = parse_feedback(body, time.time_ns())
                del body
                result = (
                    await self._consumer.consume_feedback(items, encode_feedback_record(items))
                    if items
                    else PartialResult()
                )
            finally:
                lease.release()
        except FeedbackRejectedError as exc:
            return web.json_response({"error": exc.reason, "details": exc.details}, status=400)
        except Exception as exc:  # every failure is answered; nothing a client sends crashes us
            if not isinstance(exc, TracesieveError):
                _log.error("POST %s failed unexpectedly", FEEDBACK_PATH, exc_info=exc)
            return failure_response(translate(exc, retry_after_s=self._config.retry_after_s))
        answer: dict[str, Any] = {
            "accepted": len(items) - result.rejected,
            "ids": [fb.feedback_id for fb in items],
        }
        if result.rejected:
            answer["rejected"] = result.rejected
        if result.message:
            answer["message"] = result.message
        return web.json_response(answer)
