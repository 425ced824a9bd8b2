"""Configuration of the OTLP/HTTP receiver."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator
from tracesieve.collector.receivers._auth import BearerAuthConfig
from tracesieve.collector.receivers._common import ListenerConfig
from tracesieve.collector.tls import TlsServerConfig

__all__ = ["OtlpHttpConfig"]

_MIB = 1024 * 1024


class OtlpHttpConfig(ListenerConfig):
    """Where the OTLP/HTTP receiver listens and how much it takes in at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        default="0.0.0.0:4318",
        description="host:port to listen on (IPv6 hosts in brackets); port 0 picks a free port.",
    )
    max_request_body_bytes: int = Field(
        default=64 * _MIB,
        gt=0,
        description="Largest request body accepted, after decompression (OTLP recommends 64 MiB); "
        "larger bodies get 413.",
    )
    max_inflight_requests: int = Field(
        default=1024,
        gt=0,
        description="Requests handled at once; past it requests get 429 with Retry-After.",
    )
    max_inflight_bytes: int = Field(
        default=256 * _MIB,
        gt=0,
        description="Decompressed body bytes held by requests in flight; past it requests get 429.",
    )
    retry_after_s: float = Field(
        default=1.0,
        ge=0,
        description="Retry-After advertised on 429/503 when the failing stage gives no delay of its own.",
    )
    body_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Time a client has to send its whole body; slower requests get 503 (retryable).",
    )
    auth: BearerAuthConfig | None = Field(
        default=None,
        description="Bearer token every request must carry (unset: none; `receivers.otlp.auth` sets it "
        "for both protocols).",
    )
    tls: TlsServerConfig | None = Field(default=None, description="Serve over TLS (unset: plaintext).")

    @model_validator(mode="after")
    def _check(self) -> OtlpHttpConfig:
        if self.max_inflight_bytes < self.max_request_body_bytes:
            raise ValueError(
                "`receivers.otlp.protocols.http.max_inflight_bytes` must be ≥ `max_request_body_bytes` "
                f"(got {self.max_inflight_bytes} < {self.max_request_body_bytes})"
            )
        return self
