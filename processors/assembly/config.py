"""Configuration of the trace assembler."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AssemblyConfig"]


class AssemblyConfig(BaseModel):
    """How long spans wait for their trace context and log records, and how much may wait."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_wait_s: float = Field(
        2.0, gt=0, description="How long an LLM span without a session id waits for its ancestors."
    )
    log_wait_s: float = Field(
        10.0,
        gt=0,
        description="How long an LLM span without content waits for the log records that carry it.",
    )
    pending_log_ttl_s: float = Field(
        60.0, gt=0, description="How long a log record waits for its span to arrive before it is dropped."
    )
    trace_idle_s: float = Field(
        30.0, gt=0, description="A trace's context (parents, session) is kept this long after its last span."
    )
    max_traces: int = Field(100_000, gt=0, description="Traces whose context is kept; the oldest go first.")
    max_held_spans: int = Field(
        100_000,
        gt=0,
        description="Spans that may wait at once; past it the oldest waiting span is released as it is.",
    )
    max_pending_logs: int = Field(100_000, gt=0, description="Log records that may wait for their span.")
    remembered_traces: int = Field(
        200_000, ge=0, description="Finished traces whose session and user are remembered for late spans."
    )
    store_non_llm_spans: bool = Field(
        False, description="Also store spans that are no LLM, retrieval, tool, agent or embedding step."
    )

    @model_validator(mode="after")
    def _check(self) -> AssemblyConfig:
        if self.trace_idle_s < max(self.context_wait_s, self.log_wait_s):
            raise ValueError(
                "`processors.assembly.trace_idle_s` must be ≥ `context_wait_s` and `log_wait_s` "
                f"(got {self.trace_idle_s} < {max(self.context_wait_s, self.log_wait_s)})"
            )
        return self
