"""The producer conventions, one module each, behind :class:`~.._view.Convention`.

Extractors run in conventions.md §8's lookup order: every convention's structured sources, in
the order of the cheat-sheet, then their opaque input/output blobs. Each fills only what the
span still lacks, so a span that mixes conventions takes each field from the first source that
has it. ``DETECTION`` names the span's convention: the most specific markers first (OpenLLMetry,
Logfire, LangSmith… also write ``gen_ai.*`` keys).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from .._view import Convention, Extract, SpanView
from . import langfuse, langsmith, litellm, logfire, mlflow, openinference, openllmetry, otel_genai, vercel_ai

__all__ = ["DETECTION", "MARKERS", "recognise"]

# §8 order of the structured sources.
_LOOKUP: tuple[Convention, ...] = (
    otel_genai.CONVENTION,
    openinference.CONVENTION,
    litellm.CONVENTION,  # before OpenLLMetry: its llm.request.type values mean something else
    openllmetry.CONVENTION,
    vercel_ai.CONVENTION,
    logfire.CONVENTION,
    mlflow.CONVENTION,
    langsmith.CONVENTION,
    langfuse.CONVENTION,
)
_PASSES: tuple[tuple[Convention, Extract], ...] = tuple((c, c.extract) for c in _LOOKUP) + tuple(
    (c, c.fallback) for c in _LOOKUP if c.fallback is not None
)

DETECTION: tuple[Convention, ...] = (
    langfuse.CONVENTION,
    openinference.CONVENTION,
    vercel_ai.CONVENTION,
    logfire.CONVENTION,
    mlflow.CONVENTION,
    litellm.CONVENTION,
    langsmith.CONVENTION,
    openllmetry.CONVENTION,
    otel_genai.CONVENTION,
)
# A span's conventions as a bit mask (bit i: DETECTION[i]): cheap to build and to key a cache by.
_BIT = {c.name: 1 << i for i, c in enumerate(DETECTION)}
_MARKER_BITS = {key: _BIT[c.name] for c in DETECTION for key in c.markers}
MARKERS = frozenset(_MARKER_BITS)
"""Every convention's marker keys."""
_HINTED = tuple((_BIT[c.name], c.hint) for c in DETECTION if c.hint is not None)
_SCOPE_HINTED = tuple((_BIT[c.name], c.scope_hint) for c in DETECTION if c.scope_hint is not None)
_SCOPE_MASKS: dict[str, int] = {}  # scope name → the bits its scope hints give
_PLANS: dict[int, tuple[str, tuple[Extract, ...]]] = {}  # at most 2**9 masks
_PLAIN: tuple[str, tuple[Extract, ...]] = ("plain", ())


def _scope_mask(scope_name: str) -> int:
    mask = 0
    for bit, hint in _SCOPE_HINTED:
        if hint(scope_name):
            mask |= bit
    if len(_SCOPE_MASKS) >= 4096:  # scope names are few; bound the cache all the same
        _SCOPE_MASKS.clear()
    _SCOPE_MASKS[scope_name] = mask
    return mask


def _plan(mask: int) -> tuple[str, tuple[Extract, ...]]:
    first = next(c.name for c in DETECTION if mask & _BIT[c.name])
    plan = _PLANS[mask] = (first, tuple(ex for c, ex in _PASSES if mask & _BIT[c.name]))
    return plan


def recognise(view: SpanView, keys: AbstractSet[str] | None = None) -> tuple[str, tuple[Extract, ...]]:
    """The span's convention name and the extractors to run, in §8 order.

    Only the conventions whose markers (or hints) the span carries are run: one C-level set
    intersection with the attribute keys decides, so an HTTP span costs no content work. A span
    recognised by none is ``"plain"``. ``keys``, if given, is the span's attribute keys among a
    superset of :data:`MARKERS` (the caller's one pass over them), else the attributes are read.
    """
    mask = _SCOPE_MASKS.get(view.scope_name)
    if mask is None:
        mask = _scope_mask(view.scope_name)
    for key in MARKERS.intersection(view.attrs if keys is None else keys):
        mask |= _MARKER_BITS[key]
    for bit, hint in _HINTED:
        if not mask & bit and hint(view):
            mask |= bit
    if not mask:
        return _PLAIN
    plan = _PLANS.get(mask)
    return plan if plan is not None else _plan(mask)
