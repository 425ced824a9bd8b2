"""The stored watermark advances only over records whose every item is done."""

from __future__ import annotations

from tracesieve.collector.stored_watermark import StoredWatermark


def test_mark_is_contiguous_and_counts_freed_bytes() -> None:
    advances: list[tuple[int, int]] = []
    wm = StoredWatermark(0, lambda seq, freed: advances.append((seq, freed)))
    wm.begin(2, 200, 1)  # seq 1 not begun yet: it blocks the mark
    wm.release(2)
    assert wm.mark == 0
    wm.begin(1, 100, 2)
    wm.release(1)
    assert wm.mark == 0
    wm.release(1)
    assert wm.mark == 2
    assert advances == [(2, 300)]


def test_extra_holds_keep_a_record_until_its_carrier_is_stored() -> None:
    wm = StoredWatermark(0, lambda seq, freed: None)
    wm.begin(1, 10, 1)  # a log record
    wm.begin(2, 10, 1)  # the span it was joined into
    wm.hold(1)  # the span carries the log's data
    wm.release(1)  # the log item itself is finished
    assert wm.mark == 0
    wm.release(2)
    wm.release(1)  # the span is stored: its extra hold goes
    assert wm.mark == 2


def test_skipped_and_empty_records_do_not_block() -> None:
    wm = StoredWatermark(5, lambda seq, freed: None)
    wm.skip(6)
    wm.begin(7, 1, 0)
    assert wm.mark == 7
