"""OTLP ``AnyValue`` to plain Python, and Python values to the ``otel_traces`` string form.

The protobuf runtime is upb: every field access crosses into C, so attribute lists are read
exactly once, into a dict, and the common case (a non-empty string) costs one access.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["Truncator", "decode_attributes", "stringify", "to_python"]


def to_python(value: Any) -> Any:
    """Decode an ``AnyValue``: kvlist → dict, array → list, bytes stay bytes, unset → None."""
    s = value.string_value
    if s:
        return s
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return ""
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [to_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: to_python(kv.value) for kv in value.kvlist_value.values}
    return bytes(value.bytes_value)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError


def stringify(value: Any) -> str:
    """One attribute value as the OTel Collector's ClickHouse exporter writes it.

    Strings as they are, ints ``"123"``, doubles ``str()``, bools ``"true"``/``"false"``, bytes
    base64, arrays and maps as compact JSON (map keys sorted, as Go's encoder does).
    """
    if type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


class Truncator:
    """Cuts stringified values longer than ``max_bytes`` UTF-8 bytes, ending them with a marker."""

    __slots__ = ("fast_chars", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # A str of n characters is at most 4n UTF-8 bytes: shorter ones need no encoding.
        self.fast_chars = max_bytes // 4

    def __call__(self, s: str) -> str:
        if len(s) <= self.fast_chars:
            return s
        raw = s.encode("utf-8", "surrogatepass")
        if len(raw) <= self.max_bytes:
            return s
        cut = len(raw) - self.max_bytes
        marker = f"...[truncated {cut} bytes]"
        keep = raw[: max(0, self.max_bytes - len(marker))]
        return keep.decode("utf-8", "ignore") + marker


def decode_attributes(kvs: Iterable[Any], truncate: Truncator) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a repeated ``KeyValue`` once: ``(key → Python value, key → stringified value)``.

    The Python values are complete (content is never cut); the stringified ones are truncated.
    A repeated key keeps its last value, as a map would.
    """
    values: dict[str, Any] = {}
    patch: list[str] = []  # keys whose stringified form is not the value itself
    fast = truncate.fast_chars
    for kv in kvs:
        v = kv.value
        s = v.string_value
        if s:  # the common case first: one C access
            values[kv.key] = s
            if len(s) > fast:
                patch.append(kv.key)
            continue
        key = kv.key
        i = v.int_value
        values[key] = i if i else to_python(v)
        patch.append(key)
    strings: dict[str, str] = dict(values)  # the non-str values are patched below
    for key in patch:
        x = values[key]
        t = type(x)
        if t is int or t is float:
            strings[key] = str(x)
        else:
            strings[key] = truncate(x if t is str else stringify(x))
    return values, strings
