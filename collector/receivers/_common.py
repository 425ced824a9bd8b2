"""Pieces both receivers share: endpoint parsing, the in-flight limiter, the factory shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tracesieve.collector.contracts import Admission, Component, OtlpConsumer, PartialResult
from tracesieve.collector.errors import OverloadedError
from tracesieve.collector.receivers._codec import LOGS, TRACES, Signal

__all__ = ["InflightLimiter", "Lease", "ReceiverFactory", "admission_of", "dispatch", "parse_endpoint"]

ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ReceiverFactory(Generic[ConfigT]):
    """What a receiver package exports: its type name, config model and constructor."""

    name: str
    config_type: type[ConfigT]
    create: Callable[[ConfigT, OtlpConsumer], Component]


async def dispatch(consumer: OtlpConsumer, signal: Signal, message: Message, raw: bytes) -> PartialResult:
    """Hand a decoded request to the consumer method for its signal.

    Metrics are not handed on: tracesieve keeps none, so a valid metrics request is answered
    with success and dropped.
    """
    if signal is TRACES:
        return await consumer.consume_traces(cast(ExportTraceServiceRequest, message), raw)
    if signal is LOGS:
        return await consumer.consume_logs(cast(ExportLogsServiceRequest, message), raw)
    return PartialResult()


def admission_of(consumer: OtlpConsumer) -> Callable[[], None] | None:
    """The consumer's ``admit`` check (``contracts.Admission``), called before a body is read."""
    return consumer.admit if isinstance(consumer, Admission) else None


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) → ``(host, port)``; ValueError if malformed."""
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"endpoint must be host:port, got {endpoint!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port must be 0-65535, got {port}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or (":" in host and not endpoint.startswith("[")):
        raise ValueError(f"endpoint must be host:port (IPv6 hosts in brackets), got {endpoint!r}")
    return host, port


class InflightLimiter:
    """Bounds requests and bytes in flight; refusals raise OverloadedError (a retryable answer).

    Single event loop only (no locking). ``wait_idle`` lets shutdown drain what was accepted.
    """

    def __init__(
        self,
        max_requests: int,
        max_bytes: int,
        retry_after_s: float,
        admit: Callable[[], None] | None = None,
    ) -> None:
        self._admit = admit
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self._retry_after_s = retry_after_s
        self.requests = 0
        self.bytes = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def acquire(self, nbytes: int = 0) -> Lease:
        """Admit one request holding ``nbytes``; raises OverloadedError when over a limit (or
        whatever the consumer's ``admit`` raises: the memory limiter's MemoryLimitError)."""
        if self._admit is not None:
            self._admit()
        if self.requests >= self.max_requests:
            raise OverloadedError(
                f"too many requests in flight ({self.max_requests}); retry later", self._retry_after_s
            )
        self._reserve(nbytes, 0)
        self.requests += 1
        self._idle.clear()
        return Lease(self, nbytes)

    def _reserve(self, nbytes: int, held: int) -> None:
        # A request alone is always admitted, so that no request is refused forever.
        if nbytes > 0 and self.bytes + nbytes > self.max_bytes and self.bytes > held:
            raise OverloadedError(
                f"too many bytes in flight ({self.max_bytes}); retry later", self._retry_after_s
            )
        self.bytes += nbytes

    def _release(self, nbytes: int) -> None:
        self.bytes -= nbytes
        self.requests -= 1
        if self.requests == 0:
            self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing is in flight; False if ``timeout_s`` passed first."""
        try:
            async with asyncio.timeout(max(0.0, timeout_s)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class Lease:
    """One admitted request's share of the limiter; release exactly once (idempotent)."""

    __slots__ = ("_limiter", "_nbytes", "_released")

    def __init__(self, limiter: InflightLimiter, nbytes: int) -> None:
        self._limiter = limiter
        self._nbytes = nbytes
        self._released = False

    def grow_to(self, nbytes: int) -> None:
        """Hold ``nbytes`` in total now; raises OverloadedError when that is over the limit."""
        if nbytes > self._nbytes and not self._released:
            self._limiter._reserve(nbytes - self._nbytes, self._nbytes)
            self._nbytes = nbytes

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limiter._release(self._nbytes)


class ListenerConfig(BaseModel):
    """What both OTLP receivers' configs share: a validated ``endpoint`` and its parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        description="host:port to listen on (IPv6 hosts in brackets); port 0 picks a free port."
    )

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        parse_endpoint(value)
        return value

    @property
    def host(self) -> str:
        return parse_endpoint(self.endpoint)[0]

    @property
    def port(self) -> int:
        return parse_endpoint(self.endpoint)[1]
