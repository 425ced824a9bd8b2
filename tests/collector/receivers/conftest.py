"""Fixtures for the receiver tests: running receivers on free ports with a MemoryConsumer behind."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer


@pytest.fixture
def consumer() -> MemoryConsumer:
    return MemoryConsumer()


HttpFactory = Callable[..., Awaitable[OtlpHttpReceiver]]
GrpcFactory = Callable[..., Awaitable[OtlpGrpcReceiver]]


@pytest.fixture
async def make_http(consumer: MemoryConsumer) -> AsyncIterator[HttpFactory]:
    """Start OTLP/HTTP receivers on 127.0.0.1, port 0, with config overrides; closed at teardown."""
    started: list[OtlpHttpReceiver] = []

    async def make(**overrides: Any) -> OtlpHttpReceiver:
        config = OtlpHttpConfig(**{"endpoint": "127.0.0.1:0", **overrides})
        receiver = OtlpHttpReceiver(config, consumer)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.aclose(time.monotonic() + 5)


@pytest.fixture
async def http_receiver(make_http: HttpFactory) -> OtlpHttpReceiver:
    return await make_http()


@pytest.fixture
async def make_grpc(consumer: MemoryConsumer) -> AsyncIterator[GrpcFactory]:
    """Start OTLP/gRPC receivers on 127.0.0.1, port 0, with config overrides; closed at teardown."""
    started: list[OtlpGrpcReceiver] = []

    async def make(**overrides: Any) -> OtlpGrpcReceiver:
        config = OtlpGrpcConfig(**{"endpoint": "127.0.0.1:0", **overrides})
        receiver = OtlpGrpcReceiver(config, consumer)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.aclose(time.monotonic() + 5)


@pytest.fixture
async def grpc_receiver(make_grpc: GrpcFactory) -> OtlpGrpcReceiver:
    return await make_grpc()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def gzip_bomb(decompressed_bytes: int) -> bytes:
    """A single-member gzip body of ``decompressed_bytes`` zeros (a multiple of 1 MiB), built fast.

    Every 1 MiB block of zeros compresses to the same bytes after a full flush, so the block is
    compressed once and repeated; the CRC and size trailer are those of the whole stream.
    """
    chunk = bytes(1 << 20)
    blocks = decompressed_bytes >> 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressor.compress(chunk)
    compressor.flush(zlib.Z_FULL_FLUSH)  # the first block differs (no history), skip it
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(chunk, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, decompressed_bytes & 0xFFFFFFFF)
    return header + block * blocks + compressor.flush() + trailer


@pytest.fixture(scope="session")
def gzip_bomb_1gib() -> bytes:
    return gzip_bomb(1 << 30)
