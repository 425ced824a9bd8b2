"""Forgiving coercions for attribute values: whatever arrives, never raise.

Producers disagree on types (tokens as strings, ids as ints, lists JSON-encoded into strings),
and a malformed value must leave its canonical field empty rather than fail the span.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

__all__ = [
    "TIME_MAX_NS",
    "as_float",
    "as_int",
    "as_str",
    "as_str_list",
    "json_text",
    "loads",
    "loads_or_text",
    "stored_time_ns",
]

# The last instant a DateTime64(9) column holds (2262-04-11). OTLP times are fixed64 and reach
# the year 2554: later ones are stored as this, not refused when the span is already acked.
TIME_MAX_NS: Final = (1 << 63) - 1


def stored_time_ns(ns: int) -> int:
    """An OTLP time (Unix ns, unsigned) as the stores can hold it: capped at :data:`TIME_MAX_NS`."""
    return ns if ns <= TIME_MAX_NS else TIME_MAX_NS


def loads(value: Any) -> Any:
    """A JSON text decoded, a structured value as it is; ``None`` when the text is not JSON."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except ValueError:  # orjson.JSONDecodeError, also raised for nesting too deep
            return None
    if isinstance(value, bytes):
        return None
    return value


def loads_or_text(value: Any) -> Any:
    """Like :func:`loads`, but a string that is not JSON is kept as plain text."""
    if isinstance(value, str):
        s = value.lstrip()
        if s[:1] in ("{", "[", '"'):
            try:
                return orjson.loads(s)
            except ValueError:  # orjson.JSONDecodeError, also raised for nesting too deep
                return value
        return value
    return value


def as_str(value: Any) -> str:
    """A string, an integer id as text, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


# Token counts are UInt32 columns: a larger count is nonsense, and would fail the span's INSERT.
_COUNT_END: Final = 1 << 32


def as_int(value: Any) -> int:
    """A token count in [0, 2**32) from an int, a float or a numeric string; 0 when unusable."""
    if type(value) is int:  # the common case (bool is a subclass, not the class)
        return value if 0 < value < _COUNT_END else 0
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if 0 < value < _COUNT_END else 0
    if isinstance(value, float):
        return int(value) if 0 < value < _COUNT_END else 0  # NaN compares false
    if isinstance(value, str):
        try:
            count = int(float(value.strip()))
        except (ValueError, OverflowError):
            return 0
        return count if 0 < count < _COUNT_END else 0
    return 0


def as_float(value: Any) -> float | None:
    """A finite float from a number or a numeric string, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):  # a tuple: ``int | float`` builds a union object per call
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def as_str_list(value: Any) -> list[str]:
    """A list of strings from an array, a JSON-array string or one bare string."""
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            value = loads(s)
        else:
            return [s] if s else []
    if isinstance(value, (list, tuple)):  # a tuple: ``list | tuple`` builds a union object per call
        return [x for x in map(as_str, value) if x]
    return []


def json_text(value: Any) -> str:
    """Text as it is; any other value as compact JSON; ``None`` as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)
