"""One week's review batch, from the store or from a live sample: the path that
``tracesieve sample`` and the weekly schedule share.

:func:`sample_week` returns the week's batch for a seed and size:

- a batch with that seed and size is stored for the week → that batch (nothing is drawn; the
  same batch, the same files);
- the week has other batches only → PermanentError naming them (``new=True`` draws another);
- otherwise, or with ``new=True`` → a new batch, drawn from ``sample`` if given (the live
  reservoirs) or from a scan of the week's ``flagged_spans``; it excludes every case reviewed
  or sent before (and, for ``new``, the questions the week's earlier batches asked); stored in
  one INSERT (unless the same draw was stored meanwhile).

Raises :class:`NothingToSample` when the week has no eligible flagged turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore
from tracesieve.processors.sampling import WeekSample

from .batch import Batch, build_batch, list_batches, load_batch, load_exclusions
from .config import SamplingConfig
from .draw import draw_batch
from .ops import INSERT_BATCH
from .scan import Progress, scan_week

__all__ = ["NothingToSample", "SampleOutcome", "SampleSettings", "sample_week"]


class NothingToSample(PermanentError):
    """The week has no flagged turn that could go into a batch."""


@dataclass(frozen=True, slots=True)
class SampleSettings:
    size: int
    seed: int
    reservoir_size: int
    sketch_size: int
    max_examples: int

    @classmethod
    def from_config(
        cls, config: SamplingConfig, *, size: int | None = None, seed: int | None = None
    ) -> SampleSettings:
        size = config.batch_size if size is None else size
        return cls(
            size=size,
            seed=config.seed if seed is None else seed,
            reservoir_size=size * config.reservoir_factor,
            sketch_size=config.count_sketch_size,
            max_examples=config.cluster_examples,
        )

    def new_sample(self) -> WeekSample:
        return WeekSample(self.seed, self.reservoir_size, self.sketch_size)


@dataclass(frozen=True, slots=True)
class SampleOutcome:
    batch: Batch
    created: bool
    """False when the stored batch was returned."""


async def sample_week(
    store: EvalStore,
    week: str,
    settings: SampleSettings,
    *,
    new: bool = False,
    source: str = "cli",
    sample: WeekSample | None = None,
    progress: Progress | None = None,
    now_ms: int | None = None,
) -> SampleOutcome:
    """See the module docstring."""
    existing = await list_batches(store, week)
    if not new:
        for info in existing:
            if info.seed == settings.seed and info.size == settings.size:
                return SampleOutcome(await load_batch(store, info.batch_id), created=False)
        if existing:
            names = ", ".join(f"{b.batch_id} (seed {b.seed}, size {b.size})" for b in existing)
            raise PermanentError(
                f"{week} already has a batch with other settings: {names}; pass --new to draw another one, "
                "or that batch's --seed and --size to show it"
            )
    if sample is None:
        sample = await scan_week(store, week, settings.new_sample(), progress)
    if not len(sample):
        raise NothingToSample(f"no flagged turns in {week}")
    exclusions = await load_exclusions(store, week, sample)
    picks = draw_batch(sample, settings.size, exclusions, max_examples=settings.max_examples)
    if not picks:
        raise NothingToSample(
            f"every flagged turn of {week} that the sampler holds was reviewed or sent in a batch already"
        )
    params: dict[str, Any] = {
        "version": 1,
        "size": settings.size,
        "seed": settings.seed,
        "ordinal": len(existing) + 1,
        "source": source,
        "reservoir_size": settings.reservoir_size,
        "count_sketch_size": settings.sketch_size,
        "flagged_turns": sample.total(),
        "counts_exact": sample.counts_exact(),
        "category_counts": sample.category_counts(),
        "excluded_cases": len(exclusions.case_ids),
    }
    batch = await build_batch(
        store,
        week,
        picks,
        seed=settings.seed,
        created_at_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        params=params,
    )
    if not batch.rows:
        raise NothingToSample(f"the flagged turns drawn for {week} are no longer in the store")
    result = await store.call(INSERT_BATCH, {"rows": batch.rows})
    if not result.get("inserted", False):
        return SampleOutcome(await load_batch(store, batch.batch_id), created=False)
    return SampleOutcome(batch, created=True)
