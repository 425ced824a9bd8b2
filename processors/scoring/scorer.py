"""Combines a turn's signals into one flag score.

``flag_score = 1 − Π (1 − weight(s) · score(s))`` over the turn's distinct signals, each at
its highest score (a noisy-OR): one strong signal flags a turn on its own, several weak ones
add up, and the result stays in 0..1. A weight of 0 mutes a signal.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import ScoringConfig

__all__ = ["Scorer"]


class Scorer:
    __slots__ = ("_default", "_threshold", "_weights")

    def __init__(self, config: ScoringConfig) -> None:
        self._threshold = config.flag_threshold
        self._default = config.default_weight
        self._weights = dict(config.weights)

    @property
    def threshold(self) -> float:
        return self._threshold

    def combine(self, scores: Mapping[str, float]) -> float:
        """The flag score of a turn whose signals have these (highest) scores."""
        miss = 1.0
        for name, score in scores.items():
            weighted = self._weights.get(name, self._default) * score
            miss *= 1.0 - min(1.0, max(0.0, weighted))
        return 1.0 - miss

    def flags(self, scores: Mapping[str, float]) -> bool:
        return bool(scores) and self.combine(scores) >= self._threshold - 1e-12
