"""Redacting decoded OTLP requests and feedback in place.

:class:`Redactor` rewrites string values in span, span event, link, resource and log record
attributes and log record bodies (``AnyValue`` trees walked without recursion, so a deeply
nested value cannot exhaust the stack), and the free text of feedback items. Each changed span,
log record, resource and feedback item gets ``tracesieve.redaction.count`` (int) and
``tracesieve.redaction.kinds`` (sorted, comma-separated) attributes; such attributes sent by a
client are removed, so the ones stored are tracesieve's own.

Key rules (``blocked_keys``, ``allowed_keys``, ``ignored_keys``) apply to top-level attribute
keys; nested kvlist keys are only pattern-scanned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from tracesieve.collector.contracts import Feedback

from .config import RedactionConfig
from .patterns import Scanner

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["COUNT_KEY", "KINDS_KEY", "NORMALISATION_KEY_PREFIXES", "Redactor"]

COUNT_KEY = "tracesieve.redaction.count"
KINDS_KEY = "tracesieve.redaction.kinds"
_OWN_PREFIX = "tracesieve.redaction."
_OWN_PREFIX_BYTES = _OWN_PREFIX.encode()

# The key namespaces tracesieve's normalisation reads (processors/normalise/conventions/): an
# allow list never drops these, or spans would lose their kind, model, session and content.
NORMALISATION_KEY_PREFIXES = (
    "gen_ai.", "llm.", "input.", "output.", "openinference.", "traceloop.", "langfuse.", "ai.",
    "mlflow.", "logfire.", "langsmith.", "pydantic_ai.", "litellm.", "embedding.", "retrieval.",
    "reranker.", "tool.", "tool_call.", "message.", "db.query.", "db.search.", "db.vector.",
    "session.", "user.", "enduser.", "service.", "error.", "exception.", "event.", "carrier.",
    "tracesieve.",
)  # fmt: skip

_SCAN, _IGNORE, _MASK, _REMOVE, _UNLISTED, _SPOOF = range(6)
_NESTED = ("array_value", "kvlist_value")
_FEW_ATTRIBUTES = 14
_MAX_CACHED_KEYS = 4096


def _any_of(patterns: Iterable[str]) -> re.Pattern[str] | None:
    patterns = tuple(patterns)
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


class Redactor:
    """Applies one :class:`RedactionConfig`; ``redact_*`` return True when they changed anything."""

    def __init__(self, config: RedactionConfig, needed_keys: Collection[str] = ()) -> None:
        self.config = config
        enabled = {name for name, on in config.patterns.model_dump().items() if on}
        self._scanner = Scanner(enabled, dict(config.custom))
        self._min_length = self._scanner.min_length
        self._blocked = _any_of(config.blocked_keys)
        self._allowed = _any_of(config.allowed_keys) if config.allowed_keys is not None else None
        self._allow_list = config.allowed_keys is not None
        self._ignored = _any_of(config.ignored_keys)
        self._needed = frozenset(needed_keys)
        self._remove_blocked = config.blocked_key_action == "remove"
        self._summary = config.summary
        # Without key rules a request the prefilter finds nothing in is left as it is, unread.
        self._keys_matter = self._blocked is not None or self._allow_list or self._ignored is not None
        self._hashing = "{hash}" in config.replacement
        self._hash_key = config.hash_key.encode()[:64]
        self._fixed = {}
        if not self._hashing:
            kinds = {*self._scanner.kinds, "blocked_key"}
            self._fixed = {kind: config.replacement.format(kind=kind) for kind in kinds}
        self._actions: dict[str, int] = {}
        self._tally: dict[str, int] = {}
        self._changed = False
        self._read_keys = True
        self._total = 0
        self.redactions: dict[str, int] = {}
        """Redactions so far, by kind (for metrics and the benchmark)."""

    # -- whole requests ------------------------------------------------------------------------

    def might_change(self, raw: bytes) -> bool:
        """False when ``raw`` (a serialised request) certainly holds nothing to redact."""
        if self._keys_matter:
            return True
        return _OWN_PREFIX_BYTES in raw or self._scanner.might_match(raw)

    def redact_traces(self, request: ExportTraceServiceRequest, raw: bytes | None = None) -> bool:
        """Redact ``request`` in place; True if anything changed. ``raw``, its serialised form, if
        given, spares reading the attribute keys when no key rule is configured and it holds no
        ``tracesieve.redaction.*`` key."""
        self._changed = False
        self._read_keys = self._keys_matter or raw is None or _OWN_PREFIX_BYTES in raw
        for rs in request.resource_spans:
            self._item(rs.resource.attributes, ())
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    events = sp.events
                    links = sp.links
                    extra = [ev.attributes for ev in events] if events else []
                    if links:
                        extra.extend(ln.attributes for ln in links)
                    self._item(sp.attributes, extra)
        return self._changed

    def redact_logs(self, request: ExportLogsServiceRequest, raw: bytes | None = None) -> bool:
        """As :meth:`redact_traces`, for log records (attributes and bodies)."""
        self._changed = False
        self._read_keys = self._keys_matter or raw is None or _OWN_PREFIX_BYTES in raw
        for rl in request.resource_logs:
            self._item(rl.resource.attributes, ())
            for sl in rl.scope_logs:
                for lr in sl.log_records:
                    self._item(lr.attributes, (), lr.body if lr.HasField("body") else None)
        return self._changed

    def redact_feedback(self, items: list[Feedback]) -> bool:
        changed = False
        for fb in items:
            tally = self._tally = {}
            fb.comment = self.text(fb.comment)
            fb.label = self.text(fb.label)
            fb.user_id = self.text(fb.user_id)
            attributes = {}
            for key, value in fb.attributes.items():
                action = self._action(key)
                if action == _SCAN:
                    attributes[key] = self.text(value)
                elif action == _IGNORE:
                    attributes[key] = value
                elif action == _MASK:
                    attributes[key] = self._replacement("blocked_key", value)
                    self._count("blocked_key")
                elif action != _SPOOF:
                    self._count("blocked_key" if action == _REMOVE else "unlisted_key")
            if tally and self._summary:
                attributes[COUNT_KEY] = str(sum(tally.values()))
                attributes[KINDS_KEY] = ",".join(sorted(tally))
            if tally or len(attributes) != len(fb.attributes):
                fb.attributes = attributes
                changed = True
        return changed

    # -- strings -------------------------------------------------------------------------------

    def text(self, s: str) -> str:
        """``s`` with every match replaced (counted in the current tally)."""
        return self._scanner.sub(s, self._replace)

    def _replace(self, kind: str, secret: str) -> str:
        self._count(kind)
        return self._replacement(kind, secret)

    def _replacement(self, kind: str, secret: str) -> str:
        if not self._hashing:
            return self._fixed.get(kind) or self.config.replacement.format(kind=kind)
        digest = hashlib.blake2b(secret.encode(), digest_size=6, key=self._hash_key).hexdigest()
        return self.config.replacement.format(kind=kind, hash=digest)

    def _count(self, kind: str) -> None:
        self._tally[kind] = self._tally.get(kind, 0) + 1
        self.redactions[kind] = self.redactions.get(kind, 0) + 1
        self._total += 1

    # -- OTLP structures -----------------------------------------------------------------------

    def _item(self, attributes: Any, more: Iterable[Any], body: Any = None) -> None:
        """One span, log record or resource: its attributes, ``more`` attribute lists, a body."""
        tally = self._tally = {}
        self._attributes(attributes)
        for kvs in more:
            self._attributes(kvs)
        if body is not None:
            self._value(body)
        if tally:
            self._changed = True
            if self._summary:
                count = KeyValue(key=COUNT_KEY, value=AnyValue(int_value=sum(tally.values())))
                kinds = KeyValue(key=KINDS_KEY, value=AnyValue(string_value=",".join(sorted(tally))))
                # First, not last: the normaliser keeps the first `max_attributes` (at least 16).
                if len(attributes) < _FEW_ATTRIBUTES:
                    attributes.extend((count, kinds))
                else:
                    attributes.insert(0, kinds)
                    attributes.insert(0, count)

    def _attributes(self, kvs: Any) -> None:
        if not self._read_keys:
            self._values(kvs)
            return
        drop: list[int] = []
        actions = self._actions
        min_length = self._min_length
        sub = self._scanner.sub
        replace = self._replace
        for i, kv in enumerate(kvs):
            key = kv.key
            action = actions.get(key)
            if action is None:
                action = self._action(key)
            if action == _SCAN:
                value = kv.value
                s = value.string_value
                if s:  # most values: one string, read once (every access crosses into upb)
                    if len(s) >= min_length:
                        new = sub(s, replace)
                        if new is not s:
                            value.string_value = new
                elif value.WhichOneof("value") in _NESTED:
                    self._value(value)
            elif action == _IGNORE:
                continue
            elif action == _MASK:
                kv.value.string_value = self._replacement("blocked_key", "")
                self._count("blocked_key")
            else:
                drop.append(i)
                if action != _SPOOF:
                    self._count("blocked_key" if action == _REMOVE else "unlisted_key")
        if drop:
            self._changed = True
            for i in reversed(drop):
                del kvs[i]

    def _values(self, kvs: Any) -> None:
        """:meth:`_attributes` when every key is scanned: the keys are not even read."""
        min_length = self._min_length
        sub = self._scanner.sub
        replace = self._replace
        for kv in kvs:
            value = kv.value
            s = value.string_value
            if s:
                if len(s) >= min_length:
                    new = sub(s, replace)
                    if new is not s:
                        value.string_value = new
            elif value.WhichOneof("value") in _NESTED:
                self._value(value)

    def _value(self, value: Any) -> None:
        """Redact the strings of one ``AnyValue`` tree, depth-first without recursion."""
        stack = [value]
        pop = stack.pop
        push = stack.append
        min_length = self._min_length
        sub = self._scanner.sub
        replace = self._replace
        while stack:
            v = pop()
            s = v.string_value
            if s:
                if len(s) >= min_length:
                    new = sub(s, replace)
                    if new is not s:
                        v.string_value = new
                continue
            which = v.WhichOneof("value")
            if which == "array_value":
                for item in v.array_value.values:
                    push(item)
            elif which == "kvlist_value":
                for kv in v.kvlist_value.values:
                    push(kv.value)

    def _action(self, key: str) -> int:
        if key.startswith(_OWN_PREFIX):
            action = _SPOOF
        elif self._blocked is not None and self._blocked.fullmatch(key):
            action = _REMOVE if self._remove_blocked else _MASK
        elif self._allow_list and not (
            key in self._needed
            or key.startswith(NORMALISATION_KEY_PREFIXES)
            or (self._allowed is not None and self._allowed.fullmatch(key))
            or (self._ignored is not None and self._ignored.fullmatch(key))
        ):
            action = _UNLISTED
        elif self._ignored is not None and self._ignored.fullmatch(key):
            action = _IGNORE
        else:
            action = _SCAN
        if len(self._actions) >= _MAX_CACHED_KEYS:
            self._actions.clear()
        self._actions[key] = action
        return action
