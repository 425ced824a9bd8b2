"""``rephrase`` — the user asks the same thing again, in other words, within the next two user turns.

Checked on each pair of turns (``on_pair``) ``earlier`` → ``later`` that are 1 or 2 user turns
apart (``max_distance``). The signal goes on ``earlier``'s answer span (the answer that failed).

**Definition.** Both user messages are reduced to *concepts*: content words (stop and filler
words such as "I want to know", "can you tell me", "please" dropped), lightly stemmed, mapped
through synonym groups and phrases ("cancel"/"stop"/"terminate", "subscription"/"plan"/
"membership", "money back"/"refund", "how long"/"how many days"/"period"…), with a few words of
two senses matching either ("payments going to Brazil" are transfers, "a payment fee" a price;
a parcel "sent" is shipped; "how long am I covered" asks about the warranty; a concept both
messages hold matches only itself), and matched fuzzily (word variants and typos: "subscribe"/
"subscription", "recieve"/"receive"); a problem report ("the printer isn't printing") also
counts as the concept ``problem``. The *similarity* is the F1 of the two coverages: the share of
the earlier message's concepts found in the later one, and the reverse; it is 0 when either
coverage is under 0.2, or when a single concept is shared by two messages of four concepts or
more. How similar the later message must be depends on how the
earlier turn went:

- ``min_similarity_with_cue`` (0.25; never above ``min_similarity``) when there is a *cue*: the
  earlier answer was weak (a refusal or "I don't know" — see ``refusal`` —, a request to
  rephrase, shorter than ``short_answer_chars`` without a number or a name, or the turn
  failed), or the later message says it re-asks ("I mean", "in other words", "let me rephrase",
  "again", "no, I asked", "that's not what I asked", "you didn't answer");
- ``min_similarity_after_answer`` (0.75) when the earlier answer *answered*: it is the kind of
  reply the question calls for (instructions for a how-to, a yes/no for a yes/no question, a
  number or a time for "how much / how long / when", a reason or a status for a why, something
  specific otherwise) and either covers half the question's concepts or is a short direct reply
  (under 60 characters) — a close follow-up to a real answer is usually a new question;
- ``min_similarity`` (0.25) otherwise: the answer missed the question (off topic, vague).

**Not a rephrase** (hard negatives):

- *near-identical* messages (surface similarity ≥ ``max_surface_similarity``, default 0.9, the
  ``regenerate`` threshold): that is ``regenerate``'s signal, never both;
- a follow-up on a *different entity*: each message names an entity (number, identifier, date,
  proper name, place) the other lacks ("weather in Paris" → "weather in Rome", "order
  ORD-1 status" → "order ORD-2 status");
- the same question with a *different slot*: the two messages align word for word except for
  one run of at most three words on each side whose content words are not synonyms ("price of
  the Pro plan?" → "price of the Basic plan?", "how do I cancel my order?" → "how do I track my
  order?") — unless the later message says it re-asks ("in other words, …");
- a *self-correction*: the user changes their own question ("Sorry, I meant business class,
  not premium economy");
- an answer to the assistant's *clarifying question*: the assistant message just before the
  later user message (``later.previous_assistant``, else ``earlier.answer_text`` at distance 1)
  asks the user something ("Which account do you mean?"; generic closers such as "Anything
  else?" and requests to rephrase do not count), unless the later message says explicitly that
  it re-asks ("that's not what I asked", "let me rephrase");
- a follow-up that shares only the subject ("weather in Tokyo?" → "what should I pack for
  Tokyo?") or only a generic concept ("wifi not working" → "it's still not working"), unless
  the very next message says it re-asks ("My question is: …");
- an *elliptical* follow-up: a short fragment ("And for the payments API?", "What about
  Rome?", "Same question for my savings account") that brings in something the earlier
  message did not name, unless it says it re-asks;
- after a real answer, a follow-up that mentions the earlier question only as a condition ("Will
  I get a refund if I cancel my subscription?" after "How do I cancel my subscription?" was
  answered);
- a new topic (low similarity);
- *another question about the same thing*, unless the later message says it re-asks: the two
  questions ask for different things (their *focus*, from the question word that opens them or
  one of their clauses: a reason "why", a time "when / how long / until when / what's the
  deadline", or an amount of time off "how much leave / how many vacation days", an amount
  "how much / how many / how big / what's the fee", a place, a person, a method "how do I / how
  to"; yes/no and what/which questions, and "how" before anything else, are open and match
  any), or they share a single concept while each asks two or more things of its own about it
  ("…which customers bought the blender?" → "how much time to send the blender back?"); this
  holds after a weak answer too;
- a *self-correction* also when the later message negates words of the user's own question
  that the answer did not use ("Correction on my side: adoptive parents, not secondary
  caregivers");
- a later turn that does not continue ``earlier``'s conversation (a regenerate or an edit of
  an earlier turn): ``earlier`` had a history (≥ 3 messages) and ``later`` a shorter one, or
  one as long that does not end with ``earlier``'s answer;
- messages that each hold a number or id the other lacks ("order 1234" / "order 5678").

**Score** ``0.5 + 0.4 × similarity + 0.1 × cue``, × 0.9 at distance 2; in 0.5..1.

**Evidence**: ``earlier_trace_id``, ``later_trace_id``, ``earlier_span_id``,
``earlier_user_message``, ``later_user_message``, ``similarity``, ``distance``,
``shared_concepts``, ``cues`` (``weak_answer``, ``marker``).

**Config** (:class:`RephraseConfig`): ``min_similarity``, ``min_similarity_after_answer``,
``min_similarity_with_cue``, ``max_surface_similarity``, ``max_distance``,
``short_answer_chars``, ``max_message_chars``.
No model is downloaded or loaded: the check is deterministic. Cost: the features of a message
(digits, concepts, a surface key, focus and folded text, each when a pair first needs it) are
computed once per message text and kept in a bounded per-detector cache (10,000 messages); a
pair is then a few set operations, cheapest checks first (a number or id that differs decides
before the concepts are computed); the edit distance runs last, only for a likely rephrase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from pydantic import Field
from tracesieve.collector.contracts import Signal
from tracesieve.processors.sessions.model import TurnRecord

from ._text import (
    CONCEPT_NAMES,
    CONCEPT_SENSES,
    BoundedCache,
    Support,
    concepts,
    concepts_of,
    digit_tokens,
    extract_entities,
    fold,
    has_digit,
    sense_match,
    sense_providers,
    similar_words,
    surface_key,
    surface_similarity,
    tokens,
    tokens_of,
)
from ._text_answers import (
    answered,
    asks_user,
    corrects_own_question,
    focus,
    focus_conflict,
    matched,
    resent_elsewhere,
    weak_answer,
)
from ._text_lexicon import GENERIC_CONCEPTS, PLACES, words
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped

__all__ = ["RephraseConfig", "RephraseDetector", "factory", "rephrase_similarity"]


class RephraseConfig(DetectorConfig):
    min_similarity: float = Field(
        0.25, ge=0.0, le=1.0, description="Concept similarity (0..1) at which a later message re-asks."
    )
    min_similarity_after_answer: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Similarity needed when the earlier answer was on topic (covered half the question's "
        "concepts) and not weak: a close follow-up to a real answer is usually a new question.",
    )
    min_similarity_with_cue: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Similarity enough when the earlier answer was weak or the later message says it "
        "re-asks.",
    )
    max_surface_similarity: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="At or above this character similarity the messages are near-identical: left to "
        "`regenerate` (keep it equal to regenerate's `min_similarity`).",
    )
    max_distance: int = Field(
        2, ge=1, le=2, description="Largest distance in user turns between the two messages."
    )
    short_answer_chars: int = Field(
        20,
        ge=0,
        description="An earlier answer shorter than this (characters), without a digit or a name, counts "
        "as weak.",
    )
    max_message_chars: int = Field(
        600, ge=50, description="Characters of each user message compared (the rest is ignored)."
    )


_STRONG_MARKER = re.compile(
    r"\b(?:let me (?:rephrase|put it|try again|ask (?:again|differently|another way))|in other words|"
    r"to rephrase|rephrasing|put (?:it )?(?:another way|differently)|that(?:'s| is|s) not what i "
    r"(?:asked|meant|was asking|wanted)|not what i asked|you (?:didn't|did not|haven't|have not) answer|"
    r"(?:didn't|did not|doesn't|does not) answer my question|no,? i (?:asked|was asking|meant)|"
    r"what i(?:'m| am| was) (?:asking|trying to ask)|my question (?:is|was)|i'll ask again|asking again)\b"
)
_MARKER = re.compile(
    r"\b(?:i mean|i meant|again|once more|one more time|i asked|i'm asking|i am asking|i said|"
    r"to be clear|to clarify|still|simply put|basically)\b"
)
# (a condition, "if I don't configure it", is not a problem report)
_PROBLEM = re.compile(
    r"(?<!\bif i )(?<!\bif we )(?<!\bif you )"
    r"\b(?:won't|can't|cannot|couldn't|doesn't|don't|isn't|aren't|wasn't|didn't|unable to|fails? to|keeps?)"
    r"\s+(?!know|have|want|need|understand|see|like|think|mean|care|remember|get it)\w+"
)
# The user corrects their own question ("Sorry, I meant business class, not premium economy"): a
# new question about another entity, not the same one again.
_SELF_CORRECTION = re.compile(r"^(?:sorry|oops|whoops|my (?:bad|mistake)|typo)\b|\bi meant\b[^?]*\bnot\b")
# Words without which _PROBLEM cannot match: the regex runs only on messages holding one.
_PROBLEM_HINT = words(
    "won't can't cannot couldn't doesn't don't isn't aren't wasn't didn't unable fail fails keep keeps"
)
# A fragment that borrows the earlier question and changes what it is about ("And for the payments
# API?", "What about Rome?", "Same for my savings account?").
_ELLIPTICAL = re.compile(
    r"^(?:(?:and|but|ok|okay|so|then),? )?(?:what|how) about\b|"
    r"^(?:and|also|ditto|same),? (?:for|in|on|at|with|to|from|about|if|the)\b|"
    r"^(?:and |also )?(?:the )?same (?:question |thing |goes )?(?:for|with|about|in|on)\b"
)
_ELLIPTICAL_MAX_TOKENS = 8
_PLACE_CODES = re.compile(r"\b(?:US|USA|UK|EU|UAE|NYC|LA|SF|DC)\b")
# A condition or circumstance in the later message ("…a refund if I cancel my subscription?"):
# what the message asks is what remains outside it.
_SUBORDINATE = re.compile(
    r"(?<=\w)[ ,]+(?:if|after|before|once|because|since|unless|in case|when i)\b[^,.;?!]*"
)
# Under this share of either message's concepts found in the other, they ask different things.
MIN_COVERAGE = 0.2


@lru_cache(maxsize=4096)
def _concepts(text: str) -> tuple[str, ...]:
    """:func:`concepts`, plus ``problem`` for a problem report ("the printer isn't printing")."""
    found = concepts(text)
    if "problem" not in found and _PROBLEM.search(fold(text)):
        return (*found, "problem")
    return found


@lru_cache(maxsize=4096)
def _entities(text: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Numbers, ids, dates, names and places of a user message, all numbers included."""
    found = [(e.kind, e.text, e.keys) for e in extract_entities(text, claims=False)]
    found += [("name", t, ("w:" + t,)) for t in tokens(text) if t in PLACES]
    found += [("name", code, ("w:" + code.lower(),)) for code in _PLACE_CODES.findall(text)]
    return tuple(found)


def _entity_words(text: str) -> set[str]:
    return {k[2:] for _, _, keys in _entities(text) for k in keys if k.startswith(("w:", "n:"))}


def _entity_conflict(u1: str, u2: str) -> bool:
    """Each message names an entity the other does not mention ("Paris" vs "Rome")."""
    e1, e2 = _entities(u1), _entities(u2)
    if not e1 or not e2:
        return False

    def only(mine: tuple[tuple[str, str, tuple[str, ...]], ...], other: str) -> bool:
        support = Support((other,))
        other_words = [t for t in tokens(other) if len(t) >= 4]
        for kind, text, keys in mine:
            if kind == "name":
                # a name counts as mentioned in a variant spelling too ("PostgreSQL"/"Postgres")
                if not all(
                    support.has_key(k) or any(similar_words(k[2:], w) for w in other_words) for k in keys
                ):
                    return True
            elif not any(support.has_key(k, text) for k in keys):
                return True
        return False

    return only(e1, u2) and only(e2, u1)


def _slot_substitution(u1: str, u2: str, c1: Sequence[str], c2: Sequence[str]) -> bool:
    """The two messages are one template with one slot filled differently: they align word for
    word except one run of at most three words on each side holding content that is not a
    synonym of the other side's ("…for shoes?" / "…for electronics?", "cancel" / "track")."""
    t1, t2 = tokens(u1), tokens(u2)
    if not t1 or not t2:
        return False
    equal = 0
    slots: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, t1, t2, autojunk=False).get_opcodes():
        if op == "equal":
            equal += i2 - i1
        elif concepts(" ".join(t1[i1:i2])) or concepts(" ".join(t2[j1:j2])):
            slots.append((t1[i1:i2], t2[j1:j2]))  # differing runs of stop words do not count
    if len(slots) != 1 or 2 * equal / (len(t1) + len(t2)) < 0.5:
        return False
    left, right = slots[0]
    if not left or not right or len(left) > 3 or len(right) > 3:
        return False
    # (matched as parts of their messages: a concept both hold matches only itself)
    found1, found2 = set(matched(c1, c2)), set(matched(c2, c1))
    d1 = [c for c in concepts(" ".join(left)) if c not in found1]
    d2 = [c for c in concepts(" ".join(right)) if c not in found2]
    return bool(d1) and bool(d2)


def _asks_something_else(u2: str, c1: Sequence[str]) -> bool:
    """The later message's main clause asks about other things than the earlier message, which
    it mentions only as a condition ("Will I get a refund if I cancel my subscription?")."""
    main = _SUBORDINATE.sub(" ", u2)
    if main == u2:
        return False
    main_concepts = concepts(main)
    return bool(main_concepts) and not matched(main_concepts, c1)


def _only_subject_shared(
    u1: str, u2: str, c1: Sequence[str], c2: Sequence[str], shared: Sequence[str]
) -> bool:
    """Nothing but the subject ("weather in Tokyo" → "what to pack for Tokyo") or a generic
    concept ("wifi not working" → "it's still not working") is shared."""
    entity_words = _entity_words(u1) | _entity_words(u2)
    if any(c not in entity_words and c not in GENERIC_CONCEPTS for c in shared):
        return False
    adds_something = len(matched(c2, c1)) < len(c2)
    return adds_something or not any(c in entity_words for c in shared)


def rephrase_similarity(u1: str, u2: str) -> tuple[float, list[str]]:
    """Concept similarity (F1 of the two coverages, 0..1) and the shared concepts. It is 0 when
    under ``MIN_COVERAGE`` of a message is shared, or a single concept when both messages have
    four or more: one shared word among many is a new question on a related subject ("…my
    sleeping pills?" → "…pick up my hay fever medication refill?")."""
    c1, c2 = _concepts(u1), _concepts(u2)
    if not c1 or not c2:
        return 0.0, []
    m1, m2 = matched(c1, c2), matched(c2, c1)
    cov1, cov2 = len(m1) / len(c1), len(m2) / len(c2)
    if min(cov1, cov2) < MIN_COVERAGE or (len(m1) < 2 and min(len(c1), len(c2)) >= 4):
        return 0.0, []
    return 2 * cov1 * cov2 / (cov1 + cov2), m1


_TWO_SENSES = frozenset(CONCEPT_SENSES)
_NO_SENSES: dict[str, tuple[str, ...]] = {}
_NO_DIGITS: frozenset[str] = frozenset()


class _Message:
    """The per-message features the pair check reads, computed once per message text (a message
    takes part in up to four pairs), each only when a pair gets that far: the numbers first
    (:func:`_number_conflict`, the cheapest decisive test), the concepts (:meth:`analyse`) for
    the similarity, the rest for a pair that passed it."""

    __slots__ = (
        "_digits",
        "_focus",
        "_folded",
        "_key",
        "analysed",
        "concept_set",
        "concepts",
        "loose",
        "senses",
        "text",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.analysed = False
        self._digits: frozenset[str] | None = None
        self._key: str | None = None
        self._folded: str | None = None
        self._focus: str | None = None

    def analyse(self) -> None:
        """Compute the concept features (``concepts``, ``concept_set``, ``senses``, ``loose``)."""
        text = self.text
        toks = tokens_of(text)
        found = concepts_of(toks)
        if "problem" not in found and _PROBLEM_HINT.intersection(toks) and _PROBLEM.search(fold(text)):
            found = (*found, "problem")
        self.concepts = found
        self.concept_set = frozenset(found)
        # two-sense concepts by sense: seldom any, so the set test (in C) comes first
        self.senses = _NO_SENSES if _TWO_SENSES.isdisjoint(found) else sense_providers(found)
        # word concepts (not synonym names) by first letter: variants and typos keep it
        loose: dict[str, list[str]] = {}
        for c in found:
            if c not in CONCEPT_NAMES:
                loose.setdefault(c[0], []).append(c)
        self.loose = loose
        self.analysed = True

    @property
    def digits(self) -> frozenset[str]:
        if self._digits is None:
            text = self.text
            self._digits = digit_tokens(tokens_of(text)) if has_digit(text) else _NO_DIGITS
        return self._digits

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = surface_key(self.text, tokens_of(self.text))
        return self._key

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = fold(self.text)
        return self._folded

    @property
    def focus(self) -> str:
        if self._focus is None:
            self._focus = focus(self.text)
        return self._focus

    def matched_in(self, other: _Message) -> list[str]:
        """:func:`matched` (``self``'s concepts found in ``other``, word variants included)."""
        their_set, their_loose, their_senses = other.concept_set, other.loose, other.senses
        if self.concept_set <= their_set:
            return list(self.concepts)  # all found as they are (a repeat, a near-repeat): no loop
        # Words of two senses are seldom in either message: only then is a sense looked up.
        senses = bool(their_senses or self.senses)
        out: list[str] = []
        for c in self.concepts:
            if c in their_set or (
                senses
                and (c in CONCEPT_SENSES or c in their_senses)
                and sense_match(c, self.concept_set, their_set, their_senses)
            ):
                out.append(c)
            elif c not in CONCEPT_NAMES:
                candidates = their_loose.get(c[0])
                if candidates and any(similar_words(c, t) for t in candidates):
                    out.append(c)
        return out


def _similarity(m1: _Message, m2: _Message) -> tuple[float, list[str]]:
    """:func:`rephrase_similarity` on precomputed features."""
    if not m1.analysed:
        m1.analyse()
    if not m2.analysed:
        m2.analyse()
    c1, c2 = m1.concepts, m2.concepts
    if not c1 or not c2:
        return 0.0, []
    shared = m1.matched_in(m2)
    cov1 = len(shared) / len(c1)
    if cov1 < MIN_COVERAGE or (len(shared) < 2 and min(len(c1), len(c2)) >= 4):
        return 0.0, []  # decided without the reverse coverage
    cov2 = len(m2.matched_in(m1)) / len(c2)
    if cov2 < MIN_COVERAGE:
        return 0.0, []
    return 2 * cov1 * cov2 / (cov1 + cov2), shared


def _number_conflict(m1: _Message, m2: _Message) -> bool:
    """Each message holds a number or id the other lacks ("order 1234" / "order 5678"): the cheap
    first look at :func:`_entity_conflict`."""
    d1, d2 = m1.digits, m2.digits
    return bool(d1) and bool(d2) and not d1 <= d2 and not d2 <= d1


def _elliptical_other(m1: _Message, m2: _Message) -> bool:
    """The later message is a short fragment ("And for X?", "What about X?") that brings in
    something the earlier one did not name: a follow-up on another entity, not a re-ask (a
    fragment that only points back, "What about my refund?", may still be one)."""
    if len(tokens_of(m2.text)) > _ELLIPTICAL_MAX_TOKENS or not _ELLIPTICAL.search(m2.folded):
        return False
    return len(m2.matched_in(m1)) < len(m2.concepts)


def _only_an_object_shared(m1: _Message, m2: _Message, shared: Sequence[str]) -> bool:
    """One concept in common, and each message asks two or more things of its own about it
    ("…which customers bought the same blender?" → "how much time to send the blender back?"):
    the same object, not the same question."""
    if len(shared) != 1:
        return False
    return len(m1.concepts) - 1 >= 2 and len(m2.concepts) - 1 >= 2


class RephraseDetector(Detector):
    name = "rephrase"
    category = "unhelpful_answer"

    def __init__(self, config: RephraseConfig) -> None:
        self._resolve = scoped(config)
        self._messages: BoundedCache[str, _Message] = BoundedCache()

    def _message(self, text: str) -> _Message:
        return self._messages.get(text) or self._messages.put(text, _Message(text))

    def on_pair(self, earlier: TurnRecord, later: TurnRecord, distance: int) -> Sequence[Signal]:
        if not earlier.answer_span_id or not earlier.user_message or not later.user_message:
            return ()
        config = self._resolve(earlier.service_name, earlier.model, "")
        if distance > config.max_distance or distance < 1:
            return ()
        # Cheapest first. Another order or id ("order 1234" / "order 5678") is decided on the
        # numbers alone, before the concepts are even computed; most other pairs of a session
        # ask unrelated things and stop at the similarity.
        m1 = self._message(earlier.user_message[: config.max_message_chars])
        m2 = self._message(later.user_message[: config.max_message_chars])
        if _number_conflict(m1, m2):
            return ()
        similarity, shared = _similarity(m1, m2)
        if similarity < min(config.min_similarity, config.min_similarity_with_cue):
            return ()
        if m1.key == m2.key or resent_elsewhere(earlier, later):
            return ()  # identical: regenerate's; not a reply to ``earlier``
        u1, u2, folded2 = m1.text, m2.text, m2.folded
        strong = _STRONG_MARKER.search(folded2) is not None
        marker = strong or _MARKER.search(folded2) is not None
        if not strong and (focus_conflict(m1.focus, m2.focus) or _only_an_object_shared(m1, m2, shared)):
            return ()  # another question about the same thing ("why…?" / "until when…?")
        if not strong and _elliptical_other(m1, m2):
            return ()  # "And for the payments API?": the same question about something else
        if _SELF_CORRECTION.search(folded2) or corrects_own_question(u2, u1, earlier.answer_text):
            return ()
        asked = later.previous_assistant or (earlier.answer_text if distance == 1 else "")
        if not strong and any(
            text and asks_user(text) for text in (asked, earlier.answer_text, earlier.previous_assistant)
        ):
            # The later message answers a clarifying question; or the earlier answer asked one
            # (what follows is the clarification, not a re-ask); or the earlier message itself
            # answered one ("About a refill."), so it is not a question to re-ask.
            return ()
        weak = weak_answer(earlier.answer_text, earlier.failed, config.short_answer_chars)
        c1, c2 = m1.concepts, m2.concepts
        was_answered = not (weak or marker) and answered(u1, earlier.answer_text, c1, c2)
        if weak or marker:
            threshold = min(config.min_similarity_with_cue, config.min_similarity)
        elif was_answered:
            threshold = config.min_similarity_after_answer
        else:
            threshold = config.min_similarity
        if similarity < threshold:
            return ()
        # The user who says right away that they re-ask ("My question is: …") is re-asking, even
        # in words that share only the subject with the question they re-ask.
        if (
            (not (strong and distance == 1) and _only_subject_shared(u1, u2, c1, c2, shared))
            or _entity_conflict(u1, u2)
            or (not strong and _slot_substitution(u1, u2, c1, c2))
            or (was_answered and _asks_something_else(u2, c1))
        ):
            return ()
        # Last, and only for a likely rephrase: an edit distance, to leave near-identical
        # messages (a retyped prompt) to regenerate.
        if surface_similarity(u1, u2, config.max_surface_similarity) >= config.max_surface_similarity:
            return ()
        score = (0.5 + 0.4 * similarity + (0.1 if weak or marker else 0.0)) * (0.9 if distance == 2 else 1.0)
        cues = [name for name, on in (("weak_answer", weak), ("marker", marker)) if on]
        evidence: dict[str, Any] = {
            "earlier_trace_id": earlier.trace_id,
            "later_trace_id": later.trace_id,
            "earlier_span_id": earlier.answer_span_id,
            "earlier_user_message": earlier.user_message[:500],
            "later_user_message": later.user_message[:500],
            "similarity": round(similarity, 3),
            "distance": distance,
            "shared_concepts": shared[:20],
            "cues": cues,
        }
        return (make_signal(self, earlier.ref(), round(score, 3), evidence),)


factory = DetectorFactory(name="rephrase", config_model=RephraseConfig, create=RephraseDetector)
