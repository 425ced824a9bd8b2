"""Configuration of the memory limiter (``processors.memory_limiter``)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MemoryLimiterConfig"]


class MemoryLimiterConfig(BaseModel):
    """Soft and hard limits on the resident memory of the process and its analysis worker.

    As in the OTel Collector's ``memory_limiter``: the hard limit is ``limit_mib`` (or
    ``limit_percentage`` of the memory available to the container), the soft limit is the hard
    limit less the spike allowance. Above the soft limit new requests are refused with the
    retryable status; above the hard limit the limiter also forces a garbage collection and
    hands freed heap back to the system.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Refuse requests while memory is over the soft limit.")
    limit_mib: int | None = Field(
        None,
        gt=0,
        description="Hard limit, in MiB of resident memory (the process plus its analysis worker); "
        "null: `limit_percentage` of the cgroup's memory limit, or of the machine's memory.",
    )
    limit_percentage: int = Field(
        80,
        gt=0,
        le=100,
        description="Hard limit as a share of the available memory when `limit_mib` is null.",
    )
    spike_limit_mib: int | None = Field(
        None,
        ge=0,
        description="Headroom between the soft and the hard limit, in MiB; null: "
        "`spike_limit_percentage` of the hard limit.",
    )
    spike_limit_percentage: int = Field(
        30, ge=0, lt=100, description="Headroom as a share of the hard limit when `spike_limit_mib` is null."
    )
    check_interval_s: float = Field(
        0.1,
        gt=0,
        le=10,
        description="How often resident memory is read (from /proc: about 10 µs a read).",
    )
    retry_after_s: float = Field(1.0, ge=0, description="Retry-After / RetryInfo delay given with a refusal.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        limit, spike = self.limit_mib, self.spike_limit_mib
        if limit is not None and spike is not None and spike >= limit:
            raise ValueError(
                f"`processors.memory_limiter.spike_limit_mib` must be < `limit_mib` (got {spike} >= {limit})"
            )
        return self
