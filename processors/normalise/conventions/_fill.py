"""Fill-if-empty setters shared by the conventions: the first source that has a field wins."""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import KIND_OTHER, CanonicalSpan, Message

from .._content import Output
from .._values import as_int, as_str
from .._vocab import kind_of_operation, provider

__all__ = ["inputs", "kind", "models", "operation", "output_text", "outputs", "provider_name", "tokens"]


def operation(span: CanonicalSpan, op: Any, kind_hint: str = "") -> None:
    """Sets the operation if unset, and the kind (from ``kind_hint`` or the operation) if still ``other``."""
    op = op.strip() if isinstance(op, str) else ""
    if op and not span.operation:
        span.operation = op
    if span.kind == KIND_OTHER:
        span.kind = kind_hint or (kind_of_operation(op) if op else KIND_OTHER)


def kind(span: CanonicalSpan, value: str) -> None:
    if span.kind == KIND_OTHER:
        span.kind = value


def provider_name(span: CanonicalSpan, name: Any, system: Any = "") -> None:
    if not span.provider and isinstance(name, str) and name:
        span.provider = provider(name, system if isinstance(system, str) else "")


def models(span: CanonicalSpan, request: Any = None, response: Any = None) -> None:
    # Plain strings (nearly all model names) are taken as they are, without a call.
    if request is not None and not span.request_model:
        span.request_model = request if request.__class__ is str else as_str(request)
    if response is not None and not span.response_model:
        span.response_model = response if response.__class__ is str else as_str(response)


def tokens(span: CanonicalSpan, input_tokens: Any = None, output_tokens: Any = None) -> None:
    if not span.input_tokens and input_tokens is not None:
        span.input_tokens = as_int(input_tokens)
    if not span.output_tokens and output_tokens is not None:
        span.output_tokens = as_int(output_tokens)


def inputs(span: CanonicalSpan, messages: list[Message]) -> None:
    if messages and not span.input_messages:
        span.input_messages = messages


def outputs(span: CanonicalSpan, out: Output) -> None:
    """Output messages, their finish reasons and refusal, each only where the span lacks it."""
    if out.messages and not span.output_messages:
        span.output_messages = out.messages
    if out.finish_reasons and not span.finish_reasons:
        span.finish_reasons = out.finish_reasons
    if out.refusal and not span.refusal:
        span.refusal = out.refusal


def output_text(span: CanonicalSpan, text: Any) -> None:
    if not span.output_text and isinstance(text, str):
        span.output_text = text
