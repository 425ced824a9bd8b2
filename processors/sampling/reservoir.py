"""One failure category's reservoir: the K turns with the largest keys.

The keys come from :mod:`.keys` (deterministic per seed and turn), so the contents are the
top K of the turns offered, whatever their order. A turn offered again with a larger key (it
was flagged again, with a higher score) moves up in place; with a smaller or equal key it is
ignored. Ties between keys break on the turn's hash, so the order is total.
"""

from __future__ import annotations

import heapq

__all__ = ["CategoryReservoir", "Order"]

Order = tuple[float, int]
"""``(key, hash)``: larger is kept first."""


class CategoryReservoir:
    __slots__ = ("_heap", "_members", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a reservoir holds at least one turn")
        self.capacity = capacity
        self._heap: list[tuple[float, int, str]] = []  # min-heap: the weakest kept turn on top
        self._members: dict[str, Order] = {}

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, turn_id: object) -> bool:
        return turn_id in self._members

    def offer(self, turn_id: str, order: Order) -> tuple[bool, str | None]:
        """Offer ``turn_id`` with ``order``; returns (kept now, the turn it pushed out or None)."""
        current = self._members.get(turn_id)
        if current is not None:
            if order <= current:
                return False, None
            # Rare (a re-flagged turn that is already in): K is small, re-heapify.
            self._heap.remove((*current, turn_id))
            self._heap.append((*order, turn_id))
            heapq.heapify(self._heap)
            self._members[turn_id] = order
            return True, None
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, (*order, turn_id))
            self._members[turn_id] = order
            return True, None
        weakest = self._heap[0]
        if order <= weakest[:2]:
            return False, None
        heapq.heapreplace(self._heap, (*order, turn_id))
        del self._members[weakest[2]]
        self._members[turn_id] = order
        return True, weakest[2]

    def ranked(self) -> list[tuple[str, Order]]:
        """The kept turns, strongest key first."""
        return sorted(self._members.items(), key=lambda item: item[1], reverse=True)
