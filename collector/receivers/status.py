"""The one table translating errors into OTLP/HTTP and OTLP/gRPC answers, for both receivers.

OTLP spec (conventions §7c): HTTP 429, 502, 503 and 504 are retryable, every other status is
not; gRPC CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are
retryable, RESOURCE_EXHAUSTED only with ``RetryInfo`` attached. Retryable errors therefore map
to 429/503 with ``Retry-After`` and to RESOURCE_EXHAUSTED/UNAVAILABLE with ``RetryInfo``;
permanent ones to a 4xx or 500 and INVALID_ARGUMENT/UNAUTHENTICATED/INTERNAL. Anything that is not a
:class:`~tracesieve.collector.errors.TracesieveError` is retryable (errors.py: an unknown
failure must never make a client drop data).

``tests/collector/receivers/test_status.py`` checks every row against the spec's tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from tracesieve.collector.errors import (
    BadInputError,
    OverloadedError,
    PayloadTooLargeError,
    PermanentError,
    RetryableError,
    TracesieveError,
    UnauthenticatedError,
    UnsupportedMediaError,
)
from tracesieve.collector.telemetry.receiving import count_refusal

__all__ = ["RETRY_INFO_METADATA_KEY", "STATUS_TABLE", "Failure", "StatusRule", "rule_for", "translate"]

# opentelemetry-python's gRPC exporter reads the retry delay from this trailer (not from the
# Status details), so a RetryInfo is sent in both places.
RETRY_INFO_METADATA_KEY: Final = "google.rpc.retryinfo-bin"


@dataclass(frozen=True, slots=True)
class StatusRule:
    """One row: errors of ``error`` (or a subclass) answer with these codes."""

    error: type[BaseException]
    http_status: int
    grpc_code: grpc.StatusCode
    retryable: bool  # answer carries Retry-After / RetryInfo
    bad_request: bool = False  # answer carries google.rpc.BadRequest details


# Most specific first: the first row whose ``error`` matches wins.
STATUS_TABLE: Final[tuple[StatusRule, ...]] = (
    StatusRule(UnsupportedMediaError, 415, grpc.StatusCode.INVALID_ARGUMENT, False, True),
    # Not RESOURCE_EXHAUSTED: opentelemetry-python's gRPC exporter retries that code even without
    # RetryInfo, and an oversized request fails the same way every time.
    StatusRule(PayloadTooLargeError, 413, grpc.StatusCode.INVALID_ARGUMENT, False, True),
    StatusRule(BadInputError, 400, grpc.StatusCode.INVALID_ARGUMENT, False, True),
    # The HTTP answer also carries WWW-Authenticate (otlp_http adds it).
    StatusRule(UnauthenticatedError, 401, grpc.StatusCode.UNAUTHENTICATED, False),
    StatusRule(PermanentError, 500, grpc.StatusCode.INTERNAL, False),
    StatusRule(OverloadedError, 429, grpc.StatusCode.RESOURCE_EXHAUSTED, True),
    StatusRule(RetryableError, 503, grpc.StatusCode.UNAVAILABLE, True),
    StatusRule(BaseException, 503, grpc.StatusCode.UNAVAILABLE, True),
)


@dataclass(frozen=True, slots=True)
class Failure:
    """How to answer one failed request, in either protocol."""

    http_status: int
    grpc_code: grpc.StatusCode
    message: str
    retry_after_s: float | None = None  # set exactly when the answer is retryable
    bad_request: bool = False

    def rpc_status(self) -> status_pb2.Status:
        """The ``google.rpc.Status`` body, with BadRequest or RetryInfo details where apt."""
        status = status_pb2.Status(code=self.grpc_code.value[0], message=self.message)
        if self.bad_request:
            violation = error_details_pb2.BadRequest.FieldViolation(field="", description=self.message)
            _add_detail(status, error_details_pb2.BadRequest(field_violations=[violation]))
        if self.retry_after_s is not None:
            _add_detail(status, _retry_info(self.retry_after_s))
        return status

    def http_headers(self) -> dict[str, str]:
        """``Retry-After`` (whole seconds, rounded up) for retryable answers."""
        if self.retry_after_s is None:
            return {}
        return {"Retry-After": str(max(0, math.ceil(self.retry_after_s)))}

    def grpc_status(self) -> Any:
        """A ``grpc.Status`` for ``context.abort_with_status``.

        Trailers: ``grpc-status-details-bin`` (the Status above) and, when retryable,
        ``google.rpc.retryinfo-bin``.
        """
        status = rpc_status.to_status(self.rpc_status())
        if self.retry_after_s is not None:
            extra = ((RETRY_INFO_METADATA_KEY, _retry_info(self.retry_after_s).SerializeToString()),)
            status = status._replace(trailing_metadata=tuple(status.trailing_metadata) + extra)
        return status


def _retry_info(retry_after_s: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(0, round(retry_after_s * 1e9)))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def _add_detail(status: status_pb2.Status, detail: Any) -> None:
    packed = any_pb2.Any()
    packed.Pack(detail)
    status.details.append(packed)


def rule_for(exc: BaseException) -> StatusRule:
    """The first row of :data:`STATUS_TABLE` matching ``exc``."""
    return next(rule for rule in STATUS_TABLE if isinstance(exc, rule.error))


def translate(exc: BaseException, *, retry_after_s: float) -> Failure:
    """How to answer a request that failed with ``exc``; counts the refusal by reason.

    ``retry_after_s`` is the delay advertised when ``exc`` does not carry its own.
    Messages of unknown exceptions are not shown to clients (they may hold internals).
    """
    count_refusal(exc)  # the one place every refused request passes (telemetry.receiving)
    rule = rule_for(exc)
    if isinstance(exc, TracesieveError):
        message = str(exc) or type(exc).__name__
    else:
        message = f"internal error ({type(exc).__name__}); retry later"
    delay: float | None = None
    if rule.retryable:
        own = exc.retry_after_s if isinstance(exc, RetryableError) else None
        delay = own if own is not None else retry_after_s
    return Failure(rule.http_status, rule.grpc_code, message, delay, rule.bad_request)
