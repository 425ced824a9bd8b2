"""Redaction: personal data and secrets taken out of every request before it is stored or published.

``processors.redaction: {enabled: true}`` turns on the built-in patterns (e-mails, phone
numbers, Luhn-checked card numbers, API keys and tokens); see ``config.py`` for custom patterns
and attribute allow/deny lists, and the README's "Privacy: redaction and retention".
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from tracesieve.collector.contracts import Feedback, OtlpConsumer
from tracesieve.processors.redaction.config import PatternsConfig, RedactionConfig
from tracesieve.processors.redaction.consumer import RedactingConsumer
from tracesieve.processors.redaction.redactor import COUNT_KEY, KINDS_KEY, Redactor

__all__ = [
    "COUNT_KEY",
    "KINDS_KEY",
    "PatternsConfig",
    "RedactingConsumer",
    "RedactionConfig",
    "Redactor",
    "factory",
]


def factory(
    config: RedactionConfig,
    next: OtlpConsumer,
    encode_feedback: Callable[[list[Feedback]], bytes],
    needed_keys: Collection[str] = (),
) -> OtlpConsumer:
    """``next`` behind a :class:`RedactingConsumer`, or ``next`` itself when redaction is off.

    ``needed_keys``: attribute keys an allow list must never drop besides the built-in
    normalisation namespaces (the configured session and user id keys).
    """
    if not config.enabled:
        return next
    return RedactingConsumer(next, Redactor(config, needed_keys), encode_feedback)
