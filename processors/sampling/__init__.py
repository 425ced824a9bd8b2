"""The streaming half of the weekly review sampler: pure Python, no store, no I/O.

:class:`WeekSample` keeps, for one ISO week, a deterministic weighted reservoir per failure
category (:mod:`.keys`, :mod:`.reservoir`) and bounded counts per category and per
near-duplicate question cluster (:mod:`.sketch`, :mod:`.signature`). It is fed
:class:`FlaggedTurn` values: live from the analysis (``FlaggedTurn.from_flagged``), or from the
``flagged_spans`` table; both give the same state. Drawing a batch from it, and everything that
touches the store or files, lives in ``tracesieve.evals.sampling``.
"""

from .keys import as_float32, item_hash, reservoir_key
from .reservoir import CategoryReservoir
from .signature import SIGNATURE_CHARS, content_words, question_signature
from .sketch import TurnSketch
from .turn import FlaggedTurn
from .week_sample import Candidate, WeekSample

__all__ = [
    "SIGNATURE_CHARS",
    "Candidate",
    "CategoryReservoir",
    "FlaggedTurn",
    "TurnSketch",
    "WeekSample",
    "as_float32",
    "content_words",
    "item_hash",
    "question_signature",
    "reservoir_key",
]
