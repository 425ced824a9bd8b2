"""Which ingest-log records are fully stored: holds per sequence number and a low watermark."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["StoredWatermark"]


class StoredWatermark:
    """Counts the holds on each ingest-log sequence number and reports the contiguous low mark.

    A record is *begun* with one hold per item it produced (span or log record); items release
    their hold once stored or discarded, and may take extra holds on records whose data they
    carry. ``on_advance(seq, freed_bytes)`` is called when every record up to ``seq`` is done.
    A sequence number that was never begun blocks the mark, so a record whose items are still
    being registered can never be skipped.
    """

    def __init__(self, start_after: int, on_advance: Callable[[int, int], None]) -> None:
        self._mark = start_after
        self._holds: dict[int, int] = {}
        self._sizes: dict[int, int] = {}
        self._done: set[int] = set()
        self._on_advance = on_advance

    @property
    def mark(self) -> int:
        return self._mark

    @property
    def outstanding(self) -> int:
        """Records begun but not yet done."""
        return len(self._holds)

    def begin(self, seq: int, size_bytes: int, items: int) -> None:
        self._sizes[seq] = size_bytes
        if items <= 0:
            self._finish(seq)
        else:
            self._holds[seq] = items
        self._advance()

    def skip(self, seq: int) -> None:
        """A sequence number that was handed out but never written: do not wait for it."""
        self._sizes.setdefault(seq, 0)
        self._finish(seq)
        self._advance()

    def hold(self, seq: int) -> None:
        if seq in self._holds:
            self._holds[seq] += 1
        elif seq > self._mark and seq not in self._done:
            # Not begun yet (cannot happen through the pipeline) — make it visible rather than lose it.
            raise KeyError(f"hold on ingest-log record {seq} that was never begun")

    def release(self, seq: int) -> None:
        count = self._holds.get(seq)
        if count is None:
            return
        if count <= 1:
            del self._holds[seq]
            self._finish(seq)
            self._advance()
        else:
            self._holds[seq] = count - 1

    def _finish(self, seq: int) -> None:
        self._done.add(seq)

    def _advance(self) -> None:
        freed = 0
        mark = self._mark
        while mark + 1 in self._done:
            mark += 1
            self._done.discard(mark)
            freed += self._sizes.pop(mark, 0)
        if mark != self._mark:
            self._mark = mark
            self._on_advance(mark, freed)
