"""Scoring: a turn's signals → one flag score, compared with the flag threshold."""

from __future__ import annotations

from .config import ScoringConfig
from .scorer import Scorer

__all__ = ["Scorer", "ScoringConfig"]
