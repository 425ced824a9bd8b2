"""Whether a context — the texts a model was given — states an entity of another text, in any
of its formats: ``1,000`` = ``1000``; ``$5`` = ``5 USD`` = ``5 dollars`` (the number, not the
currency); ``5%`` = ``5 percent``; ``2024-03-05`` = ``March 5, 2024`` = ``5 March 2024`` =
``03/05/2024``; ``9:00 AM`` = ``9 am`` = ``09:00``; ``ORD-12345`` = ``ord_12345``; phone numbers
in any layout; names case-insensitively; "thirty" supports ``30``. A clock time does not support
a bare number ("until 20:00" does not state 20), a date's parts do not support small numbers.

Cost: an entity is compiled once (:func:`plan`, memoised) into the literal forms that would state
it, so checking it against a context is a few ``str.find`` calls in the lower-cased context and
never a regex scan of the context (on the hot path a regex costs ~20 ns per character; the one
exception is an hour range, "open 9-5", tried only when the hour occurs in the context).
:func:`holds` checks a plan against a context already lower-cased (:func:`context_of`); callers
that check many entities against one context, or one answer against many, keep both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from ._text_entities import Entity
from ._text_lexicon import MONTHS, NUMBER_WORDS

__all__ = ["Plan", "Support", "context_of", "holds", "plan", "plan_key"]

_MONTH_NAMES = {i: [n for n, j in MONTHS.items() if j == i] for i in range(1, 13)}
_WORDS_OF = {
    int(v): w for w, v in NUMBER_WORDS.items() if v == int(v) and w not in ("once", "single", "double")
}

# How a form is looked for. A guard step skips the next ``skip`` steps when its needle is not in
# the context at all: they all contain it (most contexts name no month, most have no year).
_SUB, _WORD, _NUMERIC, _HOURS, _GUARD = range(5)
Step = tuple[str, int, int]  # (needle, how, skip)
Group = tuple[Step, ...]  # satisfied when any step finds its form
Plan = tuple[Group, ...]  # the entity is supported when every group is


def context_of(texts: Iterable[str]) -> str:
    """The context the plans are checked against: the texts joined, lower-cased."""
    low = "\n".join(filter(None, texts)).lower()
    return low if low.isascii() else low.replace("\u2019", "'")  # isascii: O(1), no scan


def _word(hay: str, needle: str, numeric: bool) -> bool:
    """``needle`` occurs in ``hay`` as a whole word (or, ``numeric``, a whole number)."""
    if not needle:
        return False
    i = hay.find(needle)
    n = len(needle)
    while i >= 0:
        before = hay[i - 1] if i else " "
        after = hay[i + n] if i + n < len(hay) else " "
        if numeric:
            ok = not before.isdigit() and not after.isdigit() and before not in ".,"
            ok = ok and not (
                after in ".," and hay[i + n + 1 : i + n + 2].isdigit() and not _zeros(hay, i + n)
            )
            # part of a clock time ("until 20:00" does not state the number 20)
            ok = ok and not (after == ":" and hay[i + n + 1 : i + n + 2].isdigit())
            ok = ok and not (before == ":" and i >= 2 and hay[i - 2].isdigit())
        else:
            ok = not before.isalnum() and not after.isalnum()
        if ok:
            return True
        i = hay.find(needle, i + 1)
    return False


@lru_cache(maxsize=64)
def _hour_range_re(h: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?<![\d:.,]){h}\s*(?:-|–|to|until)\s*\d{{1,2}}(?![\d:.,])"
        rf"|(?<![\d:.,])\d{{1,2}}\s*(?:-|–|to)\s*{h}(?![\d:.,])"
    )


def _any(hay: str, group: Group) -> bool:
    i, n = 0, len(group)
    while i < n:
        needle, how, skip = group[i]
        i += 1
        if how == _GUARD:
            if needle not in hay:
                i += skip
        elif how == _SUB:
            if needle in hay:
                return True
        elif how == _HOURS:
            # ``needle`` ends a range of hours ("open 9-5", "9 to 17"), not just any number
            if needle in hay and _hour_range_re(needle).search(hay) is not None:
                return True
        elif needle in hay and _word(hay, needle, how == _NUMERIC):
            return True
    return False


def holds(hay: str, entity_plan: Plan) -> bool:
    """The context ``hay`` (:func:`context_of`) states the entity compiled to ``entity_plan``."""
    return all(_any(hay, group) for group in entity_plan)


def _words(forms: Iterable[str], how: int = _WORD) -> list[Step]:
    return [(f, how, 0) for f in forms]


def _number_steps(value: float) -> list[Step]:
    if value != int(value):
        return [(repr(round(value, 4)), _NUMERIC, 0)]
    v = int(value)
    forms = [str(v), f"{v:,}"] if v >= 1000 else [str(v)]
    for scale, names in ((1e9, ("billion", "bn")), (1e6, ("million", "m")), (1e3, ("thousand", "k"))):
        if v >= scale and v % (scale / 100) == 0:  # "1,500,000" = "1.5 million"
            short = f"{v / scale:g}"
            forms += [f"{short} {names[0]}", f"{short}{names[1]}", f"{short} {names[1]}"]
            break
    steps = _words(forms, _NUMERIC)
    # The number in words last: contexts state numbers in digits far more often, and a word
    # that is not there costs a scan of the whole context (a digit is found with memchr).
    word = _WORDS_OF.get(v)
    if word is not None:
        steps.append((word, _WORD, 0))
    return steps


def _date_steps(year: int | None, month: int, day: int) -> list[Step]:
    steps: list[Step] = []
    for name in _MONTH_NAMES[month]:
        forms = [f"{name} {day}", f"{name}. {day}", f"{day} {name}", f"{day} of {name}"]
        forms += [f"{name} {day}{s}" for s in ("st", "nd", "rd", "th")]
        forms += [f"{day}{s} {name}" for s in ("st", "nd", "rd", "th")]
        steps += [(name, _GUARD, len(forms)), *_words(forms)]
    if year is not None:
        yy = f"{year % 100:02d}"
        long = [f"{year}-{month:02d}-{day:02d}", f"{year}-{month}-{day}"]
        short: list[str] = []
        for a, b in ((month, day), (day, month)):
            long += [
                f"{a}/{b}/{year}",
                f"{a:02d}/{b:02d}/{year}",
                f"{a}.{b}.{year}",
                f"{a:02d}.{b:02d}.{year}",
            ]
            short += [f"{a}/{b}/{yy}", f"{a:02d}/{b:02d}/{yy}"]
        steps += [(str(year), _GUARD, len(long)), *_words(long)]
        steps += [(f"/{yy}", _GUARD, len(short)), *_words(short)]
    return steps


def _time_steps(hour: int, minute: int) -> list[Step]:
    h12 = hour % 12 or 12
    ampm = "pm" if hour >= 12 else "am"
    forms = [f"{hour}:{minute:02d}", f"{hour:02d}:{minute:02d}", f"{h12}:{minute:02d}"]
    if minute != 0:
        return _words(forms, _NUMERIC)
    forms += [f"{h12} {ampm}", f"{h12}{ampm}", f"{h12} {ampm[0]}.m.", f"{h12}{ampm[0]}.m."]
    return [*_words(forms), (str(h12), _HOURS, 0), (str(hour), _HOURS, 0)]


def _key_steps(key: str, text: str) -> list[Step]:
    kind, _, value = key.partition(":")
    if kind == "n":
        return _number_steps(float(value))
    if kind == "w":
        return [(value, _WORD, 0)]
    if kind in ("e", "u", "v"):
        return [(value, _SUB, 0)]
    if kind == "d":
        y, m, d = map(int, value.split("-"))
        return _date_steps(y, m, d)
    if kind == "md":
        m, d = map(int, value.split("-"))
        return _date_steps(None, m, d)
    if kind == "ym":
        y, m = map(int, value.split("-"))
        return _words(f"{name} {y}" for name in _MONTH_NAMES[m])
    if kind == "t":
        h, m = map(int, value.split(":"))
        return _time_steps(h, m)
    if kind == "i":
        parts = re.findall(r"[a-z]+|\d+", text.lower())
        spellings = {"-".join(parts), "_".join(parts), "".join(parts), " ".join(parts), text.lower()}
        return _words(sorted(s for s in spellings if s))
    if kind == "p":
        a, b, c = value[-10:-7], value[-7:-4], value[-4:]
        layouts = (f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", value, f"({a}){b}-{c}")
        return [(f, _SUB, 0) for f in layouts]
    return []


@lru_cache(maxsize=8192)
def plan_key(key: str, text: str = "") -> Plan:
    """The forms that state one normalised key (``text``: the entity as written, for ids)."""
    return (tuple(_key_steps(key, text)),)


@lru_cache(maxsize=8192)
def plan(entity: Entity) -> Plan:
    """The forms that state ``entity``: a name needs all its words, anything else one of its keys."""
    if entity.kind == "name":
        return tuple(tuple(_key_steps(k, "")) for k in entity.keys)
    return (tuple(step for k in entity.keys for step in _key_steps(k, entity.text)),)


class Support:
    """What a context (the texts a model was given) supports: :meth:`has` tells whether an entity
    — of any text — is stated in it, in any of the forms the module docstring lists."""

    __slots__ = ("lower",)

    def __init__(self, texts: Iterable[str]) -> None:
        self.lower = context_of(texts)

    def has_key(self, key: str, text: str = "") -> bool:
        return holds(self.lower, plan_key(key, text))

    def has(self, entity: Entity) -> bool:
        return holds(self.lower, plan(entity))


def _zeros(hay: str, i: int) -> bool:
    """``hay[i:]`` is a decimal point followed by zeros only ("5.00" supports 5)."""
    j = i + 1
    while j < len(hay) and hay[j] == "0":
        j += 1
    return j > i + 1 and not (j < len(hay) and hay[j].isdigit())
