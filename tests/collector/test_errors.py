"""The shared retry delay: exponential, capped, and never shorter than what the error asks."""

from __future__ import annotations

from tracesieve.collector.errors import OverloadedError, PermanentError, retry_delay_s


def test_retry_delay_grows_to_the_cap_and_honours_retry_after() -> None:
    assert [retry_delay_s(n, OSError()) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert retry_delay_s(50, OSError()) == 5.0
    assert retry_delay_s(50, OSError(), cap_s=30.0) == 30.0
    assert retry_delay_s(1, OverloadedError("full", retry_after_s=5)) == 5
    assert retry_delay_s(1, PermanentError("bad")) == 0.2
