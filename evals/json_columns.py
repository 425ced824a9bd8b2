"""Reading the review loop's JSON text columns (evidence, context, documents, examples)."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["json_column"]


def json_column(text: Any, default: Any) -> Any:
    """The value a JSON text column holds; ``default`` when it is empty, null or not JSON.

    A value that is already decoded (not a string) is returned as it is.
    """
    if text is None:
        return default
    if not isinstance(text, str):
        return text
    if not text.strip():
        return default
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return default
    return default if value is None else value
