"""Classify whatever ClickHouse (server or chDB) or the client raised as permanent or retryable.

Permanent: the same insert or query will fail again (bad data, type mismatch, SQL errors, a
read-only violation, a changed migration). Retryable: everything else, in particular
connection failures, timeouts, memory limits and too many parts; an error this module does
not recognise is retryable too, following the OpenTelemetry Collector (``consumererror``):
an unknown failure must never make a client drop data.
"""

from __future__ import annotations

import struct

from clickhouse_connect.driver.exceptions import DataError
from clickhouse_connect.driver.exceptions import Error as ClickHouseClientError
from tracesieve.collector.errors import PermanentError, RetryableError, TracesieveError

__all__ = ["PERMANENT_CODES", "THROTTLE_CODES", "classify"]

# ClickHouse error codes (src/Common/ErrorCodes.cpp) for which a retry cannot succeed.
PERMANENT_CODES: frozenset[int] = frozenset(
    {
        1,  # UNSUPPORTED_METHOD
        2,  # UNSUPPORTED_PARAMETER
        6,  # CANNOT_PARSE_TEXT
        8,  # THERE_IS_NO_COLUMN
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        20,  # NUMBER_OF_COLUMNS_DOESNT_MATCH
        25,  # CANNOT_PARSE_ESCAPE_SEQUENCE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        33,  # CANNOT_READ_ALL_DATA (truncated or malformed Native block)
        36,  # BAD_ARGUMENTS
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        43,  # ILLEGAL_TYPE_OF_ARGUMENT
        44,  # ILLEGAL_COLUMN
        46,  # UNKNOWN_FUNCTION
        47,  # UNKNOWN_IDENTIFIER
        48,  # NOT_IMPLEMENTED
        53,  # TYPE_MISMATCH
        60,  # UNKNOWN_TABLE
        62,  # SYNTAX_ERROR
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        81,  # UNKNOWN_DATABASE
        113,  # UNKNOWN_SETTING
        115,  # UNKNOWN_SETTING (older servers)
        117,  # INCORRECT_DATA
        128,  # TOO_LARGE_ARRAY_SIZE
        130,  # CANNOT_READ_ARRAY_FROM_TEXT (e.g. a string where an Array belongs)
        131,  # TOO_LARGE_STRING_SIZE
        164,  # READONLY
        190,  # SIZES_OF_ARRAYS_DONT_MATCH (Nested columns of unequal length)
        192,  # UNKNOWN_USER
        193,  # WRONG_PASSWORD
        194,  # REQUIRED_PASSWORD
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        386,  # NO_COMMON_TYPE
        407,  # DECIMAL_OVERFLOW (e.g. a DateTime64 beyond its range)
        456,  # UNKNOWN_QUERY_PARAMETER
        457,  # BAD_QUERY_PARAMETER
        497,  # ACCESS_DENIED
        516,  # AUTHENTICATION_FAILED
    }
)

# Retryable codes where ClickHouse asks the client to slow down: suggest a pause.
THROTTLE_CODES: frozenset[int] = frozenset(
    {
        201,  # QUOTA_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        241,  # MEMORY_LIMIT_EXCEEDED
        252,  # TOO_MANY_PARTS
    }
)
_THROTTLE_RETRY_AFTER_S = 1.0
_TOO_MANY_PARTS = 252
_MAX_REASON_CHARS = 1000

# Raised while the client serialises a column (a value of the wrong type or out of range):
# nothing reached ClickHouse and the same values will fail again.
_SERIALISATION_ERRORS = (ValueError, TypeError, OverflowError, struct.error, UnicodeError)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0] if "Error serializing" not in text else " ".join(text.split())
    if len(first) > _MAX_REASON_CHARS:
        first = first[: _MAX_REASON_CHARS - 1] + "…"
    return f"ClickHouse: {first}"


def classify(exc: BaseException) -> PermanentError | RetryableError:
    """Map ``exc`` to :class:`PermanentError` or :class:`RetryableError`, chained to ``exc``.

    A ``TracesieveError`` is returned as it is. ClickHouse errors are classified by code;
    ``TOO_MANY_PARTS`` is retryable (merges catch up) except "too many partitions for a single
    INSERT block", which the same batch always hits. Client-side serialisation errors
    (a ``str`` where a ``UInt32`` belongs, invalid UTF-8) are permanent. Unknown: retryable.

    >>> classify(ValueError("invalid literal for int()")).__class__.__name__
    'PermanentError'
    """
    if isinstance(exc, PermanentError | RetryableError):
        return exc
    err: PermanentError | RetryableError
    if isinstance(exc, TracesieveError):
        err = RetryableError(str(exc))
    elif isinstance(exc, ClickHouseClientError):
        code = exc.code
        message = str(exc)
        if code == _TOO_MANY_PARTS and "partitions for" in message.lower():
            err = PermanentError(_reason(exc))
        elif code in THROTTLE_CODES:
            err = RetryableError(_reason(exc), retry_after_s=_THROTTLE_RETRY_AFTER_S)
        elif code in PERMANENT_CODES or (code is None and isinstance(exc, DataError)):
            err = PermanentError(_reason(exc))
        else:
            err = RetryableError(_reason(exc))
    elif isinstance(exc, _SERIALISATION_ERRORS):
        err = PermanentError(_reason(exc))
    else:
        # OSError, ConnectionError, TimeoutError, and anything unknown.
        err = RetryableError(_reason(exc))
    err.__cause__ = exc
    return err
