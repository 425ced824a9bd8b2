"""classify(): ClickHouse and client errors → PermanentError | RetryableError."""

from __future__ import annotations

import struct

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError
from tracesieve.collector.errors import OverloadedError, PermanentError, RetryableError
from tracesieve.sinks.clickhouse.errors import classify


def ch_error(code: int, text: str = "") -> DatabaseError:
    return DatabaseError(f"Code: {code}. DB::Exception: {text}", code=code)


@pytest.mark.parametrize("code", [53, 117, 27, 6, 25, 26, 62, 60, 81, 130, 164, 190, 321, 407, 516])
def test_bad_data_and_sql_codes_are_permanent(code: int) -> None:
    err = classify(ch_error(code))
    assert isinstance(err, PermanentError)
    assert f"Code: {code}" in err.reason


@pytest.mark.parametrize("code", [159, 209, 210, 241, 252, 202, 242, 319, 999, 12345])
def test_transient_and_unknown_codes_are_retryable(code: int) -> None:
    assert isinstance(classify(ch_error(code)), RetryableError)


def test_throttling_suggests_a_pause() -> None:
    err = classify(ch_error(252, "Too many parts (300) in table"))
    assert isinstance(err, RetryableError) and err.retry_after_s == 1.0
    assert classify(ch_error(210)).retry_after_s is None  # type: ignore[union-attr]


def test_too_many_partitions_for_one_block_is_permanent() -> None:
    err = classify(ch_error(252, "Too many partitions for single INSERT block (more than 100)."))
    assert isinstance(err, PermanentError)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("invalid literal for int() with base 10: 'many'"),
        TypeError("unsupported type"),
        OverflowError("int too big to convert"),
        struct.error("required argument is not an integer"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        DataError("Unable to create native array for column `InputTokens`"),
    ],
)
def test_client_side_serialisation_errors_are_permanent(exc: Exception) -> None:
    assert isinstance(classify(exc), PermanentError)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        OperationalError("Error HTTPConnectionPool(host='ch', port=8123): Max retries exceeded"),
        RuntimeError("something nobody expected"),
    ],
)
def test_connection_failures_and_unknown_errors_are_retryable(exc: Exception) -> None:
    assert isinstance(classify(exc), RetryableError)


def test_classified_errors_pass_through_and_chain() -> None:
    overloaded = OverloadedError("full", retry_after_s=2)
    assert classify(overloaded) is overloaded
    permanent = PermanentError("bad")
    assert classify(permanent) is permanent
    cause = ch_error(53, "Type mismatch")
    assert classify(cause).__cause__ is cause


def test_real_engine_errors(client: Client) -> None:
    with pytest.raises(DatabaseError) as syntax:
        client.query("SELECT (1,")
    assert isinstance(classify(syntax.value), PermanentError)
    with pytest.raises(DatabaseError) as parse:
        client.query("SELECT toUInt32('many')")
    assert parse.value.code == 6 and isinstance(classify(parse.value), PermanentError)
    with pytest.raises(DatabaseError) as memory:
        client.query(
            "SELECT count() FROM numbers(10000000) GROUP BY number", settings={"max_memory_usage": 1000}
        )
    assert memory.value.code == 241
    err = classify(memory.value)
    assert isinstance(err, RetryableError) and err.retry_after_s == 1.0
