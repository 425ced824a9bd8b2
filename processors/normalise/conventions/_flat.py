"""Un-flattening of indexed keys (``prefix.N.field``), as OpenInference and OpenLLMetry write them."""

from __future__ import annotations

from operator import methodcaller
from typing import Any

__all__ = ["group", "scan"]


def group(fields: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``{prefix + "N.rest": v}`` → one ``{rest: v}`` dict per index N, in index order.

    Keys without a numeric index after the prefix are ignored; gaps in the numbering are closed.
    """
    by_index: dict[int, dict[str, Any]] = {}
    n = len(prefix)
    for key, value in fields.items():
        if prefix and not key.startswith(prefix):
            continue
        idx, _, rest = key[n:].partition(".")
        if not idx.isdecimal() or not rest:
            continue
        by_index.setdefault(int(idx), {})[rest] = value
    return [by_index[i] for i in sorted(by_index)]


def scan(attrs: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The attributes under ``prefix``, with the prefix removed."""
    n = len(prefix)
    # filter(): the test of every key runs in C; only the matching ones reach the comprehension.
    return {k[n:]: attrs[k] for k in filter(methodcaller("startswith", prefix), attrs)}
