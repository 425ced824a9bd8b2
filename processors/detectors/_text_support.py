"""Whether a context — the texts a model was given — states an entity of another text, in any
of its formats: ``1,000`` = ``1000``; ``$5`` = ``5 USD`` = ``5 dollars`` (the number, not the
currency); ``5%`` = ``5 percent``; ``2024-03-05`` = ``March 5, 2024`` = ``5 March 2024`` =
``03/05/2024``; ``9:00 AM`` = ``9 am`` = ``09:00``; ``ORD-12345`` = ``ord_12345``; phone numbers
in any layout; names case-insensitively; "thirty" supports ``30``. A clock time does not support
a bare number ("until 20:00" does not state 20), a date's parts do not support small numbers.

Cost: :class:`Support` never scans its context with a regex (on the hot path a regex costs
~20 ns per character); it ``str.find``s the forms of each entity in the lower-cased context, so
a long context costs little per entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._text_entities import Entity
from ._text_lexicon import MONTHS, NUMBER_WORDS

__all__ = ["Support"]

_MONTH_NAMES = {i: [n for n, j in MONTHS.items() if j == i] for i in range(1, 13)}
_WORDS_OF = {
    int(v): w for w, v in NUMBER_WORDS.items() if v == int(v) and w not in ("once", "single", "double")
}


class Support:
    """What a context (the texts a model was given) supports: :meth:`has` tells whether an entity
    — of any text — is stated in it, in any of the forms the module docstring lists."""

    __slots__ = ("lower",)

    def __init__(self, texts: Iterable[str]) -> None:
        self.lower = "\n".join(t for t in texts if t).lower().replace("\u2019", "'")

    def _word(self, needle: str, numeric: bool = False) -> bool:
        """``needle`` occurs in the context as a whole word (or, ``numeric``, a whole number)."""
        hay = self.lower
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

    def _number(self, value: float) -> bool:
        if value == int(value):
            v = int(value)
            forms = [str(v), f"{v:,}"] if v >= 1000 else [str(v)]
            word = _WORDS_OF.get(v)
            if word is not None and self._word(word):
                return True
            for scale, names in ((1e9, ("billion", "bn")), (1e6, ("million", "m")), (1e3, ("thousand", "k"))):
                if v >= scale and v % (scale / 100) == 0:  # "1,500,000" = "1.5 million"
                    short = f"{v / scale:g}"
                    forms += [f"{short} {names[0]}", f"{short}{names[1]}", f"{short} {names[1]}"]
                    break
        else:
            forms = [repr(round(value, 4))]
        return any(self._word(f, numeric=True) for f in forms)

    def _date(self, year: int | None, month: int, day: int) -> bool:
        forms: list[str] = []
        hay = self.lower
        for name in _MONTH_NAMES[month]:
            if name not in hay:
                continue  # most contexts name no month: one find instead of a dozen
            forms += [f"{name} {day}", f"{name}. {day}", f"{day} {name}", f"{day} of {name}"]
            forms += [f"{name} {day}{s}" for s in ("st", "nd", "rd", "th")]
            forms += [f"{day}{s} {name}" for s in ("st", "nd", "rd", "th")]
        if year is not None and (str(year) in hay or f"/{year % 100:02d}" in hay):
            forms += [f"{year}-{month:02d}-{day:02d}", f"{year}-{month}-{day}"]
            for a, b in ((month, day), (day, month)):
                forms += [
                    f"{a}/{b}/{year}",
                    f"{a:02d}/{b:02d}/{year}",
                    f"{a}.{b}.{year}",
                    f"{a:02d}.{b:02d}.{year}",
                ]
                forms += [f"{a}/{b}/{year % 100:02d}", f"{a:02d}/{b:02d}/{year % 100:02d}"]
        return any(self._word(f) for f in forms)

    def _time(self, hour: int, minute: int) -> bool:
        h12 = hour % 12 or 12
        ampm = "pm" if hour >= 12 else "am"
        forms = [f"{hour}:{minute:02d}", f"{hour:02d}:{minute:02d}", f"{h12}:{minute:02d}"]
        if minute == 0:
            forms += [f"{h12} {ampm}", f"{h12}{ampm}", f"{h12} {ampm[0]}.m.", f"{h12}{ampm[0]}.m."]
            return any(self._word(f) for f in forms) or self._hour_range(h12) or self._hour_range(hour)
        return any(self._word(f, numeric=True) for f in forms)

    def _hour_range(self, hour: int) -> bool:
        """``hour`` ends a range of hours ("open 9-5", "9 to 17"), not just any number."""
        h = str(hour)
        if h not in self.lower:
            return False
        pattern = (
            rf"(?<![\d:.,]){h}\s*(?:-|–|to|until)\s*\d{{1,2}}(?![\d:.,])"
            rf"|(?<![\d:.,])\d{{1,2}}\s*(?:-|–|to)\s*{h}(?![\d:.,])"
        )
        return re.search(pattern, self.lower) is not None

    def has_key(self, key: str, text: str = "") -> bool:
        kind, _, value = key.partition(":")
        if kind == "n":
            return self._number(float(value))
        if kind == "w":
            return self._word(value)
        if kind in ("e", "u", "v"):
            return value in self.lower
        if kind == "d":
            y, m, d = map(int, value.split("-"))
            return self._date(y, m, d)
        if kind == "md":
            m, d = map(int, value.split("-"))
            return self._date(None, m, d)
        if kind == "ym":
            y, m = map(int, value.split("-"))
            return any(self._word(f"{name} {y}") for name in _MONTH_NAMES[m])
        if kind == "t":
            h, m = map(int, value.split(":"))
            return self._time(h, m)
        if kind == "i":
            parts = re.findall(r"[a-z]+|\d+", text.lower())
            spellings = {"-".join(parts), "_".join(parts), "".join(parts), " ".join(parts), text.lower()}
            return any(self._word(f) for f in spellings)
        if kind == "p":
            a, b, c = value[-10:-7], value[-7:-4], value[-4:]
            layouts = (
                f"{a}-{b}-{c}",
                f"({a}) {b}-{c}",
                f"{a}.{b}.{c}",
                f"{a} {b} {c}",
                value,
                f"({a}){b}-{c}",
            )
            return any(f in self.lower for f in layouts)
        return False

    def has(self, entity: Entity) -> bool:
        if entity.kind == "name":
            return all(self.has_key(k) for k in entity.keys)
        return any(self.has_key(k, entity.text) for k in entity.keys)


def _zeros(hay: str, i: int) -> bool:
    """``hay[i:]`` is a decimal point followed by zeros only ("5.00" supports 5)."""
    j = i + 1
    while j < len(hay) and hay[j] == "0":
        j += 1
    return j > i + 1 and not (j < len(hay) and hay[j].isdigit())
