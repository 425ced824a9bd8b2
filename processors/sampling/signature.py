"""Near-duplicate questions: a signature of the normalised question.

Two questions are near-duplicates when they ask with the same content words: case, accents,
punctuation, word order, function words and politeness ("hi", "please", "can you tell me") are
ignored and words are lightly stemmed (plural ``-s``/``-es``/``-ies``, ``-ing``, ``-ed``). So
"How do I reset my password?", "how can I reset my password please" and "Password reset?"
share one signature, while "How do I reset my password on iOS?" does not (it names more).
Negations and numbers count as content ("not", "no", "404"), so "why does it work" and "why
does it not work" stay apart. The signature is exact (a hash of the sorted word set), so
clusters partition the turns and can be counted.

Only the first :data:`SIGNATURE_CHARS` characters of a message are read (the stream and the
store agree on them). A message of only function words ("why?") is signed by its words as
they are; an empty one has no signature (never a near-duplicate of anything).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

__all__ = ["SIGNATURE_CHARS", "content_words", "question_signature"]

SIGNATURE_CHARS = 1000

_WORD = re.compile(r"[a-z0-9]+")

_STOPWORD_TEXT = """
    a an the and or but if so then than as of to in on at by for from with about into onto over
    under up down out off via per i me my mine myself we us our ours you your yours yourself he him
    his she her hers it its they them their theirs this that these those there here what which who
    whom whose when where why how is are was were be been being am do does did doing done can could
    would should will shall may might must have has had having get got let lets please pls plz
    thanks thank thx hi hello hey dear just also really actually maybe some any anything something
    kindly tell know help want wanted need like would wonder wondering question quick hm hmm ok okay
    all every each s t ll ve re d m
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _fold(text: str) -> str:
    text = text[:SIGNATURE_CHARS]
    if text.isascii():  # the common case, without a pass per character
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 16)  # bounded: words repeat across questions
def _stem(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_words(text: str) -> tuple[str, ...]:
    """The sorted, distinct, stemmed content words of ``text`` (its first SIGNATURE_CHARS chars)."""
    words = _WORD.findall(_fold(text))
    content = {_stem(w) for w in words if w not in _STOPWORDS}
    if not content:
        content = set(words)
    return tuple(sorted(content))


def question_signature(text: str) -> int | None:
    """A 64-bit signature shared by near-duplicate questions; None for an empty question."""
    words = content_words(text)
    if not words:
        return None
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
