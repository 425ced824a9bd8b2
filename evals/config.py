"""``evals``: the review loop's settings (each part keeps its model beside its code)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .review.config import ReviewConfig
from .sampling.config import SamplingConfig

__all__ = ["EvalsConfig"]


class EvalsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Weekly review batches.")
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="The review page.")
