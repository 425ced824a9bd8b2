"""Feedback carried in telemetry → :class:`~tracesieve.collector.contracts.Feedback`.

Two pure functions, neither raises on content:

- :func:`feedback_from_log_event`: a ``gen_ai.evaluation.result`` log record (conventions §1.3,
  §6), targeted by its trace/span context and/or ``gen_ai.response.id``; ``source="otel_event"``.
- :func:`extract_feedback`: the feedback inside canonical spans: ``gen_ai.evaluation.result``
  span events (``source="span_event"``, target: the span, plus ``gen_ai.response.id`` if set) and
  OpenInference annotations (``source="openinference"``, OpenInference ``spec/annotations.md``):
  ``annotations.N.annotation.*`` / ``evaluations.N.evaluation.*`` target the span,
  ``trace.…`` its trace, ``session.…`` its session. A span of kind ``EVALUATOR`` with exactly
  one Span Link is a post-hoc *carrier*: its feedback (annotations and events) is about the
  linked span (span scope), the linked span's trace (trace scope) or its own ``session.id``.

Only the ids of the scope are set (span feedback: ``span_id`` + ``trace_id``; trace feedback:
``trace_id``; session feedback: ``session_id``), so "the most precise id wins" picks the right
target. ``feedback_id`` is deterministic, so a resent or replayed piece is stored once: with an
``identifier`` (OpenInference), a hash of the target ids, name and identifier (the spec's
identity: the identifier alone is shared by every result a judge gives); otherwise a hash of
source, target ids, name, score, label, comment and time.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

import orjson
from tracesieve.collector.contracts import CanonicalSpan, Feedback, LogEvent

from ._anyvalue import stringify
from ._values import as_float, as_str

__all__ = ["EVALUATION_EVENT", "extract_feedback", "feedback_from_log_event"]

EVALUATION_EVENT = "gen_ai.evaluation.result"

_NAME = "gen_ai.evaluation.name"
_SCORE = "gen_ai.evaluation.score.value"
_LABEL = "gen_ai.evaluation.score.label"
_EXPLANATION = "gen_ai.evaluation.explanation"
_RESPONSE_ID = "gen_ai.response.id"
# The GenAI event has no annotator or identifier (annotations.md, "Single-Result Events"); a
# gateway translating OpenInference results may keep them under one of these keys.
_ANNOTATOR_KEYS = ("gen_ai.evaluation.annotator_kind", "annotator_kind")
_IDENTIFIER_KEYS = ("gen_ai.evaluation.identifier", "identifier")
_EVENT_MAPPED = frozenset(
    (_NAME, _SCORE, _LABEL, _EXPLANATION, _RESPONSE_ID, "event.name", *_ANNOTATOR_KEYS, *_IDENTIFIER_KEYS)
)

# Index 0 is required to exist ("zero-based"), and ``name`` is required: one key per form
# tells whether a span carries annotations at all, without walking its keys.
_GATES = (
    "annotations.0.annotation.name",
    "evaluations.0.evaluation.name",
    "trace.annotations.0.annotation.name",
    "trace.evaluations.0.evaluation.name",
    "session.annotations.0.annotation.name",
    "session.evaluations.0.evaluation.name",
)
_ANNOTATION_KEY = re.compile(
    r"(?:(trace|session)\.)?(?:annotations\.(\d+)\.annotation|evaluations\.(\d+)\.evaluation)\.(.+)"
)
_OI_MAPPED = frozenset(("name", "score", "label", "explanation", "annotator_kind"))
_SPAN_KIND = "openinference.span.kind"

_ANNOTATORS = {
    "human": "human",
    "user": "human",
    "llm": "llm",
    "llm_judge": "llm",  # MLflow
    "model": "llm",  # LangSmith
    "code": "code",
}
_THUMBS = {
    "thumbs_up": "up",
    "thumbsup": "up",
    "up": "up",
    "👍": "up",
    "thumbs_down": "down",
    "thumbsdown": "down",
    "down": "down",
    "👎": "down",
}
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def thumbs_of(label: str) -> str:
    """``"up"``/``"down"`` for a thumbs-like label (``thumbs_down``, ``Thumbs-Up``, ``👎``…), else ``""``."""
    if not label or len(label) > 12:
        return ""
    key = label.strip().lower().replace("-", "_").replace(" ", "_")
    # An emoji may carry a skin-tone modifier or a variation selector after it.
    return _THUMBS.get(key) or _THUMBS.get(key[:1], "")


def annotator_of(kind: str) -> str:
    """``HUMAN``/``LLM``/``CODE`` (and a few synonyms) → ``human``/``llm``/``code``; else ``""``."""
    return _ANNOTATORS.get(kind.strip().lower(), "") if kind else ""


def _digest(parts: list[Any]) -> str:
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).hexdigest()


def _build(
    source: str,
    time_ns: int,
    targets: tuple[str, str, str, str],  # span_id, trace_id, session_id, response_id
    name: Any,
    score: Any,
    label: Any,
    comment: Any,
    annotator: Any,
    identifier: Any,
    attributes: dict[str, str],
) -> Feedback:
    span_id, trace_id, session_id, response_id = targets
    name_s = _text(name)
    label_s = _text(label)
    comment_s = _text(comment)
    value = as_float(score)
    if value is None and score is not None and score != "":
        attributes["score"] = _text(score)  # kept as sent: a reviewer may still read it
    kind = _text(annotator)
    annotator_s = annotator_of(kind)
    if kind and not annotator_s:
        attributes["annotator_kind"] = kind
    ident = _text(identifier)
    if ident:
        attributes["identifier"] = ident
        feedback_id = _digest(["id", span_id, trace_id, session_id, response_id, name_s, ident])
    else:
        feedback_id = _digest(
            [source, span_id, trace_id, session_id, response_id, name_s, value, label_s, comment_s, time_ns]
        )
    return Feedback(
        feedback_id=feedback_id,
        time_ns=time_ns,
        source=source,
        name=name_s,
        span_id=span_id,
        trace_id=trace_id,
        response_id=response_id,
        session_id=session_id,
        thumbs=thumbs_of(label_s),
        score=value,
        label=label_s,
        comment=comment_s,
        annotator=annotator_s,
        attributes=attributes,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else stringify(value)


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


# --- log records ----------------------------------------------------------------------------------


def feedback_from_log_event(event: LogEvent) -> Feedback | None:
    """The :class:`Feedback` a ``gen_ai.evaluation.result`` log record carries, or ``None``.

    ``None`` when ``event`` is another event or names no target (no span or trace context and no
    ``gen_ai.response.id``). ``event.trace_id``/``span_id`` are hex, ``""`` when the record had
    none. ``annotator`` is ``""`` unless an ``annotator_kind`` attribute says otherwise; the
    attributes not mapped to fields (``error.type`` among them) and a body, if any, are kept
    stringified in ``attributes``. ``time_ns`` is the record's (0 if it had neither time).
    """
    if event.name != EVALUATION_EVENT:
        return None
    attrs = event.attributes if isinstance(event.attributes, dict) else {}
    response_id = as_str(attrs.get(_RESPONSE_ID))
    trace_id = event.trace_id if event.trace_id != _ZERO_TRACE else ""
    span_id = event.span_id if event.span_id != _ZERO_SPAN else ""
    if not (trace_id or span_id or response_id):
        return None
    rest = {str(k): _text(v) for k, v in attrs.items() if k not in _EVENT_MAPPED}
    if event.body is not None:
        rest["body"] = _text(event.body)
    fb = _build(
        "otel_event",
        event.time_ns if isinstance(event.time_ns, int) else 0,
        (span_id, trace_id, "", response_id),
        attrs.get(_NAME),
        attrs.get(_SCORE),
        attrs.get(_LABEL),
        attrs.get(_EXPLANATION),
        _first(attrs, _ANNOTATOR_KEYS),
        _first(attrs, _IDENTIFIER_KEYS),
        rest,
    )
    fb.seq = event.seq
    return fb


# --- spans ----------------------------------------------------------------------------------------


def extract_feedback(spans: list[CanonicalSpan]) -> list[Feedback]:
    """Every piece of feedback carried by ``spans``, in span order; ``[]`` for almost all batches.

    A span costs a few dictionary lookups unless it has span events or annotations (measured in
    the README). Annotations need ``name`` and one of ``score``, ``label`` or ``explanation``
    (annotations.md, "Fields"); session-scoped ones need the span's session id. A piece that the
    span carries twice (the annotation and the evaluation form of one result) is returned once.
    """
    out: list[Feedback] = []
    for span in spans:
        attrs = span.attributes
        events = span.events
        if events:
            for event in events:
                if event[1] == EVALUATION_EVENT:
                    break
            else:
                events = []
        if (
            events
            or _GATES[0] in attrs
            or _GATES[1] in attrs
            or _GATES[2] in attrs
            or _GATES[3] in attrs
            or _GATES[4] in attrs
            or _GATES[5] in attrs
        ):
            # DESIGN.md, delivery: bad input never poisons a batch (what was read is kept).
            with contextlib.suppress(Exception):
                _from_span(span, out)
    return out


def _from_span(span: CanonicalSpan, out: list[Feedback]) -> None:
    attrs = span.attributes
    trace_id, span_id = span.trace_id, span.span_id
    extra: dict[str, str] = {}
    links = span.links
    if attrs.get(_SPAN_KIND) == "EVALUATOR" and len(links) == 1:
        link_trace, link_span = links[0][0], links[0][1]
        if len(link_trace) == 32 and link_trace != _ZERO_TRACE:
            # A post-hoc carrier: its feedback is about the linked span, not about itself.
            extra = {"carrier.trace_id": trace_id, "carrier.span_id": span_id}
            trace_id = link_trace
            span_id = link_span if len(link_span) == 16 and link_span != _ZERO_SPAN else ""
    session_id = span.session_id or attrs.get("session.id", "")
    seen: set[str] = set()

    def emit(fb: Feedback) -> None:
        if fb.feedback_id not in seen:
            seen.add(fb.feedback_id)
            fb.seq = span.seq
            out.append(fb)

    for time_ns, name, ev_attrs in span.events:
        if name != EVALUATION_EVENT:
            continue
        rest = {k: v for k, v in ev_attrs.items() if k not in _EVENT_MAPPED}
        rest.update(extra)
        emit(
            _build(
                "span_event",
                time_ns or span.end_ns,
                (span_id, trace_id, "", ev_attrs.get(_RESPONSE_ID, "")),
                ev_attrs.get(_NAME),
                ev_attrs.get(_SCORE),
                ev_attrs.get(_LABEL),
                ev_attrs.get(_EXPLANATION),
                _first(ev_attrs, _ANNOTATOR_KEYS),
                _first(ev_attrs, _IDENTIFIER_KEYS),
                rest,
            )
        )
    if any(gate in attrs for gate in _GATES):
        end_ns = span.end_ns or span.start_ns
        groups = _annotations(attrs)
        for (scope, _form, _index), fields in sorted(groups.items(), key=_scope_order):
            if not fields.get("name") or not (
                fields.get("score") or fields.get("label") or fields.get("explanation")
            ):
                continue  # annotations.md: name and one result field are required
            if scope == "span":
                if not span_id:
                    continue
                targets = (span_id, trace_id, "", "")
            elif scope == "trace":
                targets = ("", trace_id, "", "")
            elif session_id:
                targets = ("", "", session_id, "")
            else:
                continue  # a session annotation needs the session's id
            rest = {k: v for k, v in fields.items() if k not in _OI_MAPPED and k != "identifier"}
            rest.update(extra)
            emit(
                _build(
                    "openinference",
                    end_ns,
                    targets,
                    fields.get("name"),
                    fields.get("score"),
                    fields.get("label"),
                    fields.get("explanation"),
                    fields.get("annotator_kind"),
                    fields.get("identifier"),
                    rest,
                )
            )


_SCOPES = {"span": 0, "trace": 1, "session": 2}


def _scope_order(item: tuple[tuple[str, str, int], dict[str, str]]) -> tuple[int, str, int]:
    scope, form, index = item[0]
    return _SCOPES[scope], form, index


def _annotations(attrs: dict[str, str]) -> dict[tuple[str, str, int], dict[str, str]]:
    """The flattened annotation objects of a span: ``(scope, form, index) → {field: value}``."""
    groups: dict[tuple[str, str, int], dict[str, str]] = {}
    match = _ANNOTATION_KEY.fullmatch
    for key, value in attrs.items():
        if "nnotations." not in key and "valuations." not in key:
            continue  # cheaper than the regex on the span's other keys
        m = match(key)
        if m is None:
            continue
        scope, a_index, e_index, field = m.groups()
        form, index = ("annotation", a_index) if a_index is not None else ("evaluation", e_index)
        groups.setdefault((scope or "span", form, int(index)), {})[field] = value
    return groups
