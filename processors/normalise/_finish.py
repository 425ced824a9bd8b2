"""The last step of every span: derived content fields, error type, ids from configured keys, convention."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from tracesieve.collector.contracts import KIND_OTHER, KIND_RETRIEVAL, CanonicalSpan

from ._values import loads
from ._view import SpanView
from ._vocab import error_type
from .conventions import MARKERS, recognise

__all__ = ["IdKeys", "ResourceIds", "derive_content", "first_id", "normalise_span", "watched_keys"]


class IdKeys:
    """A configured key order (``session_id_keys`` / ``user_id_keys``), with a set for a fast miss."""

    __slots__ = ("order", "present")

    def __init__(self, keys: Sequence[str]) -> None:
        self.order = tuple(keys)
        self.present = frozenset(keys)

    def first(self, attrs: dict[str, Any], keys: AbstractSet[str] | None = None) -> str:
        """The first non-empty id among the keys, in order; ``""`` when none.

        ``keys``, if given, is the keys of ``attrs`` among a superset of these (a small set:
        testing it is cheaper than testing the attributes).
        """
        if self.present.isdisjoint(attrs if keys is None else keys):
            return ""
        return first_id(self.order, attrs)


class ResourceIds:
    """Session and user ids of one resource, looked up once for all its spans."""

    __slots__ = ("session", "session_keys", "user", "user_keys")

    def __init__(self, resource: dict[str, Any], session_keys: IdKeys, user_keys: IdKeys) -> None:
        self.session_keys = session_keys
        self.user_keys = user_keys
        self.session = session_keys.first(resource)
        self.user = user_keys.first(resource)


def normalise_span(
    span: CanonicalSpan, view: SpanView, ids: ResourceIds, keys: AbstractSet[str] | None = None
) -> None:
    """Fill the canonical LLM fields of ``span`` from its decoded attributes and events.

    Session and user ids come from the configured keys on the span, else on its resource.
    ``keys``, if given, is the span's attribute keys among the convention markers and the id
    keys (see :func:`watched_keys`): read once, it spares each lookup a pass over the attributes.
    """
    convention, extractors = recognise(view, keys)
    for extract in extractors:
        extract(span, view)
    span.convention = convention
    if span.output_messages or span.input_messages:
        derive_content(span)
    attrs = view.attrs
    declared = attrs.get("error.type")
    if declared is not None or view.events:
        span.error_type = _error_type(view)
    if span.retrieved_documents and span.kind == KIND_OTHER:
        span.kind = KIND_RETRIEVAL
    span.session_id = ids.session_keys.first(attrs, keys) or ids.session
    span.user_id = ids.user_keys.first(attrs, keys) or ids.user


@functools.lru_cache(maxsize=16)
def watched_keys(
    session_keys: tuple[str, ...], user_keys: tuple[str, ...], more: frozenset[str]
) -> frozenset[str]:
    """The keys :func:`normalise_span` looks up before it knows a span's conventions (every
    convention's markers, the configured id keys), and ``more``: intersected once with a span's
    attribute keys, the result answers all these lookups."""
    return MARKERS.union(session_keys, user_keys, more)


def derive_content(span: CanonicalSpan) -> None:
    """Fields that follow from the messages: output text, requested tool calls, system text."""
    outputs = span.output_messages
    if outputs:
        if not span.output_text:
            span.output_text = outputs[0].get("content") or ""
        if not span.tool_calls:
            for m in outputs:  # most answers request no tool: no list built for them
                if "tool_calls" in m:
                    span.tool_calls = [c for m in outputs for c in m.get("tool_calls", ())]
                    break
    if not span.system_instructions and span.input_messages:
        span.system_instructions = "\n".join(
            [m["content"] for m in span.input_messages if m.get("role") in _SYSTEM_ROLES and m["content"]]
        )


_SYSTEM_ROLES = ("system", "developer")


def _error_type(view: SpanView) -> str:
    raised = ""
    for name, _, attrs in view.events:
        if name == "exception":
            t = attrs.get("exception.type")
            if isinstance(t, str) and t:
                raised = t
                break
    declared = view.attrs.get("error.type")
    if isinstance(declared, str) and declared.strip():
        t = error_type(declared)
        # OpenLLMetry writes the bare class name and the qualified one in the exception event.
        if "." not in t and raised.endswith("." + t):
            return raised
        return t
    return raised


def first_id(keys: Sequence[str], attrs: dict[str, Any]) -> str:
    """The value of the first of ``keys`` that ``attrs`` holds non-empty.

    Langfuse and MLflow JSON-encode some of these values (``"\\"abc\\""``): they are decoded.
    """
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            s = value.strip()
            if s.startswith('"'):
                decoded = loads(s)
                s = decoded.strip() if isinstance(decoded, str) else ""
        elif isinstance(value, int) and not isinstance(value, bool):
            s = str(value)
        else:
            continue
        if s:
            return s
    return ""
