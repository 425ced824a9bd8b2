"""Building blocks of the session scripts: the :class:`Script` a variant returns and the weak
or failed turns (error, refusal, truncated, empty or low retrieval, ungrounded answer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import _phrases as P
from _domains import Intent
from scenarios import NUMBER, Gen, Turn

__all__ = [
    "WEAK_TURNS",
    "Script",
    "Variant",
    "empty_turn",
    "error_turn",
    "low_turn",
    "lower_first",
    "mark",
    "needs_scores",
    "other_entity",
    "refusal_turn",
    "said",
    "shares_numbers",
    "truncated_turn",
    "ungrounded_turn",
    "weak_turn",
]


@dataclass(slots=True)
class Script:
    turns: list[Turn]
    hard_negative_for: list[str] = field(default_factory=list)
    placement: str = "any"


Variant = Callable[[Gen], Script]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def mark(turn: Turn, signal: str) -> Turn:
    turn.signals.add(signal)
    return turn


def other_entity(g: Gen, intent: Intent, entity: str) -> str:
    return g.entity(intent, not_=entity)


# -- weak turns ----------------------------------------------------------------------------


def error_turn(g: Gen, intent: Intent, status: int | None = None) -> Turn:
    turn = g.plain(intent, g.entity(intent))
    turn.answer, turn.status = None, status or g.rng.choice([500, 500, 503, 429])
    return mark(turn, "error")


def refusal_turn(g: Gen, field_ok: bool = False) -> Turn:
    text = g.pick(P.REFUSALS)
    turn = Turn(g.pick(g.domain.refusal_prompts), text, stream=g.stream(), gap_s=g.gap())
    # openai-v2 drops OpenAI's refusal field from its telemetry: use it where it survives.
    if field_ok and not g.library.startswith("openai-v2"):
        turn.answer, turn.refusal, turn.stream = None, text, False
    return mark(turn, "refusal")


def truncated_turn(g: Gen, intent: Intent, reason: str = "length") -> Turn:
    entity = g.entity(intent)
    turn = g.plain(intent, entity)
    if reason == "content_filter":
        turn.answer, turn.finish_reason = "", "content_filter"
    else:
        words = (g.answer(intent, entity) + g.rng.choice(P.ELABORATIONS)).split()
        budget = g.rng.randint(20, min(34, len(words) - 3))
        turn.answer, turn.finish_reason, turn.max_tokens = (
            " ".join(words[:budget]).rstrip(",;:"),
            "length",
            budget,
        )
    return mark(turn, "truncated")


def empty_turn(g: Gen, intent: Intent) -> Turn:
    turn = Turn(g.question(intent, g.entity(intent)), g.pick(P.GENERIC_ANSWERS), docs=[], gap_s=g.gap())
    return mark(turn, "empty_retrieval")


def low_turn(g: Gen, intent: Intent, best: tuple[float, float] = (0.15, 0.46)) -> Turn:
    entity = g.entity(intent)
    docs, used, used_entity = g.weak_docs(intent, best)
    # The app answers from what it found: grounded, but about something else.
    turn = Turn(
        g.question(intent, entity), g.answer(used, used_entity), docs=docs, stream=g.stream(), gap_s=g.gap()
    )
    return mark(turn, "low_retrieval_confidence")


def _unsupported(g: Gen) -> str:
    template = g.pick(P.UNSUPPORTED)
    ref = g.rng.choice(["REF-", "CS-", "TCK-"]) + str(g.rng.randint(10000, 999999))
    month = g.rng.choice(["February", "April", "June", "September", "November"])
    date = f"{month} {g.rng.randint(2, 27)}, {g.rng.choice([2021, 2022, 2023])}"
    return template.format(person=g.pick(P.PERSONS), ref=ref, date=date)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def said(turns: Sequence[Turn]) -> str:
    """What the turns put into the conversation's history: their messages."""
    return " ".join(t.user + " " + (t.answer or "") for t in turns)


def shares_numbers(turn: Turn, before: Sequence[Turn]) -> bool:
    """The turn's answer holds a number that the turns before it said."""
    return bool(_numbers(turn.answer or "") & _numbers(said(before)))


def ungrounded_turn(
    g: Gen, intent: Intent, how: str = "wrong", context: bool = False, avoid: str = ""
) -> Turn:
    """A turn whose answer states what its context does not. ``avoid``: the text of the turns
    before it (the history sent with it), whose numbers the wrong value must not be either: a
    value the user or the assistant already said is in the input messages, so it is grounded."""
    for _ in range(20):
        entity = g.entity(intent)
        turn = g.rag(intent, entity)
        if how == "wrong":
            turn.answer = g.answer(intent, entity, "wrong") + (
                _unsupported(g) if g.rng.random() < 0.3 else ""
            )
        else:
            turn.answer = g.answer(intent, entity) + _unsupported(g)
        known = _numbers(avoid + " " + turn.user + " ".join(d.content + " " + d.id for d in turn.docs or []))
        # The wrong value must be plainly absent, not a number the documents also use.
        if how != "wrong" or _numbers(g.answer(intent, entity, "wrong")) - known == _numbers(
            g.answer(intent, entity, "wrong")
        ):
            break
        g.forget(intent, entity)
    if context:
        turn.context, turn.docs = [d.content for d in turn.docs or []], None
    return mark(turn, "ungrounded_answer")


WEAK_TURNS: dict[str, Callable[[Gen, Intent], Turn]] = {
    "error": error_turn,
    "refusal": lambda g, _i: refusal_turn(g, field_ok=True),
    "truncated": truncated_turn,
    "empty": empty_turn,
    "low": low_turn,
    "ungrounded": ungrounded_turn,
}


def weak_turn(g: Gen, kind: str, intent: Intent, before: Sequence[Turn] = ()) -> Turn:
    """A weak turn of ``kind`` (a key of :data:`WEAK_TURNS`) that follows the turns ``before``."""
    if kind == "ungrounded":
        return ungrounded_turn(g, intent, avoid=said(before))
    return WEAK_TURNS[kind](g, intent)


def needs_scores(variant: Variant) -> Variant:
    """Marks a variant whose labels need the retrieved documents (ids, scores) on the spans:
    openai-v2 records them only when content goes on spans, so it is not run with
    ``openai-v2-events``."""
    variant.needs_retrieval_on_spans = True  # type: ignore[attr-defined]
    return variant
