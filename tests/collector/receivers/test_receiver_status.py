"""The status table against the OTLP spec's retryable tables (opentelemetry-proto specification.md).

The spec's tables are written out here again, independently of the module under test, so that
an inversion such as Vector's (a retryable failure answered with a non-retryable code) fails.
"""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from tracesieve.collector.errors import (
    BadInputError,
    OverloadedError,
    PayloadTooLargeError,
    PermanentError,
    RetryableError,
    TracesieveError,
    UnsupportedMediaError,
    is_permanent,
)
from tracesieve.collector.receivers.status import (
    RETRY_INFO_METADATA_KEY,
    STATUS_TABLE,
    Failure,
    StatusRule,
    translate,
)

# OTLP/HTTP: "429, 502, 503, 504 are retryable; all other 4xx/5xx are not".
SPEC_RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
# OTLP/gRPC: RESOURCE_EXHAUSTED is retryable only when RetryInfo is attached.
SPEC_RETRYABLE_GRPC = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
SPEC_NOT_RETRYABLE_GRPC = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
    }
)


def http_retryable(failure: Failure) -> bool:
    return failure.http_status in SPEC_RETRYABLE_HTTP


def grpc_retryable(failure: Failure) -> bool:
    status = failure.rpc_status()
    has_retry_info = any(detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for detail in status.details)
    if failure.grpc_code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return has_retry_info
    assert failure.grpc_code in SPEC_RETRYABLE_GRPC | SPEC_NOT_RETRYABLE_GRPC
    return failure.grpc_code in SPEC_RETRYABLE_GRPC


class CustomRetryable(RetryableError):
    pass


class CustomPermanent(PermanentError):
    pass


class CustomBadInput(BadInputError):
    pass


EXAMPLES: list[BaseException] = [
    BadInputError("bad"),
    CustomBadInput("bad too"),
    UnsupportedMediaError("text/plain"),
    PayloadTooLargeError("huge"),
    PermanentError("never"),
    CustomPermanent("never either"),
    RetryableError("later"),
    RetryableError("later", retry_after_s=7.2),
    CustomRetryable("later too"),
    OverloadedError("full"),
    OverloadedError("full", retry_after_s=0.25),
    TracesieveError("unclassified"),
    RuntimeError("unknown"),
    KeyError("unknown"),
    ConnectionResetError("unknown"),
    TimeoutError(),
]


@pytest.mark.parametrize("exc", EXAMPLES, ids=lambda e: f"{type(e).__name__}({e})")
def test_retryable_errors_get_retryable_answers_and_permanent_ones_do_not(exc: BaseException) -> None:
    failure = translate(exc, retry_after_s=3.0)
    should_retry = not is_permanent(exc)
    assert http_retryable(failure) is should_retry
    assert grpc_retryable(failure) is should_retry
    assert (failure.retry_after_s is not None) is should_retry
    assert ("Retry-After" in failure.http_headers()) is should_retry
    assert 400 <= failure.http_status <= 599


@pytest.mark.parametrize("rule", STATUS_TABLE, ids=lambda r: r.error.__name__)
def test_every_row_agrees_with_the_spec(rule: StatusRule) -> None:
    exc = rule.error("reason")
    failure = translate(exc, retry_after_s=1.0)
    assert (failure.http_status, failure.grpc_code) == (rule.http_status, rule.grpc_code)
    assert http_retryable(failure) is rule.retryable
    assert grpc_retryable(failure) is rule.retryable
    assert rule.retryable is not is_permanent(exc)


def test_the_last_row_catches_everything() -> None:
    assert STATUS_TABLE[-1].error is BaseException


@pytest.mark.parametrize(
    ("exc", "http_status", "grpc_code"),
    [
        (BadInputError("x"), 400, grpc.StatusCode.INVALID_ARGUMENT),
        (UnsupportedMediaError("x"), 415, grpc.StatusCode.INVALID_ARGUMENT),
        (PayloadTooLargeError("x"), 413, grpc.StatusCode.INVALID_ARGUMENT),
        (PermanentError("x"), 500, grpc.StatusCode.INTERNAL),
        (OverloadedError("x"), 429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (RetryableError("x"), 503, grpc.StatusCode.UNAVAILABLE),
        (ValueError("x"), 503, grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_the_table(exc: BaseException, http_status: int, grpc_code: grpc.StatusCode) -> None:
    failure = translate(exc, retry_after_s=1.0)
    assert (failure.http_status, failure.grpc_code) == (http_status, grpc_code)


def test_retry_delay_comes_from_the_error_else_the_default() -> None:
    assert translate(RetryableError("x", retry_after_s=7.2), retry_after_s=1).http_headers() == {
        "Retry-After": "8"
    }
    assert translate(OverloadedError("x"), retry_after_s=2).http_headers() == {"Retry-After": "2"}
    failure = translate(OverloadedError("x", retry_after_s=0.25), retry_after_s=2)
    retry_info = error_details_pb2.RetryInfo()
    assert failure.rpc_status().details[0].Unpack(retry_info)
    assert retry_info.retry_delay.ToNanoseconds() == 250_000_000


def test_bad_input_carries_bad_request_details() -> None:
    status = translate(BadInputError("span 3 has no trace id"), retry_after_s=1).rpc_status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].description == "span 3 has no trace id"


def test_unknown_errors_do_not_leak_their_message() -> None:
    failure = translate(RuntimeError("password=hunter2"), retry_after_s=1)
    assert "hunter2" not in failure.message
    assert "RuntimeError" in failure.message


def test_grpc_status_carries_details_and_the_sdk_retry_trailer() -> None:
    status = translate(OverloadedError("full", retry_after_s=2), retry_after_s=1).grpc_status()
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status.details == "full"
    trailers = dict(status.trailing_metadata)
    rich = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert rich.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert error_details_pb2.RetryInfo.FromString(trailers[RETRY_INFO_METADATA_KEY]).retry_delay.seconds == 2
    permanent = translate(BadInputError("bad"), retry_after_s=1).grpc_status()
    assert RETRY_INFO_METADATA_KEY not in dict(permanent.trailing_metadata)
