"""Identifiers shared by the review loop's tables."""

from __future__ import annotations

import hashlib

__all__ = ["review_case_id"]


def review_case_id(trace_id: str, span_id: str) -> str:
    """The id of the review case on the answer span ``(trace_id, span_id)``.

    Derived from the span, not drawn at random, so that the same flagged turn has the same id in
    every batch, label and export, and "never a case already reviewed" is one lookup.
    """
    return hashlib.sha256(f"{trace_id.lower()}/{span_id.lower()}".encode()).hexdigest()[:24]
