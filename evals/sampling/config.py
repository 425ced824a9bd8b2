"""``evals.sampling``: the weekly review batch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SamplingConfig"]


class SamplingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(15, ge=1, le=500, description="Cases per weekly review batch.")
    seed: int = Field(
        0, ge=0, lt=1 << 64, description="Seed of the draw: the same seed and data give the same batch."
    )
    schedule: bool = Field(True, description="Draw each ISO week's batch inside `tracesieve run`.")
    grace_s: float = Field(
        3600.0,
        ge=0,
        description="After an ISO week ends (UTC), wait this long for late spans before drawing its batch.",
    )
    reservoir_factor: int = Field(
        8,
        ge=1,
        le=1000,
        description="Candidates kept per failure category and week: this many times `batch_size`.",
    )
    count_sketch_size: int = Field(
        16384,
        ge=64,
        le=10_000_000,
        description=(
            "Flagged turns per week counted exactly (category totals, near-duplicate cluster sizes); "
            "beyond it they are estimated from a sample of this many turns."
        ),
    )
    cluster_examples: int = Field(
        3, ge=0, le=20, description="Other questions of its near-duplicate cluster shown with a case."
    )

    @property
    def reservoir_size(self) -> int:
        """K, the candidates kept per (week, category)."""
        return self.batch_size * self.reservoir_factor
