"""Feedback waiting for the span it names: bounded, expiring, each item joined once.

An item waits under the most precise id it names (span, response, trace, session); one naming
a span also waits under its trace, because the span may be one that never reaches the session
state (an app's root span, which evaluation events are often parented to). Whichever key
matches first joins it; the other key then skips it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tracesieve.collector.contracts import Feedback

__all__ = ["PendingFeedback", "target_keys"]

_EXPIRY_SCAN_NS = 10_000_000_000  # a full scan for expired items at most every 10 s


def target_keys(item: Feedback) -> list[tuple[str, str]]:
    """The ids ``item`` names, most precise first."""
    keys = []
    if item.span_id:
        keys.append(("span", item.span_id))
    if item.response_id:
        keys.append(("response", item.response_id))
    if item.trace_id:
        keys.append(("trace", item.trace_id))
    if item.session_id:
        keys.append(("session", item.session_id))
    return keys


class PendingFeedback:
    __slots__ = ("_by_key", "_ids", "_max_items", "_next_expiry", "_ttl_ns", "_wall", "dropped")

    def __init__(self, max_items: int, ttl_s: float, wall_ns: Callable[[], int]) -> None:
        self._by_key: dict[tuple[str, str], list[Feedback]] = {}
        self._ids: dict[str, Feedback] = {}
        self._max_items = max_items
        self._ttl_ns = int(ttl_s * 1e9)
        self._wall = wall_ns
        self._next_expiry = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._ids)

    def __bool__(self) -> bool:
        return bool(self._ids)

    def items(self) -> list[Feedback]:
        return list(self._ids.values())

    def add(self, items: Iterable[Feedback]) -> None:
        for item in items:
            if item.feedback_id in self._ids:
                continue  # a resend waits once
            if len(self._ids) >= self._max_items:
                self.dropped += 1
                continue
            keys = target_keys(item)
            if keys and keys[0][0] == "span" and item.trace_id:
                keys = [keys[0], ("trace", item.trace_id)]
            else:
                keys = keys[:1]
            for key in keys:
                self._by_key.setdefault(key, []).append(item)
            self._ids[item.feedback_id] = item

    def take(self, key: tuple[str, str]) -> list[Feedback]:
        """The items waiting under ``key`` and not joined yet; they are joined now."""
        items = self._by_key.pop(key, None)
        if not items:
            return []
        return [item for item in items if self._ids.pop(item.feedback_id, None) is not None]

    def expire(self) -> None:
        now = self._wall()
        if not self._ids or now < self._next_expiry:
            return
        self._next_expiry = now + _EXPIRY_SCAN_NS
        cutoff = now - self._ttl_ns
        for key in [k for k, items in self._by_key.items() if all(i.time_ns < cutoff for i in items)]:
            for item in self._by_key.pop(key):
                self._ids.pop(item.feedback_id, None)
