"""Counts of a week's flagged turns per category and per near-duplicate cluster, in bounded memory.

A bottom-k sample (KMV): the ``capacity`` turns with the smallest 64-bit hashes, each with its
categories and question signature. While the week has at most ``capacity`` distinct turns the
sample is all of them and every count is exact; beyond that a count is estimated as
``n_in_sample × N / capacity`` with ``N = (capacity − 1) / U₍capacity₎`` (the k-th smallest hash
as a fraction of 2⁶⁴), the standard distinct-count estimator (relative error about
``1/√(n_in_sample)``).

Why not a Space-Saving counter: its counts depend on arrival order, and it counts a turn again
each time its row is rewritten. Here a turn is one hash whatever its versions (a version adds its
categories to the turn's), the result does not depend on order, and a week rebuilt from the
store counts the same as the stream did.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

from .signature import question_signature

__all__ = ["TurnSketch"]

_TWO_64 = float(1 << 64)


class TurnSketch:
    __slots__ = ("_cats", "_heap", "_items", "_sigs", "capacity", "overflowed")

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("the sketch needs at least two turns")
        self.capacity = capacity
        self._heap: list[int] = []  # negated hashes: the largest kept hash on top
        self._items: dict[int, tuple[set[str], int | None]] = {}
        self._cats: Counter[str] = Counter()
        self._sigs: Counter[int] = Counter()
        self.overflowed = False  # more distinct turns than capacity were seen: counts are estimates

    def __len__(self) -> int:
        return len(self._items)

    @property
    def exact(self) -> bool:
        return not self.overflowed

    def offer(self, h: int, categories: Iterable[str], question: str) -> None:
        """Count the turn with hash ``h`` (a later version of it adds its new categories)."""
        item = self._items.get(h)
        if item is not None:
            cats = item[0]
            for c in categories:
                if c not in cats:
                    cats.add(c)
                    self._cats[c] += 1
            return
        if len(self._heap) >= self.capacity:
            self.overflowed = True
            if h >= -self._heap[0]:
                return
            gone = -heapq.heapreplace(self._heap, -h)
            gone_cats, gone_sig = self._items.pop(gone)
            self._cats.subtract(gone_cats)
            if gone_sig is not None:
                self._sigs[gone_sig] -= 1
        else:
            heapq.heappush(self._heap, -h)
        cats = set(categories)
        sig = question_signature(question)
        self._items[h] = (cats, sig)
        self._cats.update(cats)
        if sig is not None:
            self._sigs[sig] += 1

    def _scale(self) -> float:
        if not self.overflowed:
            return 1.0
        kth = (-self._heap[0] + 1) / _TWO_64
        return (self.capacity - 1) / kth / self.capacity

    def total(self) -> int:
        """Distinct flagged turns seen (exact while :attr:`exact`)."""
        return round(len(self._items) * self._scale())

    def category_counts(self) -> dict[str, int]:
        """Distinct flagged turns per category (a turn counts in each of its categories)."""
        scale = self._scale()
        return {c: max(1, round(n * scale)) for c, n in sorted(self._cats.items()) if n > 0}

    def cluster_size(self, signature: int | None) -> int:
        """Flagged turns of the week whose question has ``signature`` (0 if none was sampled)."""
        if signature is None:
            return 0
        n = self._sigs.get(signature, 0)
        return round(n * self._scale()) if n else 0
