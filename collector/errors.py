"""The one error tree every stage raises and every receiver translates.

::

    TracesieveError
    ├── PermanentError(reason)          the same input will always fail: do not retry
    │   ├── UnauthenticatedError        no bearer token or a wrong one (HTTP 401 / UNAUTHENTICATED)
    │   └── BadInputError               the client sent something malformed (HTTP 400 / INVALID_ARGUMENT)
    │       ├── UnsupportedMediaError   wrong Content-Type or Content-Encoding (HTTP 415)
    │       └── PayloadTooLargeError    body over the cap after decompression (HTTP 413)
    └── RetryableError(retry_after_s)   throttling, a full queue, an unreachable store
        └── OverloadedError             tracesieve itself refuses more work for now
            └── MemoryLimitError        the process is over the memory limiter's soft limit

Anything that is not a ``TracesieveError`` counts as retryable, as in the OpenTelemetry
Collector (``consumererror``): an unknown failure must never make a client drop data.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "MemoryLimitError",
    "OverloadedError",
    "PayloadTooLargeError",
    "PermanentError",
    "RetryableError",
    "TracesieveError",
    "UnauthenticatedError",
    "UnsupportedMediaError",
    "is_permanent",
    "retry_delay_s",
]


class TracesieveError(Exception):
    """Base of every error tracesieve raises on purpose."""


class PermanentError(TracesieveError):
    """The same input will always fail; retrying it is pointless."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnauthenticatedError(PermanentError):
    """The request carries no bearer token, or not the configured one (HTTP 401, UNAUTHENTICATED)."""


class BadInputError(PermanentError):
    """The request itself is malformed (bad protobuf or JSON, bad ids, wrong shape)."""


class UnsupportedMediaError(BadInputError):
    """Content-Type or Content-Encoding that the receiver does not speak."""


class PayloadTooLargeError(BadInputError):
    """The body exceeds the configured cap once decompressed."""


class RetryableError(TracesieveError):
    """A transient failure: the client should retry, after ``retry_after_s`` if given."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class OverloadedError(RetryableError):
    """tracesieve refuses work to keep memory and queues bounded."""


class MemoryLimitError(OverloadedError):
    """The process is over the memory limiter's soft limit; it takes work again once under it."""


def is_permanent(exc: BaseException) -> bool:
    """True only for errors known to fail again on retry; unknown errors are retryable."""
    return isinstance(exc, PermanentError)


def retry_delay_s(attempt: int, exc: BaseException, cap_s: float = 5.0) -> float:
    """How long to wait before retry number ``attempt`` (from 1): exponential from 0.2 s up to
    ``cap_s``, and at least the ``retry_after_s`` a retryable error asks for.

    The cap is 5 s rather than the OTel exporterhelper's 30 s: what waits is already durable in
    the ingest log, and a store that comes back should see its backlog drain within seconds."""
    delay: float = min(cap_s, 0.1 * 2.0 ** min(attempt, 10))
    if isinstance(exc, RetryableError) and exc.retry_after_s:
        delay = max(delay, exc.retry_after_s)
    return delay
