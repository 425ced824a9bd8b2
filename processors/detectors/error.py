"""``error`` (category ``error``): a model call, agent step, retrieval, embedding or tool call failed.

**Triggers** (``on_span``), on a span of kind ``llm``, ``agent``, ``retrieval``, ``embedding``
or ``tool``, when any of these holds (all that hold are listed in ``reasons``):

- ``status``: the span's status code is ``Error`` (Langfuse's ``level = ERROR`` arrives as
  such);
- ``exception``: the span carries an ``exception`` event, unless its status is ``Ok`` (the
  application caught it and said so);
- ``error_type``: the span declares ``error.type`` (the GenAI conventions set it exactly when
  the operation failed), unless its status is ``Ok``;
- ``finish_reason``: an LLM span finished with reason ``error`` (Vercel AI SDK, GenAI enum);
- ``tool_result``: a tool span whose result says it failed although the span did not: a JSON
  object with ``isError: true`` / ``is_error: true`` (MCP, Anthropic tool results), a
  ``status`` of ``error``/``errored``/``failed``/``failure``/``fail``, ``success: false``,
  ``ok: false`` or a non-empty ``error``; or a result text that starts like an error report (``Error: …``,
  ``Exception: …``, ``ValueError: …``, ``Traceback (most recent call last)``), which is how
  LangChain hands a caught tool exception back to the model.

**Does not trigger**: spans of kind ``other`` (HTTP clients, the app's own root span: their
failure shows on the GenAI span they wrap); an ``exception`` event or ``error.type`` on a span
whose status is ``Ok``; a tool result that merely mentions errors (``{"error_rate": 0.1}``,
``"Error handling in Python: …"``, ``{"error": null}``). Each failed span gets its own signal,
so an LLM error re-raised by its agent span is reported on both.

**Score**: ``llm_score`` (1.0) for an ``llm`` or ``agent`` span, ``tool_score`` (0.8) for a
``tool``, ``retrieval`` or ``embedding`` span (an agent often recovers from a failed tool).

**Evidence**: ``span_id``, ``span_name``, ``kind``, ``reasons``, ``status_message`` (cut to 500
characters), ``error_type``; with an ``exception`` event, the first one's ``exception_type`` and
``exception_message`` (cut); ``tool_result`` (the failing result, cut) when it is a reason;
``finish_reasons`` when the span has any.

**Config** (``processors.detectors.error``): ``llm_score``, ``tool_score``; both can be
overridden per service/model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import Field
from tracesieve.collector.contracts import (
    KIND_AGENT,
    KIND_EMBEDDING,
    KIND_LLM,
    KIND_RETRIEVAL,
    KIND_TOOL,
    CanonicalSpan,
    Signal,
)

from ._spans import clip, resolve_for
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["ErrorConfig", "ErrorDetector", "factory"]

_KINDS = frozenset((KIND_LLM, KIND_AGENT, KIND_RETRIEVAL, KIND_EMBEDDING, KIND_TOOL))
_HEAVY = frozenset((KIND_LLM, KIND_AGENT))
_EVIDENCE_CHARS = 500

# "Error: …", "ERROR(42)", "openai.APIError: …", "Traceback (most recent call last):" at the start
# of a tool's result; a word after "Error" ("Error handling …", "Error-free") does not match.
_ERROR_TEXT = re.compile(
    r"(?i:error|exception|fatal)\s*[:(\[]"
    r"|[A-Za-z_][\w.]*(?:Error|Exception)\s*[:(]"
    r"|(?i:traceback \(most recent call last\))"
)
_FAILED_STATUS = frozenset(("error", "failed", "failure", "errored", "fail"))


class ErrorConfig(DetectorConfig):
    """Settings of the ``error`` detector."""

    llm_score: float = Field(1.0, ge=0.0, le=1.0, description="Score of a failed `llm` or `agent` span.")
    tool_score: float = Field(
        0.8, ge=0.0, le=1.0, description="Score of a failed `tool`, `retrieval` or `embedding` span."
    )


class ErrorDetector(Detector):
    """See the module docstring."""

    name = "error"
    category = "error"

    def __init__(self, config: ErrorConfig) -> None:
        self.config = config
        self._resolve = scoped(config)

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        kind = span.kind
        if kind not in _KINDS:
            return ()
        status = span.status_code
        # The common case, a span that went well, costs these few attribute reads.
        if (
            status != "Error"
            and not span.events
            and not span.error_type
            and not (kind == KIND_TOOL and span.output_text)
            and not (kind == KIND_LLM and "error" in span.finish_reasons)
        ):
            return ()
        reasons: list[str] = []
        if status == "Error":
            reasons.append("status")
        exception = _exception_event(span) if span.events else None
        if status != "Ok":
            if exception is not None:
                reasons.append("exception")
            if span.error_type:
                reasons.append("error_type")
        if kind == KIND_LLM and "error" in span.finish_reasons:
            reasons.append("finish_reason")
        tool_result = ""
        if kind == KIND_TOOL and status != "Error" and span.output_text:
            tool_result = _failed_tool_result(span.output_text)
            if tool_result:
                reasons.append("tool_result")
        if not reasons:
            return ()
        config = resolve_for(self._resolve, self.config, span)
        evidence: dict[str, Any] = {
            "span_id": span.span_id,
            "span_name": span.name,
            "kind": kind,
            "reasons": reasons,
            "status_message": clip(span.status_message, _EVIDENCE_CHARS),
            "error_type": span.error_type,
        }
        if exception is not None:
            evidence["exception_type"] = exception.get("exception.type", "")
            evidence["exception_message"] = clip(exception.get("exception.message", ""), _EVIDENCE_CHARS)
        if tool_result:
            evidence["tool_result"] = tool_result
        if span.finish_reasons:
            evidence["finish_reasons"] = list(span.finish_reasons)
        score = config.llm_score if kind in _HEAVY else config.tool_score
        return (make_signal(self, span_ref(span, session_id), score, evidence),)


def _exception_event(span: CanonicalSpan) -> dict[str, str] | None:
    for _, name, attrs in span.events:
        if name == "exception":
            return attrs
    return None


def _failed_tool_result(text: str) -> str:
    """The result (cut) if it reports a failure, else ``""``."""
    head = text.lstrip()
    if head.startswith("{"):
        # Most results are not failures: decode only those that could say so.
        if "rror" not in head and "status" not in head and "false" not in head:
            return ""
        try:
            value = orjson.loads(head)
        except ValueError:
            return ""
        return clip(head, _EVIDENCE_CHARS) if isinstance(value, dict) and _says_failed(value) else ""
    if _ERROR_TEXT.match(head):
        return clip(head, _EVIDENCE_CHARS)
    return ""


def _says_failed(result: dict[str, Any]) -> bool:
    if result.get("isError") is True or result.get("is_error") is True:
        return True
    if result.get("success") is False or result.get("ok") is False:
        return True
    status = result.get("status")
    if isinstance(status, str) and status.strip().lower() in _FAILED_STATUS:
        return True
    return bool(result.get("error"))


factory = DetectorFactory(name="error", config_model=ErrorConfig, create=ErrorDetector)
