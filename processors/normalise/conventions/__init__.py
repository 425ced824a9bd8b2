"""The producer conventions, one module each, behind :class:`~.._view.Convention`.

Extractors run in conventions.md §8's lookup order: every convention's structured sources, in
the order of the cheat-sheet, then their opaque input/output blobs. Each fills only what the
span still lacks, so a span that mixes conventions takes each field from the first source that
has it. ``DETECTION`` names the span's convention: the most specific markers first (OpenLLMetry,
Logfire, LangSmith… also write ``gen_ai.*`` keys).
"""

from __future__ import annotations

from .._view import Convention, Extract, SpanView
from . import langfuse, langsmith, litellm, logfire, mlflow, openinference, openllmetry, otel_genai, vercel_ai

__all__ = ["DETECTION", "recognise"]

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
_RANK = {c.name: rank for rank, c in enumerate(DETECTION)}
_OWNER = {key: c.name for c in DETECTION for key in c.markers}
_HINTED = tuple(c for c in DETECTION if c.hint is not None)
_PLANS: dict[frozenset[str], tuple[str, tuple[Extract, ...]]] = {}
_PLAIN: tuple[str, tuple[Extract, ...]] = ("plain", ())


def recognise(view: SpanView) -> tuple[str, tuple[Extract, ...]]:
    """The span's convention name and the extractors to run, in §8 order.

    Only the conventions whose markers (or hints) the span carries are run: one dict lookup per
    attribute decides, so an HTTP span costs no content work. A span recognised by none is
    ``"plain"``.
    """
    found: set[str] = set()
    owner = _OWNER.get
    for key in view.attrs:
        name = owner(key)
        if name is not None:
            found.add(name)
    for c in _HINTED:
        if c.name not in found and c.hint is not None and c.hint(view):
            found.add(c.name)
    if not found:
        return _PLAIN
    names = frozenset(found)
    plan = _PLANS.get(names)
    if plan is None:  # at most 2**9 distinct sets
        first = min(names, key=_RANK.__getitem__)
        plan = _PLANS[names] = (first, tuple(ex for c, ex in _PASSES if c.name in names))
    return plan
