"""Cheap text utilities shared by the language detectors (rephrase, regenerate, user_correction,
refusal, ungrounded_answer). Pure functions over ``str``; stems are memoised and so are the
per-message results (:func:`surface`, :func:`tokens`, :func:`concepts`, bounded LRU caches): a user
message is compared in up to four pairs by three detectors.

- :func:`fold` / :func:`surface`: case, quote and whitespace folding; ``surface`` also drops
  punctuation, so "What's the fee?" and "whats the fee" compare equal.
- :func:`surface_similarity`: 0..1 edit similarity of two surface forms (difflib ratio).
- :func:`tokens`, :func:`stem`, :func:`concepts`: content words, lightly stemmed and mapped
  through the synonym groups of :mod:`._text_lexicon` ("stop paying for my plan" →
  ``cancel pay subscription``).
- :func:`sense_providers`, :func:`sense_match`: a two-sense concept (``payment``: ``price`` or
  ``transfer``) matches a concept of either sense.
- :func:`similar_words`: two stems that are morphological variants or typos of each other;
  :func:`one_typo`: two words one typo apart.
- :func:`extract_entities` (:mod:`._text_entities`) and :class:`Support` (:mod:`._text_support`)
  are re-exported here.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Collection, Iterable
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import chain, compress, filterfalse
from operator import itemgetter
from typing import TypeVar

from ._text_entities import Entity, extract_entities
from ._text_lexicon import FILLERS, STOPWORDS, SYNONYM_GROUPS, SYNONYM_PHRASES, SYNONYM_SENSES, words
from ._text_support import Support

__all__ = [
    "CONCEPT_NAMES",
    "CONCEPT_SENSES",
    "BoundedCache",
    "Entity",
    "Support",
    "concepts",
    "concepts_of",
    "digit_tokens",
    "extract_entities",
    "fold",
    "has_digit",
    "is_question",
    "one_typo",
    "sense_match",
    "sense_providers",
    "sentences",
    "similar_words",
    "stem",
    "surface",
    "surface_key",
    "surface_similarity",
    "tokens",
    "tokens_of",
]

_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
        "\u2014": "-", "\u00a0": " ", "\u2026": "...",
    }
)  # fmt: skip
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_QUESTION_START = words(
    "what how why when where which who whom whose can could would will is are do does did should may"
    " shall am was were has have"
)


def _ascii(text: str) -> str:
    # str.translate is slow; most text has nothing to translate
    return text if text.isascii() else text.translate(_FOLD)


def fold(text: str) -> str:
    """Lower case, typographic quotes and dashes as ASCII, whitespace runs as one space."""
    return _SPACES.sub(" ", _ascii(text).lower()).strip()


@lru_cache(maxsize=4096)
def surface(text: str) -> str:
    """:func:`fold` without punctuation (apostrophes dropped, so "what's" = "whats")."""
    folded = _ascii(text).lower().replace("'", "")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", folded)).strip()


def surface_similarity(a: str, b: str, at_least: float = 0.0, max_chars: int = 400) -> float:
    """Edit similarity (difflib ratio, 0..1) of the surface forms of ``a`` and ``b``. Below
    ``at_least`` the value is only an upper bound (the exact ratio is not computed: it is the
    expensive part, and callers only compare it with a threshold)."""
    sa, sb = surface(a)[:max_chars], surface(b)[:max_chars]
    if sa == sb:
        return 1.0
    if not sa or not sb:
        return 0.0
    bound = 2.0 * min(len(sa), len(sb)) / (len(sa) + len(sb))
    if bound < at_least:
        return bound
    matcher = SequenceMatcher(None, sa, sb, autojunk=False)
    quick = matcher.quick_ratio()
    return quick if quick < at_least else matcher.ratio()


class _WordTokens(dict[str, tuple[str, ...]]):
    """Raw whitespace-separated word (lower case, ASCII-folded) -> its tokens. Splitting on
    whitespace first gives the same tokens as one findall over the text (a token never spans a
    space) and lets common words be looked up, in C (``map``), instead of scanned. Bounded."""

    def __missing__(self, raw: str) -> tuple[str, ...]:
        word = raw.strip(_EDGE_PUNCTUATION)
        if word.isalnum() and word.isascii():
            if not word.isalpha():
                return (word,)  # a number or an id: seldom seen again, not worth keeping
            out: tuple[str, ...] = (word,)
        else:
            out = tuple(t[:-2] if t.endswith("'s") and t not in STOPWORDS else t for t in _WORD.findall(raw))
        if len(self) > 100_000:
            self.clear()
        self[raw] = out
        return out


_EDGE_PUNCTUATION = '?.,!;:()[]"*'
_WORD_TOKENS = _WordTokens()


def tokens_of(text: str) -> tuple[str, ...]:
    """:func:`tokens`, memoised per message in one cache that the detectors share (each of the
    pair detectors tokenises the same user messages)."""
    hit = _TOKENS_OF.get(text)
    if hit is None:
        hit = _TOKENS_OF.put(
            text, tuple(chain.from_iterable(map(_WORD_TOKENS.__getitem__, _ascii(text).lower().split())))
        )
    return hit


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[str, ...]:
    """Word tokens of the folded text; a possessive ``'s`` is dropped, other contractions kept."""
    return tokens_of(text)


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


def is_question(text: str) -> bool:
    """Ends with ``?`` or opens with a question word ("how do I…", "can you…")."""
    stripped = text.strip()
    if stripped.endswith("?"):
        return True
    first = _WORD.search(stripped.lower())
    return first is not None and first.group() in _QUESTION_START


_STEM_CACHE: dict[str, str] = {}


def stem(word: str) -> str:
    """A light suffix stripper (plural, -ing, -ed, -ly, final e): enough for matching words of
    one question against another, not linguistics. Memoised."""
    hit = _STEM_CACHE.get(word)
    if hit is not None:
        return hit
    w = word
    if len(w) > 3 and w.isalpha():
        if w.endswith(("ies", "ied")) and len(w) > 4:
            w = w[:-3] + "y"
        elif w.endswith("sses"):
            w = w[:-2]
        elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        for suffix in ("ing", "ed"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)]
                if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                    w = w[:-1]
                break
        if w.endswith("ly") and len(w) > 5:
            w = w[:-2]
        if w.endswith("e") and len(w) > 4:
            w = w[:-1]
    if len(_STEM_CACHE) > 50_000:  # bounded: user text has an open vocabulary
        _STEM_CACHE.clear()
    _STEM_CACHE[word] = w
    return w


def _build_synonyms() -> tuple[dict[str, str], dict[str, str], dict[str, frozenset[str]]]:
    by_stem: dict[str, str] = {}
    for line in SYNONYM_GROUPS:
        words = line.split()
        for w in words:
            by_stem.setdefault(stem(w), words[0])
    senses: dict[str, frozenset[str]] = {}
    for line, meanings in SYNONYM_SENSES:
        words = line.split()
        for w in words:
            by_stem.setdefault(stem(w), words[0])
        senses[words[0]] = frozenset(meanings)
    phrases = {" ".join(stem(w) for w in phrase.split()): c for phrase, c in SYNONYM_PHRASES.items()}
    return by_stem, phrases, senses


SYNONYMS, PHRASES, CONCEPT_SENSES = _build_synonyms()
CONCEPT_NAMES = frozenset(SYNONYMS.values()) | frozenset(PHRASES.values())
"""Names of the synonym and phrase concepts: matched exactly, never as word variants."""


def sense_providers(found: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each sense of the two-sense concepts among ``found`` (:data:`CONCEPT_SENSES`), with the
    concepts that have it; empty for most messages."""
    providers: dict[str, tuple[str, ...]] = {}
    for c in found:
        for sense in CONCEPT_SENSES.get(c, ()):
            providers[sense] = (*providers.get(sense, ()), c)
    return providers


def sense_match(
    c: str, mine: Collection[str], theirs: Collection[str], providers: dict[str, tuple[str, ...]]
) -> bool:
    """``c`` (one of ``mine``, not one of ``theirs``) matches one of ``theirs`` through a sense:
    it has two senses and ``theirs`` holds one, or a two-sense concept of ``theirs``
    (``providers``: :func:`sense_providers` of ``theirs``) has ``c`` as a sense. A concept that
    both messages hold matches only itself: in "…payments API let me send…" / "…reporting API let
    me send…", ``payment`` does not match ``send`` (a transfer too), which ``send`` matches."""
    senses = CONCEPT_SENSES.get(c)
    if senses is not None:
        if senses.isdisjoint(theirs) and senses.isdisjoint(providers):
            return False  # the common case, decided in C
        for sense in senses:
            if sense in theirs and sense not in mine:
                return True
            if any(p not in mine for p in providers.get(sense, ())):
                return True
        return False
    return any(p not in mine for p in providers.get(c, ()))


_IGNORED_STEMS = frozenset(stem(w) for w in FILLERS) - frozenset(SYNONYMS)


class _TokenConcepts(dict[str, tuple[str, str, bool]]):
    """Token -> (stem, concept or "" when never content on its own, may open a phrase). Bounded."""

    def __missing__(self, t: str) -> tuple[str, str, bool]:
        if t.isdigit():
            return (t, t, False)  # a number is its own concept; not kept (open-ended)
        s = stem(t)
        ignored = t in STOPWORDS or t in FILLERS or (len(t) < 2 and not t.isdigit()) or s in _IGNORED_STEMS
        hit = (s, "" if ignored else SYNONYMS.get(s, s), s in _PHRASE_FIRST)
        if len(self) > 100_000:
            self.clear()
        self[t] = hit
        return hit


_PHRASE_FIRST = frozenset(k.split()[0] for k in PHRASES)
_TOKEN_CONCEPT = _TokenConcepts()
_CONCEPT = itemgetter(1)
_OPENS = itemgetter(2)


def concepts_of(toks: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`concepts` of already tokenised text."""
    infos = list(map(_TOKEN_CONCEPT.__getitem__, toks))
    n = len(infos)
    found: list[str] = list(map(_CONCEPT, infos))
    # Only the few tokens that may open a phrase are looked at one by one (in order: a phrase
    # consumes the words after it).
    skip_to = 0
    for i in compress(range(n), map(_OPENS, infos)):
        if i < skip_to:
            continue
        s = infos[i][0]
        phrase: str | None = None
        if i + 2 < n:
            phrase = PHRASES.get(s + " " + infos[i + 1][0] + " " + infos[i + 2][0])
            if phrase is not None:
                found[i + 1] = found[i + 2] = ""
                skip_to = i + 3
        if phrase is None and i + 1 < n:
            phrase = PHRASES.get(s + " " + infos[i + 1][0])
            if phrase is not None:
                found[i + 1] = ""
                skip_to = i + 2
        if phrase is not None:
            found[i] = phrase
    return tuple(dict.fromkeys(filter(None, found)))


@lru_cache(maxsize=4096)
def concepts(text: str) -> tuple[str, ...]:
    """The content of ``text`` as concept names, in order, without repeats: phrases first
    (``money back`` → ``refund``, ``how long`` → ``duration``, matched on stems), stop and filler
    words dropped, stems mapped through the synonym groups (an unmapped stem is its own concept)."""
    return concepts_of(tokens(text))


def similar_words(a: str, b: str) -> bool:
    """``a`` and ``b`` (stems) are variants of one word: a long shared prefix
    ("subscrib"/"subscript") or a one-letter typo ("recieve"/"receive", "pasword"/"password")."""
    if a == b:
        return True
    if a[:1] != b[:1]:
        return False  # typos and variants keep the first letter; this test rules out most pairs
    la, lb = len(a), len(b)
    short = min(la, lb)
    if short < 4 or a.isdigit() or b.isdigit():
        return False
    prefix = 0
    for ca, cb in zip(a, b, strict=False):
        if ca != cb:
            break
        prefix += 1
    if prefix >= 5 or (prefix >= 4 and prefix >= 0.75 * short):
        return True
    if abs(la - lb) > 1 or short < 5:
        return False
    return _one_edit(a, b, prefix)


def one_typo(a: str, b: str) -> bool:
    """``a`` and ``b`` (lower-case words) are one typo apart: a letter inserted, dropped, replaced
    or two swapped ("singapore"/"signapore"), in words of five letters or more. Stricter than
    :func:`similar_words`, which also takes a long shared prefix ("austria"/"australia")."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 5 or a.isdigit() or b.isdigit():
        return False
    prefix = 0
    for ca, cb in zip(a, b, strict=False):
        if ca != cb:
            break
        prefix += 1
    return _one_edit(a, b, prefix)


def _one_edit(a: str, b: str, prefix: int) -> bool:
    """``a`` and ``b`` differ by one inserted, deleted, replaced or swapped letter (a typo)."""
    ra, rb = a[prefix:], b[prefix:]
    if len(ra) == len(rb):
        if ra[1:] == rb[1:]:
            return True
        return len(ra) >= 2 and ra[0] == rb[1] and ra[1] == rb[0] and ra[2:] == rb[2:]
    if len(ra) > len(rb):
        ra, rb = rb, ra
    return ra == rb[1:]


K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(OrderedDict[K, V]):
    """A per-detector memo of per-message features, keyed by the message text (never by object
    identity: records are rebuilt from snapshots). Evicts oldest-first once ``maxsize`` is
    reached: a message is looked up again within a few turns of its first use, so insertion
    order is as good as recency and cheaper to keep.

    An OrderedDict, not a dict: deleting a plain dict's first key again and again makes every
    later ``next(iter(d))`` skip the deleted slots (measured: 3% of the collector's CPU);
    ``popitem(last=False)`` is O(1). A subclass rather than a wrapper, so that ``get``, called
    about a dozen times per span, is the C method (a Python method around it measured 3 µs per
    span)."""

    __slots__ = ("_maxsize",)

    def __init__(self, maxsize: int = 10_000) -> None:
        super().__init__()
        self._maxsize = maxsize

    def put(self, key: K, value: V) -> V:
        if len(self) >= self._maxsize:
            self.popitem(last=False)
        self[key] = value
        return value


_TOKENS_OF: BoundedCache[str, tuple[str, ...]] = BoundedCache(20_000)
has_digit = re.compile(r"\d").search  # a digit anywhere in the text


def digit_tokens(toks: tuple[str, ...]) -> frozenset[str]:
    """The tokens holding a digit ("2024", "ord", "1234" → {"2024", "1234"}): the numbers and
    identifiers of a message, found without running the entity extractor."""
    # Both loops run in C, and the regex only sees the few tokens that are not all letters:
    # 0.8 µs for a 12-token question, against 1.9 µs for a hashed memo's miss (every new
    # message). The pair detectors ask in turn for the same message's tokens (the same tuple,
    # from the shared cache): the last answer is kept by identity, one tuple rebound at once
    # (a reader never sees one call's tokens with another's digits).
    global _LAST_DIGITS
    last = _LAST_DIGITS
    if last[0] is toks:
        return last[1]
    digits = frozenset(filter(has_digit, filterfalse(str.isalpha, toks)))
    _LAST_DIGITS = (toks, digits)
    return digits


_LAST_DIGITS: tuple[tuple[str, ...], frozenset[str]] = ((), frozenset())


def surface_key(text: str, toks: tuple[str, ...]) -> str:
    """A cheap stand-in for :func:`surface` to test two messages for identity: the tokens
    joined, apostrophes dropped; text with non-ASCII letters (whose words ``tokens`` does not
    see) falls back to :func:`surface`."""
    if not text.isascii():
        return surface(text)
    return " ".join(toks).replace("'", "")
