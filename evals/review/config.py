"""``evals.review``: the review page on the admin port."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReviewConfig"]


class ReviewConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Serve the review page at /review on the admin port.")
    session_ttl_s: int = Field(
        12 * 3600,
        ge=60,
        le=30 * 86400,
        description="How long a browser stays logged in to the review page after giving the admin token.",
    )
    promote_bad: bool = Field(
        True,
        description="Turn each case labelled bad into a regression case as soon as the label is saved.",
    )
