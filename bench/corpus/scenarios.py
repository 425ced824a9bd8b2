"""Session scripts of the detector benchmark, with the signals each turn must carry.

:func:`build_sessions` returns, for a split (``dev`` or ``heldout``: disjoint phrasing pools) and
a seed, ``n`` positive sessions and ``n`` hard-negative sessions for every signal (three times as
many for ``rephrase``: :data:`EXTRA`), plus ``n`` clean multi-turn sessions, spread over seven
domains and four instrumentation set-ups.

Labels follow the behaviour definitions, not any detector's code:

- ``rephrase``: the user asks the same thing again in other words within the next two user
  turns; on the *earlier* turn. Not: another entity, an answer to a clarifying question, a new
  topic, a near-identical repeat (that is ``regenerate``).
- ``regenerate``: identical or near-identical final user message, same session, < 10 min later;
  on the earlier turn. Not: "thanks" twice, the same question hours later.
- ``user_correction``: the next user turn says the answer was wrong; on the earlier turn.
- ``abandoned_session``: the last turn is weak or failed (error, refusal, truncated, empty or
  low-confidence retrieval, ungrounded answer); on that turn. Added by :meth:`Session.expected`.
- ``low_retrieval_confidence``: best retrieval score < 0.5; ``empty_retrieval``: no document
  (and not ``low_retrieval_confidence``: there is no best score).
- ``ungrounded_answer``: a name, id, number or date in the answer that is in neither the messages
  nor the retrieved documents; only on turns with documents or a context-bearing system prompt.
- ``refusal``, ``truncated`` (finish reason ``length`` or ``content_filter``), ``error`` (the
  call failed), ``latency_outlier`` (> 3 × p95 of the model's calls) on the turn itself.
- ``negative_feedback``: on the turn the feedback names.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _domains import DOMAINS, Domain, Intent
from _facts import FACT_KINDS, Fact
from tracesieve.processors.detectors import BUILTIN

__all__ = [
    "EXTRA",
    "LIBRARIES",
    "NUMBER",
    "SIGNALS",
    "WEAK",
    "Doc",
    "Feedback",
    "Gen",
    "Session",
    "Turn",
    "build_sessions",
]

# Every built-in detector gets positives and hard negatives: the corpus follows the registry.
SIGNALS: tuple[str, ...] = BUILTIN

# Bump when a change alters what a seed generates, so that cached corpora are built again
# (``bench_detectors.py`` keys its cache on it). 2: three times the rephrase cases.
GENERATOR_VERSION = 2
WEAK = frozenset(
    {"error", "refusal", "truncated", "empty_retrieval", "low_retrieval_confidence", "ungrounded_answer"}
)
LIBRARIES = ("openai-v2", "openinference", "traceloop", "openai-v2-events")
MODELS = ("gpt-4o-mini",) * 9 + ("gpt-4.1-mini",)


@dataclass(frozen=True, slots=True)
class Doc:
    id: str
    score: float
    content: str


@dataclass(slots=True)
class Feedback:
    """Feedback on one turn: a ``POST /v1/feedback`` body (``api``) or a
    ``gen_ai.evaluation.result`` event (``event``). ``timing``: ``normal`` (soon after the turn),
    ``before`` (sent before the turn's spans) or ``late`` (a day later, after everything else)."""

    channel: str
    timing: str
    negative: bool
    thumbs: str = ""
    score: float | None = None
    label: str = ""
    comment: str = ""
    ticket_id: str = ""
    name: str = ""
    with_span: bool = False
    with_session: bool = False


@dataclass(slots=True)
class Turn:
    user: str
    answer: str | None = "OK."
    refusal: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    delay_s: float | None = None
    stream: bool = False
    max_tokens: int = 300
    docs: list[Doc] | None = None  # None: no retrieval; []: a retrieval that found nothing
    context: list[str] | None = None  # facts in a context-bearing system prompt, no retrieval
    resend_previous: bool = False  # the app's regenerate button: the previous request again
    gap_s: float = 30.0  # event time from the previous turn's end to this turn's start
    signals: set[str] = field(default_factory=set)
    feedback: Feedback | None = None
    restated: bool = False  # the answer restates the context's values in other formats


@dataclass(slots=True)
class Session:
    scenario: str
    domain: str
    library: str
    model: str
    session_id: str
    user_id: str
    turns: list[Turn]
    hard_negative_for: list[str]
    placement: str = "any"  # "late": needs the latency warm-up before it; "early": long gaps

    def expected(self) -> list[tuple[int, str]]:
        """(turn index, signal) for every signal the session must raise."""
        found = {(i, s) for i, turn in enumerate(self.turns) for s in turn.signals}
        last = len(self.turns) - 1
        if self.turns[last].signals & WEAK:
            found.add((last, "abandoned_session"))
        return sorted(found)


class Gen:
    """Builds turns for one session: a domain, a split's phrasings, consistent facts."""

    def __init__(self, rng: random.Random, split: str, domain: Domain, library: str) -> None:
        self.rng = rng
        self.split = split
        self.domain = domain
        self.library = library
        self._facts: dict[tuple[str, str], tuple[Fact, ...]] = {}
        self._docs = 0

    def pick(self, pool: dict[str, tuple[str, ...]]) -> str:
        return self.rng.choice(pool[self.split])

    def intents(self, k: int) -> list[Intent]:
        return self.rng.sample(list(self.domain.intents), k)

    def entity(self, intent: Intent, not_: str = "") -> str:
        return self.rng.choice([e for e in intent.entities if e != not_])

    def facts(self, intent: Intent, entity: str) -> tuple[Fact, ...]:
        key = (intent.key, entity)
        if key not in self._facts:
            self._facts[key] = tuple(FACT_KINDS[kind](self.rng) for kind in intent.facts)
        return self._facts[key]

    def forget(self, intent: Intent, entity: str) -> None:
        self._facts.pop((intent.key, entity), None)

    def question(self, intent: Intent, entity: str, index: int | None = None) -> str:
        templates = intent.questions[self.split]
        template = templates[self.rng.randrange(len(templates)) if index is None else index % len(templates)]
        return _fill(template, entity, ())

    def answer(self, intent: Intent, entity: str, form: str = "canon") -> str:
        facts = self.facts(intent, entity)
        values = tuple(getattr(f, form) for f in facts)
        return _fill(intent.answer, entity, values)

    def doc(self, intent: Intent, entity: str, score: float) -> Doc:
        self._docs += 1
        doc_id = f"{self.domain.doc_prefix}-{self.rng.randint(1, 899) + self._docs:03d}"
        return Doc(
            doc_id,
            round(score, 3),
            _fill(intent.doc, entity, tuple(f.canon for f in self.facts(intent, entity))),
        )

    def docs(self, intent: Intent, entity: str, best: tuple[float, float] = (0.7, 0.94)) -> list[Doc]:
        """The document that answers, then one or two weaker ones about other intents."""
        top = self.rng.uniform(*best)
        found = [self.doc(intent, entity, top)]
        for other in self.rng.sample(
            [i for i in self.domain.intents if i.key != intent.key], self.rng.randint(1, 2)
        ):
            found.append(self.doc(other, self.entity(other), self.rng.uniform(0.2, top - 0.08)))
        return found

    def weak_docs(self, exclude: Intent, best: tuple[float, float]) -> tuple[list[Doc], Intent, str]:
        """Documents about other intents only, the best scoring in ``best``."""
        others = [i for i in self.domain.intents if i.key != exclude.key]
        self.rng.shuffle(others)
        top = self.rng.uniform(*best)
        first_entity = self.entity(others[0])
        found = [self.doc(others[0], first_entity, top)]
        for other in others[1:]:
            found.append(self.doc(other, self.entity(other), self.rng.uniform(0.05, top - 0.05)))
        return found, others[0], first_entity

    def gap(self) -> float:
        return self.rng.uniform(10, 90)

    def stream(self) -> bool:
        return self.rng.random() < 0.25

    # -- ready-made turns ---------------------------------------------------------------------

    def plain(self, intent: Intent, entity: str, question: str | None = None) -> Turn:
        return Turn(
            question or self.question(intent, entity),
            self.answer(intent, entity),
            stream=self.stream(),
            gap_s=self.gap(),
        )

    def rag(self, intent: Intent, entity: str, question: str | None = None) -> Turn:
        turn = self.plain(intent, entity, question)
        turn.docs = self.docs(intent, entity)
        return turn

    def good(self, intent: Intent, entity: str | None = None, question: str | None = None) -> Turn:
        """A clean turn, with or without retrieval."""
        entity = entity or self.entity(intent)
        return (
            self.rag(intent, entity, question)
            if self.rng.random() < 0.4
            else self.plain(intent, entity, question)
        )

    def fillers(self, intents: list[Intent], k: int) -> list[Turn]:
        return [self.good(intent) for intent in intents[:k]]


NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_PLACEHOLDER = re.compile(r"\{(e|E|f1|f2)\}")


def _fill(template: str, entity: str, facts: tuple[str, ...]) -> str:
    values = {"e": entity, "E": entity[:1].upper() + entity[1:]}
    for i, fact in enumerate(facts, 1):
        values[f"f{i}"] = fact
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


EXTRA: dict[str, int] = {"rephrase": 2}
"""Signals that get ``n`` more positive and ``n`` more hard-negative sessions per unit: a detector
of wording (a rephrase has many forms) measured on 8 positives moves its recall by 0.125 per
miss. The extra sessions come after all the others, from a random stream of their own, so the
rest of a corpus is the same with or without them."""


def build_sessions(split: str, n: int, seed: int) -> list[Session]:
    """``n`` positive and ``n`` hard-negative sessions per signal (``n × (1 + EXTRA)`` for the
    signals of :data:`EXTRA`), and ``n`` clean ones."""
    from _scripts import CLEAN, SCRIPTS

    if split not in ("dev", "heldout"):
        raise ValueError(f"split must be dev or heldout, got {split!r}")
    rng = random.Random(f"{split}-{seed}")
    sessions: list[Session] = []
    plan = [(signal, kind) for signal in SIGNALS for kind in ("pos", "hn")] + [("clean", "clean")]
    for s_index, (signal, kind) in enumerate(plan):
        variants = CLEAN if kind == "clean" else SCRIPTS[signal][kind]
        sessions += [_session(rng, split, signal, kind, variants, k, s_index) for k in range(n)]
    extra_rng = random.Random(f"{split}-{seed}-extra")
    for s_index, (signal, kind) in enumerate(plan):
        if signal in EXTRA:
            variants = SCRIPTS[signal][kind]
            sessions += [
                _session(extra_rng, split, signal, kind, variants, k, s_index)
                for k in range(n, n * (1 + EXTRA[signal]))
            ]
    return sessions


def _session(
    rng: random.Random,
    split: str,
    signal: str,
    kind: str,
    variants: tuple[Callable[[Gen], Any], ...],
    k: int,
    s_index: int,
) -> Session:
    """The ``k``-th session of a plan entry: libraries, domains and variants in rotation."""
    library = LIBRARIES[(k + s_index) % len(LIBRARIES)]
    domain = DOMAINS[(k * 3 + s_index) % len(DOMAINS)]
    variant = variants[k % len(variants)]
    if library == "openai-v2-events" and getattr(variant, "needs_retrieval_on_spans", False):
        library = "openai-v2"
    gen = Gen(random.Random(rng.getrandbits(64)), split, domain, library)
    script = variant(gen)
    name = "clean" if kind == "clean" else f"{signal}.{kind}.{variant.__name__.lstrip('_')}"
    return Session(
        scenario=name,
        domain=domain.name,
        library=library,
        model="gpt-4o-mini" if signal == "latency_outlier" else rng.choice(MODELS),
        session_id=_session_id(rng, library),
        user_id=f"user-{rng.choice(_NAMES)}-{rng.randint(10, 999)}",
        turns=script.turns,
        hard_negative_for=script.hard_negative_for,
        placement=script.placement,
    )


_NAMES = ("alice", "bob", "chen", "dana", "emre", "fatou", "gita", "hugo", "ines", "jamal", "kofi", "lena")


def _session_id(rng: random.Random, library: str) -> str:
    raw = f"{rng.getrandbits(128):032x}"
    if library == "openinference":
        return f"sess_{raw[:20]}"
    if library == "traceloop":
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"
    return f"conv-{raw[:12]}"
