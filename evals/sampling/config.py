"""``evals.sampling``: the weekly review batch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SamplingConfig"]


class SamplingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(15, ge=1, le=500, description="Cases per weekly review batch.")
    seed: int = Field(0, ge=0, description="Seed of the draw: the same seed and data give the same batch.")
    schedule: bool = Field(True, description="Draw each ISO week's batch inside `tracesieve run`.")
