"""Configuration of the OTLP/gRPC receiver."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator
from tracesieve.collector.receivers._auth import BearerAuthConfig
from tracesieve.collector.receivers._common import ListenerConfig
from tracesieve.collector.tls import TlsServerConfig

__all__ = ["OtlpGrpcConfig"]

_MIB = 1024 * 1024


class OtlpGrpcConfig(ListenerConfig):
    """Where the OTLP/gRPC receiver listens and how much it takes in at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        default="0.0.0.0:4317",
        description="host:port to listen on (IPv6 hosts in brackets); port 0 picks a free port.",
    )
    max_recv_msg_size_bytes: int = Field(
        default=64 * _MIB,
        gt=0,
        description="Largest request message accepted, after decompression; gRPC itself refuses "
        "larger ones (RESOURCE_EXHAUSTED without RetryInfo, i.e. not retryable).",
    )
    max_concurrent_streams: int | None = Field(
        default=None,
        gt=0,
        description="HTTP/2 streams one client connection may open at once (unbounded when unset); "
        "further calls wait on the client side.",
    )
    max_inflight_requests: int = Field(
        default=1024,
        gt=0,
        description="Export calls handled at once; past it calls get RESOURCE_EXHAUSTED with RetryInfo.",
    )
    max_inflight_bytes: int = Field(
        default=256 * _MIB,
        gt=0,
        description="Request bytes held by calls in flight; past it calls get RESOURCE_EXHAUSTED "
        "with RetryInfo.",
    )
    retry_after_s: float = Field(
        default=1.0,
        ge=0,
        description="Retry delay advertised in RetryInfo when the failing stage gives none of its own.",
    )
    auth: BearerAuthConfig | None = Field(
        default=None,
        description="Bearer token every request must carry (unset: none; `receivers.otlp.auth` sets it "
        "for both protocols).",
    )
    tls: TlsServerConfig | None = Field(default=None, description="Serve over TLS (unset: plaintext).")

    @model_validator(mode="after")
    def _check(self) -> OtlpGrpcConfig:
        if self.max_inflight_bytes < self.max_recv_msg_size_bytes:
            raise ValueError(
                "`receivers.otlp.protocols.grpc.max_inflight_bytes` must be ≥ `max_recv_msg_size_bytes` "
                f"(got {self.max_inflight_bytes} < {self.max_recv_msg_size_bytes})"
            )
        if self.tls is not None and self.tls.min_version != "1.2":
            # grpcio has no setting for it: refusing beats silently accepting TLS 1.2.
            raise ValueError(
                "`receivers.otlp.protocols.grpc.tls.min_version`: gRPC always accepts TLS 1.2 and 1.3 "
                'and cannot be limited to 1.3; use "1.2"'
            )
        return self
