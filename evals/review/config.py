"""``evals.review``: the review page on the admin port."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReviewConfig"]


class ReviewConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Serve the review page at /review on the admin port.")
