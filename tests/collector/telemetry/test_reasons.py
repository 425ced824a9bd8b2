"""The refusal reasons requests are counted under: by error class, or by a tag where the class
alone does not tell."""

from __future__ import annotations

import pytest
from tracesieve.collector.errors import (
    BadInputError,
    MemoryLimitError,
    OverloadedError,
    PayloadTooLargeError,
    PermanentError,
    RetryableError,
    UnsupportedMediaError,
)
from tracesieve.collector.receivers._auth import UnauthenticatedError
from tracesieve.collector.telemetry.metrics import REFUSAL_REASONS, refusal_reason, tagged


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (BadInputError("x"), "bad_input"),
        (PayloadTooLargeError("x"), "too_large"),
        (UnsupportedMediaError("x"), "unsupported_media"),
        (UnauthenticatedError("x"), "unauthenticated"),
        (PermanentError("x"), "internal"),
        (OverloadedError("x"), "overloaded"),
        (MemoryLimitError("x"), "memory_limit"),
        (RetryableError("x"), "unavailable"),
        (ValueError("a bug"), "unavailable"),  # unknown failures are retryable
        (tagged(OverloadedError("ingest log full"), "spool_full"), "spool_full"),
        (tagged(RetryableError("closing"), "shutting_down"), "shutting_down"),
        (tagged(RetryableError("Kafka"), "store_unavailable"), "store_unavailable"),
    ],
)
def test_refusal_reason(exc: BaseException, reason: str) -> None:
    assert refusal_reason(exc) == reason
    assert reason in REFUSAL_REASONS
