"""``truncated`` (category ``truncation``): a model's answer was cut off, by its token budget or a filter.

**Triggers** (``on_span``), on an ``llm`` span, when any of its finish reasons (one per
choice, as the normaliser leaves them: lower case, ``max_tokens``/``max_output_tokens`` already
``length``, ``SAFETY`` already ``content_filter``) is

- a *length* stop (``reason: "length"``): ``length``, ``max_tokens``, ``max_output_tokens``,
  ``model_length`` (Mistral: the context window), ``max_tokens_reached``, ``token_limit``,
  ``error_limit`` (Cohere), ``incomplete`` (OpenAI Responses);
- a *filter* stop (``reason: "content_filter"``): ``content_filter``, ``safety``,
  ``recitation``, ``blocklist``, ``prohibited_content``, ``spii``, ``image_safety`` (Gemini),
  ``guardrail_intervened``, ``content_filtered`` (Bedrock), ``error_toxic`` (Cohere), ``blocked``.

When the span records no finish reason at all (Langfuse, some streamed calls) and
``infer_from_token_budget`` is on, a call whose output tokens reached its requested maximum
(``gen_ai.request.max_tokens``, ``ai.settings.maxOutputTokens``/``maxTokens``, or
``max_tokens``/``max_completion_tokens``/``max_output_tokens`` in the JSON invocation
parameters of OpenInference or Langfuse) counts as a length stop (``inferred: true``).

**Does not trigger**: ``stop``, ``tool_call``, ``end_turn``…; a finish reason that is missing
while the token count stays below the maximum (or either is unknown); Anthropic's ``refusal``
stop (the ``refusal`` detector's); spans of other kinds.

**Score**: ``length_score`` (1.0) or ``content_filter_score`` (1.0); a filter stop wins when a
span has both.

**Evidence**: ``span_id``, ``reason``, ``finish_reasons``, ``output_tokens``,
``request_max_tokens`` (when known), ``inferred``, ``model``.

**Config** (``processors.detectors.truncated``): ``length_score``, ``content_filter_score``,
``infer_from_token_budget``, ``extra_length_reasons``, ``extra_filter_reasons``; overridable per
service/model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import Field
from tracesieve.collector.contracts import KIND_LLM, CanonicalSpan, Signal

from ._spans import resolve_for
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["FILTER_REASONS", "LENGTH_REASONS", "TruncatedConfig", "TruncatedDetector", "factory"]

LENGTH_REASONS = frozenset(
    (
        "length",
        "max_tokens",
        "max_output_tokens",
        "model_length",
        "max_tokens_reached",
        "token_limit",
        "error_limit",
        "incomplete",
    )
)
FILTER_REASONS = frozenset(
    (
        "content_filter",
        "content-filter",
        "safety",
        "recitation",
        "blocklist",
        "prohibited_content",
        "spii",
        "image_safety",
        "guardrail_intervened",
        "content_filtered",
        "error_toxic",
        "blocked",
    )
)

# Attributes holding the requested output budget directly, then JSON parameter blobs holding it.
_MAX_TOKENS_KEYS = ("gen_ai.request.max_tokens", "ai.settings.maxOutputTokens", "ai.settings.maxTokens")
_PARAMETER_KEYS = ("llm.invocation_parameters", "langfuse.observation.model.parameters")
_PARAMETER_NAMES = ("max_tokens", "max_completion_tokens", "max_output_tokens", "maxOutputTokens")


class TruncatedConfig(DetectorConfig):
    """Settings of the ``truncated`` detector."""

    length_score: float = Field(1.0, ge=0.0, le=1.0, description="Score of an answer cut by its token limit.")
    content_filter_score: float = Field(
        1.0, ge=0.0, le=1.0, description="Score of an answer stopped by a content filter."
    )
    infer_from_token_budget: bool = Field(
        True,
        description=(
            "When a span records no finish reason, count output tokens ≥ the requested maximum as a "
            "length stop."
        ),
    )
    extra_length_reasons: list[str] = Field(
        default_factory=list, description="More finish reasons (lower case) that mean a length stop."
    )
    extra_filter_reasons: list[str] = Field(
        default_factory=list, description="More finish reasons (lower case) that mean a content-filter stop."
    )


class TruncatedDetector(Detector):
    """See the module docstring."""

    name = "truncated"
    category = "truncation"

    def __init__(self, config: TruncatedConfig) -> None:
        self.config = config
        self._resolve = scoped(config)
        self._length = LENGTH_REASONS.union(r.lower() for r in config.extra_length_reasons)
        self._filter = FILTER_REASONS.union(r.lower() for r in config.extra_filter_reasons)
        self._known = self._length | self._filter

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        if span.kind != KIND_LLM:
            return ()
        reasons = span.finish_reasons
        if reasons:
            if self._known.isdisjoint(reasons):
                return ()
            reason = "content_filter" if not self._filter.isdisjoint(reasons) else "length"
            config = resolve_for(self._resolve, self.config, span)
            max_tokens = _requested_max_tokens(span.attributes)
            inferred = False
        elif span.output_tokens > 0:
            config = resolve_for(self._resolve, self.config, span)
            if not config.infer_from_token_budget:
                return ()
            max_tokens = _requested_max_tokens(span.attributes)
            if max_tokens is None or span.output_tokens < max_tokens:
                return ()
            reason, inferred = "length", True
        else:
            return ()
        evidence: dict[str, Any] = {
            "span_id": span.span_id,
            "reason": reason,
            "finish_reasons": list(reasons),
            "output_tokens": span.output_tokens,
            "inferred": inferred,
            "model": span.response_model or span.request_model,
        }
        if max_tokens is not None:
            evidence["request_max_tokens"] = max_tokens
        score = config.content_filter_score if reason == "content_filter" else config.length_score
        return (make_signal(self, span_ref(span, session_id), score, evidence),)


def _requested_max_tokens(attrs: dict[str, str]) -> int | None:
    for key in _MAX_TOKENS_KEYS:
        value = attrs.get(key)
        if value is not None:
            n = _positive_int(value)
            if n is not None:
                return n
    for key in _PARAMETER_KEYS:
        raw = attrs.get(key)
        if raw is None or "max" not in raw:
            continue
        try:
            params = orjson.loads(raw)
        except ValueError:
            continue
        if isinstance(params, dict):
            for name in _PARAMETER_NAMES:
                n = _positive_int(params.get(name))
                if n is not None:
                    return n
    return None


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float):
        return int(value) if value >= 1 and value.is_integer() else None
    if isinstance(value, str):
        try:
            n = float(value.strip())
        except ValueError:
            return None
        return int(n) if n >= 1 and n.is_integer() else None
    return None


factory = DetectorFactory(name="truncated", config_model=TruncatedConfig, create=TruncatedDetector)
