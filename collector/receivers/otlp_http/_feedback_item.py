"""The ``POST /v1/feedback`` body item: a pydantic model, strict JSON types, and its mapping to
:class:`~tracesieve.collector.contracts.Feedback` (see :mod:`.feedback` for the route)."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from tracesieve.collector.contracts import Feedback

__all__ = ["FeedbackItem"]

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?([Zz]|[+-]\d{2}:\d{2})")
_MIN_TIME_NS: Final = 946_684_800 * 10**9  # 2000-01-01: earlier is a unit mistake, not feedback
_FUTURE_SLACK_NS: Final = 86_400 * 10**9  # clocks drift; a day ahead is not
_THUMBS = {"up": "up", "thumbs_up": "up", "👍": "up", "down": "down", "thumbs_down": "down", "👎": "down"}
_ANNOTATORS = {
    "human": "human",
    "user": "human",
    "llm": "llm",
    "model": "llm",
    "llm_judge": "llm",
    "code": "code",
}
_MAX_ATTRIBUTES: Final = 128
_MAX_VALUE_CHARS: Final = 65536


class FeedbackItem(BaseModel):
    """One piece of feedback as sent to ``POST /v1/feedback``; strict JSON types, no unknown fields.

    Empty strings count as absent. At least one target id and one of ``thumbs``, ``score``,
    ``label``, ``comment``, ``ticket_id`` (or Langfuse's ``value``) are required.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str | None = Field(
        None, max_length=256, description="Sender's id of this feedback; resending it stores it once."
    )
    trace_id: str | None = Field(
        None,
        validation_alias=AliasChoices("trace_id", "traceId"),
        description="Target trace: 32 hex characters (case-insensitive).",
    )
    span_id: str | None = Field(
        None,
        validation_alias=AliasChoices("span_id", "spanId", "observationId"),
        description="Target span: 16 hex characters; Langfuse's `observationId`.",
    )
    session_id: str | None = Field(
        None,
        max_length=256,
        validation_alias=AliasChoices("session_id", "sessionId"),
        description="Target session (conversation) id.",
    )
    response_id: str | None = Field(
        None,
        max_length=256,
        validation_alias=AliasChoices("response_id", "responseId"),
        description="Target answer by the model's response id (`gen_ai.response.id`).",
    )
    user_id: str | None = Field(
        None,
        max_length=256,
        validation_alias=AliasChoices("user_id", "userId"),
        description="Who gave the feedback.",
    )
    thumbs: Literal["up", "down"] | None = Field(
        None, description='"up" or "down" (also "thumbs_up", "thumbs_down", 👍, 👎).'
    )
    thumbs_up: bool | None = Field(
        None, validation_alias=AliasChoices("thumbs_up", "thumbsUp"), description="true: up, false: down."
    )
    score: float | None = Field(None, allow_inf_nan=False, description="A number on the sender's scale.")
    value: float | str | None = Field(
        None, description="Langfuse's score value: a number is the score, a string the label."
    )
    label: str | None = Field(None, max_length=1024, description="Categorical result, e.g. `incorrect`.")
    comment: str | None = Field(None, max_length=_MAX_VALUE_CHARS, description="Free text.")
    ticket_id: str | None = Field(
        None,
        max_length=256,
        validation_alias=AliasChoices("ticket_id", "ticketId"),
        description="Support ticket opened about the answer.",
    )
    name: str = Field("user_feedback", min_length=1, max_length=256, description="What was judged.")
    annotator: str = Field("human", description="`human`, `llm` or `code` (case-insensitive).")
    timestamp: int | None = Field(
        None,
        description="RFC 3339 text (with an offset) or Unix seconds, ms, µs or ns (by magnitude); "
        "default: when received.",
    )
    attributes: dict[str, str] | None = Field(
        None, description="Extra key/values; non-string values are kept as JSON text."
    )
    metadata: dict[str, Any] | None = Field(None, description="Langfuse's metadata, kept as JSON text.")
    data_type: Literal["NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT", "CORRECTION"] | None = Field(
        None,
        validation_alias=AliasChoices("data_type", "dataType"),
        description="Langfuse's dataType: with TEXT or CORRECTION a string `value` is the comment.",
    )

    @field_validator(
        "id", "session_id", "response_id", "user_id", "label", "comment", "ticket_id", mode="before"
    )
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("trace_id", mode="before")
    @classmethod
    def _trace_id(cls, value: Any) -> Any:
        return _hex_id(value, _HEX32, 32)

    @field_validator("span_id", mode="before")
    @classmethod
    def _span_id(cls, value: Any) -> Any:
        return _hex_id(value, _HEX16, 16)

    @field_validator("thumbs", mode="before")
    @classmethod
    def _thumbs(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        up_down = _thumbs_of(value) if isinstance(value, str) else ""
        if not up_down:
            raise ValueError('must be "up" or "down"')
        return up_down

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, float):
            return value
        if isinstance(value, str):
            if len(value) > _MAX_VALUE_CHARS:
                raise ValueError(f"at most {_MAX_VALUE_CHARS} characters")
            return value
        raise ValueError("must be a number or a string")

    @field_validator("annotator", mode="before")
    @classmethod
    def _annotator(cls, value: Any) -> Any:
        if isinstance(value, str) and (kind := _ANNOTATORS.get(value.strip().lower())):
            return kind
        raise ValueError('must be "human", "llm" or "code"')

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        ns = _time_ns(value)
        if not _MIN_TIME_NS <= ns <= time.time_ns() + _FUTURE_SLACK_NS:
            raise ValueError("must be between 2000-01-01 and tomorrow")
        return ns

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("must be an object of key/values")
        if len(value) > _MAX_ATTRIBUTES:
            raise ValueError(f"at most {_MAX_ATTRIBUTES} keys")
        out = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}
        if any(len(v) > _MAX_VALUE_CHARS for v in out.values()):
            raise ValueError(f"values are limited to {_MAX_VALUE_CHARS} characters")
        return out

    @model_validator(mode="after")
    def _check(self) -> FeedbackItem:
        if not (self.trace_id or self.span_id or self.session_id or self.response_id):
            raise ValueError("names no target: give trace_id, span_id, session_id or response_id")
        if self.thumbs is not None and self.thumbs_up is not None:
            raise ValueError("give `thumbs` or `thumbs_up`, not both")
        if self.value is not None and self.data_type not in ("TEXT", "CORRECTION"):
            if isinstance(self.value, float) and self.score is not None:
                raise ValueError("give `score` or a numeric `value`, not both")
            if isinstance(self.value, str) and self.label is not None:
                raise ValueError("give `label` or a string `value`, not both")
        said = (self.thumbs, self.thumbs_up, self.score, self.value, self.label, self.comment, self.ticket_id)
        if all(x is None for x in said):
            raise ValueError("says nothing: give thumbs, score, label, comment or ticket_id")
        return self

    def to_feedback(self, now_ns: int) -> Feedback:
        """The :class:`Feedback` this item says (``source="api"``), received at ``now_ns``."""
        score, label, comment = self.score, self.label or "", self.comment or ""
        attributes = dict(self.attributes or {})
        if isinstance(self.value, float):
            score = self.value
        elif isinstance(self.value, str):
            if self.data_type in ("TEXT", "CORRECTION"):
                if comment:
                    attributes["value"] = self.value
                else:
                    comment = self.value
            else:
                label = self.value
        if self.metadata is not None:
            attributes["metadata"] = orjson.dumps(self.metadata, option=orjson.OPT_SORT_KEYS).decode()
        if self.data_type is not None:
            attributes["data_type"] = self.data_type
        thumbs: str = self.thumbs or ("" if self.thumbs_up is None else "up" if self.thumbs_up else "down")
        if not thumbs and label:
            thumbs = _thumbs_of(label)
        fb = Feedback(
            feedback_id="",
            time_ns=self.timestamp if self.timestamp is not None else now_ns,
            source="api",
            name=self.name,
            span_id=self.span_id or "",
            trace_id=self.trace_id or "",
            response_id=self.response_id or "",
            session_id=self.session_id or "",
            user_id=self.user_id or "",
            thumbs=thumbs,
            score=score,
            label=label,
            comment=comment,
            ticket_id=self.ticket_id or "",
            annotator=self.annotator,
            attributes=attributes,
        )
        fb.feedback_id = self.id or _content_id(fb)
        return fb


def _thumbs_of(text: str) -> str:
    """``"up"``/``"down"`` for a thumbs-like text (``Thumbs-Down``, ``👍🏽``…), else ``""``."""
    if len(text) > 12:
        return ""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    # An emoji may carry a skin-tone modifier or a variation selector after it.
    return _THUMBS.get(key) or _THUMBS.get(key[:1], "")


def _hex_id(value: Any, pattern: re.Pattern[str], length: int) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"must be {length} hex characters")
    if value.strip("0") == "":
        raise ValueError("must not be all zeros")
    return value.lower()


def _time_ns(value: Any) -> int:
    """RFC 3339 text, or a Unix time in s/ms/µs/ns told apart by magnitude, → Unix ns."""
    if isinstance(value, str):
        m = _RFC3339.fullmatch(value.strip())
        if m is None:
            raise ValueError("must be RFC 3339 with an offset, e.g. 2025-01-31T12:00:00Z, or a number")
        date, clock, fraction, offset = m.groups()
        try:
            moment = datetime.fromisoformat(f"{date}T{clock}{'+00:00' if offset in 'Zz' else offset}")
        except ValueError as exc:
            raise ValueError(f"not a valid date and time ({exc})") from None
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        seconds = delta.days * 86_400 + delta.seconds
        return seconds * 10**9 + int((fraction or "0").ljust(9, "0"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be RFC 3339 text or a Unix time number")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    # Decimal of the float's repr: the digits as sent, not the binary approximation.
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    magnitude = abs(exact)
    if magnitude < 10**11:  # seconds until the year 5138
        exact *= 10**9
    elif magnitude < 10**14:
        exact *= 10**6
    elif magnitude < 10**17:
        exact *= 10**3
    return int(exact)


def _content_id(fb: Feedback) -> str:
    parts = [
        fb.source, fb.span_id, fb.trace_id, fb.session_id, fb.response_id, fb.name, fb.score, fb.label,
        fb.comment, fb.thumbs, fb.ticket_id, fb.user_id, fb.annotator, fb.time_ns,
    ]  # fmt: skip
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).hexdigest()
