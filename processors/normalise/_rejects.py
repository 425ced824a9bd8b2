"""Counting rejected items and summarising why, for OTLP ``partial_success``."""

from __future__ import annotations

__all__ = ["Rejects"]

_MAX_REASONS = 5


class Rejects:
    """Rejected items of one request, their distinct reasons in first-seen order, and warnings."""

    __slots__ = ("count", "noun", "reasons", "warnings")

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.count = 0
        self.reasons: dict[str, int] = {}
        self.warnings: list[str] = []

    def add(self, reason: str) -> None:
        self.count += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def warn(self, warning: str) -> None:
        """Something accepted but worth reporting (OTLP: ``rejected == 0`` with a message is a warning)."""
        self.warnings.append(warning)

    def message(self) -> str:
        """``""`` when all is well, else e.g. ``"2 spans rejected: invalid trace_id length 3"``.

        With several reasons, each is followed by its count when above one:
        ``"3 spans rejected: invalid trace_id length 3 (2); all-zero span_id"``. Warnings follow.
        """
        text = ""
        if self.count:
            noun = self.noun if self.count == 1 else self.noun + "s"
            single = len(self.reasons) == 1
            reasons = list(self.reasons.items())[:_MAX_REASONS]
            parts = [r if n == 1 or single else f"{r} ({n})" for r, n in reasons]
            if len(self.reasons) > _MAX_REASONS:
                parts.append(f"{len(self.reasons) - _MAX_REASONS} more reasons")
            text = f"{self.count} {noun} rejected: " + "; ".join(parts)
        if self.warnings:
            more = f" (and {len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""
            text += ("; " if text else "") + self.warnings[0] + more
        return text
