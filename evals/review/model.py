"""What the review page and ``tracesieve review`` exchange: a label as given, a label as stored,
a case and a batch as shown.

A label says of one review case (a flagged turn in a batch) whether the answer was ``bad`` or
``fine``, under which failure categories, what a correct answer is (``expected``) or must do
(``criteria``), how bad it is (``severity``), and who said so. For a ``bad`` verdict the
categories name the failure (at least one is required); for ``fine`` they name the categories
the case was flagged under that turned out to be false alarms (they may be empty).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BUILTIN_CATEGORIES",
    "SEVERITIES",
    "SIGNAL_CATEGORIES",
    "BatchSummary",
    "BatchView",
    "CaseView",
    "LabelIn",
    "LabelOut",
    "Promotion",
    "SavedLabel",
    "SignalView",
    "normalise_category",
]

BUILTIN_CATEGORIES: tuple[str, ...] = (
    "negative_feedback",
    "unhelpful_answer",
    "retrieval",
    "hallucination",
    "refusal",
    "truncation",
    "error",
    "latency",
)
"""The failure categories of the built-in detectors (README, "The signals"); labels may add more."""

SIGNAL_CATEGORIES: dict[str, str] = {
    "negative_feedback": "negative_feedback",
    "rephrase": "unhelpful_answer",
    "regenerate": "unhelpful_answer",
    "abandoned_session": "unhelpful_answer",
    "user_correction": "unhelpful_answer",
    "low_retrieval_confidence": "retrieval",
    "empty_retrieval": "retrieval",
    "ungrounded_answer": "hallucination",
    "refusal": "refusal",
    "truncated": "truncation",
    "error": "error",
    "latency_outlier": "latency",
}
"""The built-in signals' categories, for a signal whose row in ``signals`` is gone."""

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

Verdict = Literal["bad", "fine"]
Severity = Literal["", "low", "medium", "high", "critical"]

_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_TEXT_MAX = 20_000


def normalise_category(name: str) -> str:
    """``"Wrong plan name "`` → ``"wrong_plan_name"``; ValueError when nothing usable is left."""
    value = re.sub(r"[\s/]+", "_", name.strip().lower())
    if not _CATEGORY.match(value):
        raise ValueError(
            f"category {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit "
            "(at most 64)"
        )
    return value


class LabelIn(BaseModel):
    """A label as the reviewer gives it (``POST /api/v1/review/labels``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_id: str = Field(min_length=1, max_length=64)
    batch_id: str = Field(min_length=1, max_length=200)
    verdict: Verdict
    categories: list[str] = Field(default_factory=list, max_length=20)
    expected: str = Field("", max_length=_TEXT_MAX)
    criteria: str = Field("", max_length=_TEXT_MAX)
    notes: str = Field("", max_length=_TEXT_MAX)
    severity: Severity = ""
    reviewer: str = Field(min_length=1, max_length=100)

    @field_validator("categories")
    @classmethod
    def _normalise(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for name in value:
            category = normalise_category(name)
            if category not in out:
                out.append(category)
        return out

    @model_validator(mode="after")
    def _bad_names_a_category(self) -> LabelIn:
        if self.verdict == "bad" and not self.categories:
            raise ValueError("a bad verdict needs at least one failure category")
        return self


class LabelOut(BaseModel):
    """A stored label (one row of ``labels``); ``labelled_at`` in Unix milliseconds."""

    label_id: str
    case_id: str
    batch_id: str
    verdict: str
    categories: list[str]
    expected: str
    criteria: str
    notes: str
    severity: str
    reviewer: str
    labelled_at: int


class Promotion(BaseModel):
    """What became of a bad label's regression case: ``ok`` with the op's result, or the error
    (the label is saved either way; promoting can be retried)."""

    ok: bool
    result: Any = None
    error: str | None = None


class SavedLabel(BaseModel):
    label: LabelOut
    promotion: Promotion | None = None
    labelled: int = Field(description="cases of the batch that have a label now")
    total: int


class SignalView(BaseModel):
    signal: str
    category: str
    score: float | None
    evidence: Any


class CaseView(BaseModel):
    """One case of a batch, as the reviewer sees it; JSON columns decoded."""

    position: int
    case_id: str
    category: str
    timestamp: str
    session_id: str
    trace_id: str
    span_id: str
    service_name: str
    user_id: str
    turn_index: int
    flag_score: float
    model: str
    signals: list[SignalView]
    user_message: str
    output_text: str
    input_messages: Any
    retrieved_documents: list[Any]
    session_context: list[Any]
    cluster_size: int
    cluster_examples: list[Any]
    label: LabelOut | None = None


class BatchSummary(BaseModel):
    batch_id: str
    week: str
    created_at: int
    total: int
    labelled: int
    bad: int


class BatchView(BatchSummary):
    resume_at: int = Field(description="index of the first unlabelled case (0 when all are labelled)")
    cases: list[CaseView]
    categories: list[str] = Field(description="built-in categories, then those labels have used")
    severities: list[str] = Field(default_factory=lambda: list(SEVERITIES))
