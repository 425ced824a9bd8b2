"""Configuration of the scorer (``processors.scoring``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ScoringConfig"]


class ScoringConfig(BaseModel):
    """How a turn's signals combine into one flag score, and when the turn is flagged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flag_threshold: float = Field(
        0.5, ge=0, le=1, description="A turn is flagged when its combined score reaches this."
    )
    default_weight: float = Field(1.0, ge=0, le=1, description="Weight of a signal not named in `weights`.")
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Per-signal weight in 0..1, e.g. `{latency_outlier: 0.5}`; 0 ignores the signal.",
    )
