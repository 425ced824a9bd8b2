"""Drawing a review batch from a week's reservoirs: stratified, deduplicated, one case per session.

:func:`draw_batch` picks up to ``size`` candidates from a
:class:`~tracesieve.processors.sampling.WeekSample`:

1. **Strata** are the failure categories that hold an eligible candidate. First round: every
   stratum gets one case before any gets a second, rarest first (fewest flagged turns this
   week, then name), so a category seen once is in the batch however common the others are (if
   the batch is smaller than the number of categories, the rarest ones win).
2. **Remaining slots** follow the square root of each category's count: stratum ``c`` aims at
   ``size · √n_c / Σ √n``; each next slot goes to the stratum furthest below its aim (ties: the
   larger count, then the name) that still has an eligible candidate.
3. **Within a stratum** candidates come in key order (a weighted draw by flag score, see
   ``processors/sampling/keys.py``); the next one is taken unless it is *ineligible*:
   already reviewed or sent in an earlier batch (``Exclusions.case_ids``), already picked for
   another stratum, from a session that already has a case, or a near-duplicate of a question
   already picked (or of one in an earlier batch of the week, ``Exclusions.signatures``).
4. **Near-duplicates collapse**: the first of a cluster to be picked represents it, and carries
   the cluster's size in the week and up to ``max_examples`` other questions of the cluster.

Everything is a function of the sample (hence of the seed and the week's data) and the
exclusions: the same inputs give the same picks, in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tracesieve.evals.ids import review_case_id
from tracesieve.processors.sampling import Candidate, WeekSample

__all__ = ["Exclusions", "Pick", "draw_batch"]


@dataclass(frozen=True, slots=True)
class Exclusions:
    case_ids: frozenset[str] = field(default_factory=frozenset)
    """Review case ids never to draw: reviewed already, or sent in an earlier batch."""
    signatures: frozenset[int] = field(default_factory=frozenset)
    """Question signatures already represented in an earlier batch of the week."""


@dataclass(frozen=True, slots=True)
class Pick:
    candidate: Candidate
    category: str
    """The stratum it was drawn for (one of its categories)."""
    cluster_size: int
    cluster_examples: tuple[str, ...]


def draw_batch(
    sample: WeekSample,
    size: int,
    exclusions: Exclusions | None = None,
    *,
    max_examples: int = 3,
    case_id: Callable[[str, str], str] = review_case_id,
) -> list[Pick]:
    """The batch, in drawing order; shorter than ``size`` only when candidates run out."""
    excluded = exclusions or Exclusions()
    counts = sample.category_counts()
    queues = {c: sample.ranked(c) for c in sample.categories()}
    cursor = dict.fromkeys(queues, 0)
    picked: set[str] = set()
    sessions: set[str] = set()
    signatures: set[int] = set(excluded.signatures)
    picks: list[Pick] = []

    def eligible(candidate: Candidate) -> bool:
        turn = candidate.turn
        return not (
            turn.turn_id in picked
            or turn.session_key in sessions
            or (candidate.signature is not None and candidate.signature in signatures)
            or case_id(turn.trace_id, turn.span_id) in excluded.case_ids
        )

    def next_of(category: str) -> Candidate | None:
        queue, i = queues[category], cursor[category]
        while i < len(queue) and not eligible(queue[i]):
            i += 1
        cursor[category] = i
        return queue[i] if i < len(queue) else None

    def take(candidate: Candidate, category: str) -> None:
        turn = candidate.turn
        picked.add(turn.turn_id)
        sessions.add(turn.session_key)
        examples: list[str] = []
        if candidate.signature is not None:
            signatures.add(candidate.signature)
            seen = {turn.question}
            for member in sample.cluster_members(candidate.signature):
                if len(examples) >= max_examples:
                    break
                if member.turn.question not in seen:
                    seen.add(member.turn.question)
                    examples.append(member.turn.question)
        picks.append(Pick(candidate, category, sample.cluster_size(candidate.signature), tuple(examples)))

    strata = sorted(queues, key=lambda c: (counts.get(c, 0), c))
    for category in strata:
        if len(picks) >= size:
            break
        first = next_of(category)
        if first is not None:
            take(first, category)

    taken = {c: sum(1 for p in picks if p.category == c) for c in strata}
    roots = {c: math.sqrt(max(1, counts.get(c, 1))) for c in strata}
    total_root = sum(roots.values()) or 1.0
    aim = {c: size * roots[c] / total_root for c in strata}
    open_strata = set(strata)
    while len(picks) < size and open_strata:
        category = max(open_strata, key=lambda c: (aim[c] - taken[c], counts.get(c, 0), _desc(c)))
        candidate = next_of(category)
        if candidate is None:
            open_strata.discard(category)
            continue
        take(candidate, category)
        taken[category] += 1
    return picks


def _desc(name: str) -> tuple[int, ...]:
    """Sorts names in reverse, so that ``max`` prefers the alphabetically first on a tie."""
    return (*(-ord(ch) for ch in name), 1)
