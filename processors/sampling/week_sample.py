"""One ISO week's streaming sample: a weighted reservoir per failure category, and the counts.

Feed it every version of every flagged turn of the week (:meth:`WeekSample.offer`), in any
order, live or from the store: the state it reaches depends only on the seed and on each turn's
latest version (its highest flag score and all its categories), never on arrival order.

- **Reservoirs.** A turn stands in the reservoir of *each* of its categories (a turn flagged for
  retrieval and hallucination competes in both), weighted by its flag score, with the key of
  :mod:`.keys`; each reservoir keeps its K largest keys. So a rare category keeps every one of
  its turns (as long as it has at most K), however common the others are, and the batch can
  give it a slot; the drawing picks one stratum per case, so a turn is drawn once at most.
  Memory: at most ``categories × K`` entries (an entry is shared by the reservoirs it is in).
- **Counts.** Per category: exact while its reservoir is not full (it holds all its turns), else
  estimated by the :class:`~.sketch.TurnSketch`. Per near-duplicate cluster: the sketch's count,
  and at least the members the reservoirs hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keys import SKETCH_SEED, as_float32, item_hash, reservoir_key
from .reservoir import CategoryReservoir, Order
from .signature import question_signature
from .sketch import TurnSketch
from .turn import FlaggedTurn

__all__ = ["Candidate", "WeekSample"]


@dataclass(slots=True)
class Candidate:
    """A turn held by at least one reservoir: its latest version and its key."""

    turn: FlaggedTurn
    weight: float  # float32-rounded flag score
    categories: frozenset[str]
    order: Order
    signature: int | None
    refs: int = 0  # reservoirs it is in

    @property
    def key(self) -> float:
        return self.order[0]


class WeekSample:
    """See the module docstring. ``reservoir_size`` is K; ``sketch_size`` bounds the counting."""

    def __init__(self, seed: int, reservoir_size: int, sketch_size: int) -> None:
        self.seed = seed
        self.reservoir_size = reservoir_size
        self.reservoirs: dict[str, CategoryReservoir] = {}
        self.sketch = TurnSketch(sketch_size)
        self._candidates: dict[str, Candidate] = {}
        self.offered = 0

    # -- feeding --------------------------------------------------------------------------------

    def offer(self, turn: FlaggedTurn) -> None:
        """Take one version of a flagged turn."""
        self.offered += 1
        self.sketch.offer(item_hash(SKETCH_SEED, turn.trace_id, turn.span_id), turn.categories, turn.question)
        if not turn.categories:
            return
        turn_id = turn.turn_id
        weight = as_float32(turn.flag_score)
        cats = frozenset(turn.categories)
        held = self._candidates.get(turn_id)
        if held is not None:
            if weight <= held.weight and cats <= held.categories:
                return  # an older (or the same) version
            weight = max(weight, held.weight)
            cats = cats | held.categories
        h = item_hash(self.seed, turn.trace_id, turn.span_id)
        order: Order = (reservoir_key(h, weight), h)
        candidate = held
        for category in sorted(cats):
            reservoir = self.reservoirs.get(category)
            if reservoir is None:
                reservoir = self.reservoirs[category] = CategoryReservoir(self.reservoir_size)
            was_in = turn_id in reservoir
            kept, evicted = reservoir.offer(turn_id, order)
            if evicted is not None:
                self._release(evicted)
            if kept and not was_in:
                if candidate is None:
                    candidate = Candidate(turn, weight, cats, order, question_signature(turn.question))
                    self._candidates[turn_id] = candidate
                candidate.refs += 1
        if candidate is not None:
            candidate.weight, candidate.categories, candidate.order = weight, cats, order
            if turn.flag_score >= candidate.turn.flag_score:
                candidate.turn = turn

    def _release(self, turn_id: str) -> None:
        candidate = self._candidates[turn_id]
        candidate.refs -= 1
        if candidate.refs == 0:
            del self._candidates[turn_id]

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Turns held (each once, whatever the number of reservoirs it is in)."""
        return len(self._candidates)

    def categories(self) -> list[str]:
        return sorted(c for c, r in self.reservoirs.items() if len(r))

    def ranked(self, category: str) -> list[Candidate]:
        """The category's candidates in key order (the order of a weighted draw)."""
        reservoir = self.reservoirs.get(category)
        if reservoir is None:
            return []
        return [self._candidates[turn_id] for turn_id, _ in reservoir.ranked()]

    def candidates(self) -> list[Candidate]:
        """Every held turn, strongest key first."""
        return sorted(self._candidates.values(), key=lambda c: c.order, reverse=True)

    def category_count(self, category: str) -> int:
        """Distinct flagged turns of the week in ``category`` (see :meth:`counts_exact`)."""
        reservoir = self.reservoirs.get(category)
        held = len(reservoir) if reservoir is not None else 0
        if held < self.reservoir_size:
            return held  # the reservoir never had to drop one: it holds them all
        return max(held, self.sketch.category_counts().get(category, 0))

    def category_counts(self) -> dict[str, int]:
        sketched = self.sketch.category_counts()
        counts: dict[str, int] = {}
        for category in self.categories():
            held = len(self.reservoirs[category])
            counts[category] = held if held < self.reservoir_size else max(held, sketched.get(category, 0))
        return counts

    def counts_exact(self) -> bool:
        """Whether every count is exact (the week had at most ``sketch_size`` flagged turns)."""
        return self.sketch.exact

    def total(self) -> int:
        """Distinct flagged turns of the week."""
        return self.sketch.total()

    def cluster_members(self, signature: int | None) -> list[Candidate]:
        """Held turns with this question signature, strongest key first."""
        if signature is None:
            return []
        return [c for c in self.candidates() if c.signature == signature]

    def cluster_size(self, signature: int | None) -> int:
        """Flagged turns of the week asking this question (1 for a question without signature)."""
        if signature is None:
            return 1
        held = sum(1 for c in self._candidates.values() if c.signature == signature)
        return max(1, held, self.sketch.cluster_size(signature))

    def state(self) -> dict[str, list[tuple[str, float]]]:
        """Every reservoir's turns and keys, strongest first (to compare two samples)."""
        return {
            c: [(turn_id, order[0]) for turn_id, order in r.ranked()]
            for c, r in sorted(self.reservoirs.items())
        }
