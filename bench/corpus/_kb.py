"""The shapes of the corpus's knowledge: domains, their intents and clarifying exchanges."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Clarify", "Domain", "Intent", "Pool", "pools"]

Pool = dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Intent:
    key: str
    entities: tuple[str, ...]
    facts: tuple[str, ...]
    questions: Pool
    doc: str
    answer: str


@dataclass(frozen=True, slots=True)
class Clarify:
    """A vague request, the assistant's clarifying question, the user's answer to it, and the
    final answer: the user's second message is not a rephrase."""

    vague: str
    question: str
    reply: str
    answer: str


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    brand: str
    index: str
    doc_prefix: str
    intents: tuple[Intent, ...]
    clarify: dict[str, tuple[Clarify, ...]]
    refusal_prompts: Pool


def pools(dev: tuple[str, ...], heldout: tuple[str, ...]) -> Pool:
    return {"dev": dev, "heldout": heldout}
