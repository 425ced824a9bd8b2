"""The lz4 level setting reaches the batches aiokafka builds, and what it builds still reads
back: level 1 is fast and a little larger, level 9 (aiokafka's own) smaller."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.record.memory_records import MemoryRecords
from tracesieve.collector.kafka.clients import new_producer
from tracesieve.collector.kafka.config import KafkaTransportConfig
from tracesieve.collector.kafka.lz4_level import set_lz4_level

_LZ4 = 3  # the batch attribute's codec bits for lz4
_VALUE = b"".join(
    b'{"turn": %d, "text": "Refunds take 5 to 7 business days, order %d."}' % (i, i * 7919)
    for i in range(4_000)
)


@pytest.fixture(autouse=True)
def _aiokafkas_own_level_after() -> Iterator[None]:
    yield
    set_lz4_level(9)


def _batch() -> bytes:
    builder = BatchBuilder(1 << 24, _LZ4)
    assert builder.append(key=b"k", value=_VALUE, timestamp=None) is not None
    return bytes(builder._build())


def _read(batch: bytes) -> list[bytes]:
    records = MemoryRecords(batch)
    found: list[bytes] = []
    while records.has_next():
        one = records.next_batch()
        assert isinstance(one, DefaultRecordBatch) and one.compression_type == _LZ4
        found += [record.value for record in one]
    return found


def test_the_level_reaches_the_batch_builder_and_batches_read_back() -> None:
    assert set_lz4_level(9) >= 1
    high = _batch()
    assert set_lz4_level(1) >= 1
    fast = _batch()
    assert len(high) < len(fast) < len(_VALUE) // 4  # level 9 is denser; both compress
    assert _read(high) == _read(fast) == [_VALUE]


async def test_a_producer_of_lz4_batches_sets_the_configured_level() -> None:
    set_lz4_level(9)
    high = _batch()
    await new_producer(KafkaTransportConfig(compression="lz4", compression_lz4_level=1)).stop()
    assert len(_batch()) > len(high)
    set_lz4_level(9)
    await new_producer(KafkaTransportConfig(compression="none", compression_lz4_level=1)).stop()
    assert len(_batch()) == len(high)  # no lz4 asked for: the level is left alone
