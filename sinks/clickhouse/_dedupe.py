"""The bounded set of recently stored span keys that makes resent spans no-ops."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from tracesieve.collector.contracts import CanonicalSpan

__all__ = ["RecentKeys", "span_key"]


def span_key(span: CanonicalSpan) -> str:
    """``"<trace_id>:<span_id>"``: the identity ReplacingMergeTree collapses on, too."""
    return f"{span.trace_id}:{span.span_id}"


class RecentKeys:
    """Keys stored within the last ``window_s`` seconds (by ingest time), ``max_keys`` at most.

    Keys are kept in buckets, one per write, so expiry costs one deque pop per INSERT
    rather than one per key; memory is about 150 bytes per key (the string and a set slot).
    ``window_s == 0`` or ``max_keys == 0`` keeps nothing.
    """

    def __init__(self, window_s: float, max_keys: int) -> None:
        self.window_s = window_s
        self.max_keys = max_keys if window_s > 0 else 0
        self._keys: set[str] = set()
        self._buckets: deque[tuple[float, list[str]]] = deque()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, keys: Iterable[str], at: float) -> None:
        """Remember ``keys`` as stored at ``at`` (Unix seconds; calls in ascending ``at``)."""
        if self.max_keys == 0:
            return
        known = self._keys
        bucket = [k for k in keys if k not in known]
        if not bucket:
            return
        known.update(bucket)
        self._buckets.append((at, bucket))
        self._trim()

    def expire(self, now: float) -> None:
        """Forget keys stored before ``now - window_s``."""
        cutoff = now - self.window_s
        buckets = self._buckets
        while buckets and buckets[0][0] < cutoff:
            self._keys.difference_update(buckets.popleft()[1])

    def _trim(self) -> None:
        excess = len(self._keys) - self.max_keys
        buckets = self._buckets
        while excess > 0 and buckets:
            oldest = buckets[0][1]
            if len(oldest) <= excess:
                buckets.popleft()
                self._keys.difference_update(oldest)
                excess -= len(oldest)
            else:
                self._keys.difference_update(oldest[:excess])
                del oldest[:excess]
                excess = 0
