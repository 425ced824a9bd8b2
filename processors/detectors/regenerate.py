"""``regenerate`` — the same prompt answered again (a regenerate button, a retry, a re-send),
whatever the app calls it.

Checked on each pair of turns (``on_pair``) ``earlier`` → ``later`` of one session, 1 or 2 user
turns apart (``max_distance``). The signal goes on ``earlier``'s answer span (the answer the
user did not accept).

**Definition.** The two final user messages are the same prompt:

- *identical* once case, whitespace and punctuation are ignored ("What's the fee?" =
  "whats the fee"), or
- *near-identical*: character similarity ≥ ``min_similarity`` (default 0.9) **and** every word
  that differs is a tiny edit — a typo of the other word ("recieve"/"receive"), or a stop/filler
  word ("please", "the") — and both name the same entities (numbers, ids, names, a name
  possibly with a typo: "Singapore"/"Signapore"; the digits of the two messages are compared
  first, so another number is another prompt before any edit distance is computed);

and the later turn starts soon after the earlier one ends: ``later.start_ns - earlier.end_ns ≤
window_s`` (default 600 s). When the app re-sent the same conversation — identical message and
``later.message_count == earlier.message_count`` with history (≥ 3 messages) — the window is
``resend_window_s`` (default 1 day) instead, since the history proves it is a retry of that turn.

**Not a regenerate** (hard negatives):

- a short conversational message without a content word ("thanks", "ok", "yes", "continue",
  "hi", "tell me more", "what?") — unless the same conversation was re-sent (equal
  ``message_count`` ≥ 3), which is a real retry;
- the same question asked again after the window;
- different questions sharing a template ("status of order ORD-1234?" / "…ORD-1235?", "price of
  the basic plan?" / "…pro plan?"): the differing word is not a typo, or the entities differ.

**Score** 1.0 for an identical re-sent conversation, 0.9 for an identical message, 0.7–0.9 for a
near-identical one (with the similarity); × 0.9 at distance 2.

**Evidence**: ``earlier_trace_id``, ``later_trace_id``, ``earlier_span_id``,
``earlier_user_message``, ``later_user_message``, ``similarity``, ``identical``, ``gap_s``,
``same_history``, ``message_count``, ``distance``.

**Config** (:class:`RegenerateConfig`): ``window_s``, ``resend_window_s``, ``min_similarity``,
``max_distance``, ``max_message_chars``.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

from pydantic import Field
from tracesieve.collector.contracts import Signal
from tracesieve.processors.sessions.model import TurnRecord

from ._text import (
    BoundedCache,
    concepts,
    digit_tokens,
    extract_entities,
    one_typo,
    similar_words,
    surface_key,
    surface_similarity,
    tokens,
    tokens_of,
)
from ._text_lexicon import words
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped

__all__ = ["RegenerateConfig", "RegenerateDetector", "factory", "same_prompt"]

_NS = 1_000_000_000


class RegenerateConfig(DetectorConfig):
    window_s: float = Field(
        600.0, gt=0, description="Largest gap (s) between the earlier turn's end and the later turn's start."
    )
    resend_window_s: float = Field(
        86_400.0,
        gt=0,
        description="Largest gap (s) when the same conversation was re-sent (identical message, equal "
        "message count with history).",
    )
    min_similarity: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Character similarity (0..1) at which two messages are near-identical.",
    )
    max_distance: int = Field(
        2, ge=1, le=2, description="Largest distance in user turns between the two messages."
    )
    max_message_chars: int = Field(400, ge=20, description="Characters of each user message compared.")


def _entities(text: str) -> set[str]:
    return {e.keys[0] for e in extract_entities(text) if e.keys}


def _same_entities(a: str, b: str) -> bool:
    """Both messages name the same entities; a name may carry a typo ("Singapore"/"Signapore"),
    a number or an id may not."""
    ea, eb = _entities(a), _entities(b)
    if ea == eb:
        return True

    def typo_of_one(key: str, others: set[str]) -> bool:
        return key.startswith("w:") and any(o.startswith("w:") and one_typo(key[2:], o[2:]) for o in others)

    left, right = ea - eb, eb - ea
    return all(typo_of_one(k, right) for k in left) and all(typo_of_one(k, left) for k in right)


def _tiny_edits(a: str, b: str) -> bool:
    """Every differing word is a typo of its counterpart or a politeness/filler word."""
    ta, tb = tokens(a), tokens(b)
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        left, right = ta[i1:i2], tb[j1:j2]
        if op == "replace" and len(left) == len(right):
            if all(
                x == y or similar_words(x, y) or (_ignorable(x) and _ignorable(y))
                for x, y in zip(left, right, strict=True)
            ):
                continue
            return False
        if not all(_ignorable(w) for w in left + right):
            return False
    return True


# Words whose addition or removal leaves the prompt the same ("… please", "can you …"); not
# negations or question words, which change what is asked.
_POLITE = words(
    "please pls plz kindly thanks thank thx you hi hello hey ok okay so just again now can could would"
    " the a an me for um hmm well oh really actually quickly briefly"
)


def _ignorable(word: str) -> bool:
    return word in _POLITE


class _Prompt:
    """What ``same_prompt`` needs of one message, computed once per message text."""

    __slots__ = ("_words", "digits", "key", "text")

    def __init__(self, text: str) -> None:
        toks = tokens_of(text)
        self.text = text
        self.key = surface_key(text, toks)
        self.digits = digit_tokens(toks)
        self._words: frozenset[str] | None = None

    @property
    def words(self) -> frozenset[str]:
        """Read only by a pair with the same numbers: most pairs never need it."""
        if self._words is None:
            self._words = frozenset(tokens_of(self.text))
        return self._words


def same_prompt(a: str, b: str, min_similarity: float = 0.9) -> tuple[bool, float, bool]:
    """``(same, similarity, identical)`` for two user messages (see the module docstring)."""
    return _same(_Prompt(a), _Prompt(b), min_similarity)


def _same(pa: _Prompt, pb: _Prompt, min_similarity: float) -> tuple[bool, float, bool]:
    if pa.key == pb.key:
        same = bool(pa.key)
        return same, 1.0 if same else 0.0, same
    if pa.digits != pb.digits:
        return False, 0.0, False  # another number or id: another prompt (checked before any edit distance)
    wa, wb = pa.words, pb.words
    if 2 * len(wa & wb) < 0.5 * (len(wa) + len(wb)):
        return False, 0.0, False  # most words differ: not worth an edit distance
    a, b = pa.text, pb.text
    # Only politeness words differ ("Can you summarize this article please"): the same prompt
    # even below min_similarity, as long as most of it is shared.
    floor = min(min_similarity, 0.75) if _only_polite_edits(a, b) else min_similarity
    similarity = surface_similarity(a, b, floor)
    if similarity < floor:
        return False, similarity, False
    same = _tiny_edits(a, b) and _same_entities(a, b)
    return same, similarity, False


def _only_polite_edits(a: str, b: str) -> bool:
    ta, tb = tokens(a), tokens(b)
    return [t for t in ta if t not in _POLITE] == [t for t in tb if t not in _POLITE]


# Words of acknowledgement, thanks and greeting: a message made only of these (and stop words)
# says nothing a model could answer differently ("cheers", "perfect, thank you", "great, bye").
_ACKNOWLEDGEMENTS = words(
    """thanks thank thx ty tnx cheers cheer ta perfect great awesome cool nice ok okay k kk alright
    right fine good excellent brilliant wonderful fantastic lovely amazing super sweet sure yes yeah
    yep yup no nope nah bye goodbye cya later hi hello hey morning evening afternoon night got it
    understood noted appreciate appreciated much lot lots so very really indeed done agreed sounds
    works worked helpful that this was is you your again all well ah oh wow haha lol"""
)


def _conversational(text: str) -> bool:
    """A short chat message without a content word ("thanks", "ok", "continue", "tell me more",
    also "what?", "are you sure?", "cheers", "perfect, thank you"): repeating it is
    conversation, not a retry."""
    toks = tokens(text)
    if len(toks) > 6:
        return False
    return not concepts(text) or all(t in _ACKNOWLEDGEMENTS for t in toks)


class RegenerateDetector(Detector):
    name = "regenerate"
    category = "unhelpful_answer"

    def __init__(self, config: RegenerateConfig) -> None:
        self._resolve = scoped(config)
        self._prompts: BoundedCache[str, _Prompt] = BoundedCache()

    def _prompt(self, text: str) -> _Prompt:
        return self._prompts.get(text) or self._prompts.put(text, _Prompt(text))

    def on_pair(self, earlier: TurnRecord, later: TurnRecord, distance: int) -> Sequence[Signal]:
        if not earlier.answer_span_id or not earlier.user_message.strip() or not later.user_message.strip():
            return ()
        config = self._resolve(earlier.service_name, earlier.model, "")
        if distance < 1 or distance > config.max_distance:
            return ()
        u1 = earlier.user_message[: config.max_message_chars]
        u2 = later.user_message[: config.max_message_chars]
        same, similarity, identical = _same(self._prompt(u1), self._prompt(u2), config.min_similarity)
        if not same:
            return ()
        same_history = (
            identical and earlier.message_count >= 3 and later.message_count == earlier.message_count
        )
        gap_ns = later.start_ns - earlier.end_ns
        window_s = config.resend_window_s if same_history else config.window_s
        if gap_ns > window_s * _NS:
            return ()
        if not same_history and _conversational(u2):
            return ()
        if same_history:
            score = 1.0
        elif identical:
            score = 0.9
        else:
            score = 0.7 + 2.0 * (similarity - 0.9) if similarity >= 0.9 else 0.7
        if distance == 2:
            score *= 0.9
        evidence: dict[str, Any] = {
            "earlier_trace_id": earlier.trace_id,
            "later_trace_id": later.trace_id,
            "earlier_span_id": earlier.answer_span_id,
            "earlier_user_message": earlier.user_message[:500],
            "later_user_message": later.user_message[:500],
            "similarity": round(similarity, 3),
            "identical": identical,
            "gap_s": round(gap_ns / _NS, 3),
            "same_history": same_history,
            "message_count": later.message_count,
            "distance": distance,
        }
        return (make_signal(self, earlier.ref(), score, evidence),)


factory = DetectorFactory(name="regenerate", config_model=RegenerateConfig, create=RegenerateDetector)
