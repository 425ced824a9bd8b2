"""Entities of a text — numbers, dates, times, identifiers, e-mails, URLs, phone numbers, proper
names — each with normalised *keys*, and :class:`Support` to tell whether another text states
the same fact.

The keys make one fact in different formats one entity: ``1,000`` and ``1000`` are ``n:1000``;
``$5`` and ``5 USD`` are ``n:5``; ``2024-03-05`` and ``March 5, 2024`` are ``d:2024-03-05``;
``9:00 AM`` and ``9 am`` are ``t:09:00``; ``ORD-12345`` and ``ord_12345`` are ``i:ORD12345``;
names are their lower-case words without possessive ``'s``. :class:`._text_support.Support`
finds them in another text.

:func:`extract_entities` lists what a text *claims*. With ``claims=True`` (answers) it skips what
is not a claim: list markers ("1.", "2)"), "step 3", "#2", bare integers ≤ 10 without a unit
("one of two options"; "3 business days" is a claim), ordinals ≤ 10; always skipped: weekdays
and months alone, sentence-initial capitalised words and common capitalised words (UI labels,
"However"), common alphanumeric words ("2FA", "COVID-19"), fenced code blocks.

Cost: one regex pass over the text finds the candidates (digits, capitalised words, URLs);
e-mails and bare domains are found from their "@" and top-level domain.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ._text_lexicon import COMMON_ALNUM, COMMON_CAPITALISED, MONTHS, UNIT_WORDS, WEEKDAYS

__all__ = ["Entity", "extract_entities", "number_key"]


class Entity(NamedTuple):
    kind: str  # number, date, time, id, email, url, phone, name
    text: str  # as written
    keys: tuple[str, ...]  # normalised; a number/date/… is supported when any key is, a name when all are


_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
# Candidates only start at a digit, a capital or a URL scheme. Each pattern opens with one
# character class (the alternatives after it check which character that was), so the regex
# engine skips the other characters in C instead of trying every alternative at each position;
# most texts have no URL and use the pattern without "h"/"w" in that class (half the cost again).
# Lower-case ids ("ord-12345") are found from their digits.
_CANDIDATE = re.compile(
    r"[hw$€£¥\dA-Z](?:(?<=h)ttps?://[^\s<>()\"'`]+|(?<=w)ww\.[^\s<>()\"'`]+"
    r"|(?<=[$€£¥])\d[\w.,:/%°+-]*|(?<=\d)[\w.,:/%°+-]*|(?<=[A-Z])[\w'&.-]*)"
)
_CANDIDATE_NO_URL = re.compile(
    r"[$€£¥\dA-Z](?:(?<=[$€£¥])\d[\w.,:/%°+-]*|(?<=\d)[\w.,:/%°+-]*|(?<=[A-Z])[\w'&.-]*)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TLD = (".com", ".org", ".net", ".io", ".co", ".gov", ".edu", ".dev", ".ai", ".app", ".info")
_DOMAIN = re.compile(
    r"[a-z0-9][a-z0-9.-]*\.(?:com|org|net|io|co|gov|edu|dev|ai|app|info)(?:/[^\s<>()\"'`]*)?", re.I
)
_HAS_DIGIT = re.compile(r"\d")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_FENCED = re.compile(r"```.*?(?:```|$)", re.S)
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})")
_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:\.\d+)*", re.I)
_PHONE = re.compile(r"\+?(?:\d{1,3}[-.])?\(?\d{3}\)?[-.]\d{3}[-.]\d{4}")
_SPACED_PHONE = re.compile(r"\+?(?:\d{1,3}[ .-])?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?:([ap])m)?", re.I)
_GLUED_AMPM = re.compile(r"(\d{1,2})([ap])m", re.I)
_RANGE = re.compile(r"(\d+(?:\.\d+)?)[-–](\d+(?:\.\d+)?)")
_NUMBER = re.compile(r"([$€£¥])?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%|k|bn|x)?", re.I)
_GLUED_UNIT = re.compile(r"(\d+(?:\.\d+)?)-?([a-z°]+)", re.I)
_AMPM_AFTER = re.compile(r"\s*(?:([ap])\.m\.|([ap])m\b)", re.I)
_MONTH_AFTER = re.compile(rf"(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b\.?(?:,?\s+(\d{{4}})\b)?", re.I)
_YEAR_AFTER = re.compile(r"(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_SCALE_AFTER = re.compile(r"\s+(million|billion|thousand|percent|per cent)\b", re.I)
_FOLLOWING = re.compile(r"[ \t]*-?[ \t]*([a-z%°]+)", re.I)
_MARKER_BEFORE = re.compile(r"(?:\b(?:step|option|method|tip|part|phase|no|number|item)\.?|#)[ \t]*$", re.I)
_MARKER_WORDS = ("step", "option", "method", "tip", "part", "phase", "no", "number", "item")
_TITLES = frozenset(("mr", "mrs", "ms", "dr", "prof", "sir", "madam", "st"))
_SCALE = {"k": 1e3, "thousand": 1e3, "million": 1e6, "bn": 1e9, "billion": 1e9}
_CLAUSE_END = frozenset('.!?:;\n"(*•#>|[-')
_STRIP = ".,;:!?)]}'\"*`/-+"
_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"}
)
_CONNECTORS = frozenset(("of", "de", "del", "van", "von", "da"))


def number_key(value: float) -> str:
    return f"n:{int(value)}" if value == int(value) else f"n:{round(value, 4)!r}"


def _date_keys(year: int | None, month: int, day: int) -> tuple[str, ...]:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return ()
    md = f"md:{month:02d}-{day:02d}"
    return (f"d:{year:04d}-{month:02d}-{day:02d}", md) if year is not None else (md,)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    y = int(text)
    return y + 2000 if y < 100 else y


def _time_keys(hour: int, minute: int, ampm: str | None) -> tuple[str, ...]:
    if hour > 24 or minute > 59:
        return ()
    hours = [hour]
    if ampm:
        if ampm.lower() == "p" and hour < 12:
            hours = [hour + 12]
        elif ampm.lower() == "a" and hour == 12:
            hours = [0]
    elif hour < 12:
        hours.append(hour + 12)  # "at 5:30" may be either
    return tuple(f"t:{h:02d}:{minute:02d}" for h in hours)


def _norm_url(url: str) -> str:
    u = url.lower().rstrip(".,;:!?)'\"/")
    for prefix in ("https://", "http://"):
        if u.startswith(prefix):
            u = u[len(prefix) :]
    if u.startswith("www."):
        u = u[4:]
    return u.rstrip("/")


class _Scan:
    def __init__(self, text: str, claims: bool) -> None:
        self.text = text
        self.claims = claims
        self.found: list[Entity] = []
        self.skip_until = 0  # a date consumed the tokens up to here
        self.run: list[tuple[str, int]] = []  # the capitalised words of the current name run
        self.run_end = -1
        self.run_initial = False

    def add(self, kind: str, text: str, keys: tuple[str, ...]) -> None:
        if keys:
            self.found.append(Entity(kind, text, keys))

    def following_word(self, end: int) -> str:
        m = _FOLLOWING.match(self.text, end)
        return m.group(1).lower() if m else ""

    def initial(self, start: int) -> bool:
        """Nothing but spaces between the start of a sentence/line/item and ``start``."""
        i = start - 1
        text = self.text
        while i >= 0 and text[i] in " \t":
            i -= 1
        return i < 0 or text[i] in _CLAUSE_END


def _number(scan: _Scan, token: str, start: int, end: int) -> None:
    text = scan.text
    rng = _RANGE.fullmatch(token)
    if rng is not None:  # "5-7 business days": both ends, with the unit after the range
        unit = scan.following_word(end) in UNIT_WORDS
        for part in (rng[1], rng[2]):
            value = float(part)
            if not scan.claims or unit or "." in part or value > 10:
                scan.add("number", part, (number_key(value),))
        return
    m = _NUMBER.fullmatch(token)
    if m is None:
        return
    currency, digits, decimals, suffix = m[1], m[2], m[3] or "", (m[4] or "").lower()
    value = float(digits.replace(",", "") + decimals)
    keys = [number_key(value)]
    shown = token
    scale = _SCALE.get(suffix)
    after = _SCALE_AFTER.match(text, end)
    if after is not None:
        word = after[1].lower()
        scale = _SCALE.get(word, scale)
        suffix = suffix or word
        shown = text[start : after.end()]
    if scale is not None:
        keys.append(number_key(value * scale))
    if scan.claims:
        line_start = text.rfind("\n", 0, start) + 1
        marker = text[start + len(token) : start + len(token) + 1] in (".", ")") or token.endswith((".", ")"))
        if marker and not text[line_start:start].strip(" \t-*•("):
            return  # a list marker
        before = text[max(0, start - 12) : start]
        tail = before.rstrip(" \t")
        # (the regex only when the word before could be a marker: it is most of a number's cost)
        if (tail.endswith("#") or tail.rstrip(".")[-7:].lower().endswith(_MARKER_WORDS)) and (
            _MARKER_BEFORE.search(before)
        ):
            return  # "step 3", "#2"
        unit = bool(currency or suffix) or scan.following_word(end) in UNIT_WORDS
        if not unit and not decimals and value <= 10:
            return  # "one of two options"
    scan.add("number", shown, tuple(keys))


def _month_before(text: str, start: int) -> tuple[int, int] | None:
    """``(month, position)`` of a month name right before ``start`` ("March 5")."""
    before = text[max(0, start - 12) : start]
    stripped = before.rstrip(" \t").rstrip(".")
    if len(stripped) == len(before):
        return None  # no space: "ABC5"
    words = stripped.rsplit(None, 1)
    month = MONTHS.get(words[-1].lower()) if words else None
    if month is None:
        return None
    return month, start - len(before) + len(stripped) - len(words[-1])


def _plain(scan: _Scan, token: str, start: int, end: int) -> None:
    """A plain number ("30", "$1,000.50", "15%"), which may still be part of a time or a date."""
    text = scan.text
    if token.isdigit() and len(token) <= 2:
        after = _AMPM_AFTER.match(text, end)
        if after is not None:  # "9 am"
            scan.add("time", text[start : after.end()], _time_keys(int(token), 0, after[1] or after[2]))
            scan.skip_until = after.end()
            return
        month_after = _MONTH_AFTER.match(text, end)
        if month_after is not None:  # "5 March 2024"
            keys = _date_keys(_year(month_after[2]), MONTHS[month_after[1].lower()], int(token))
            scan.add("date", text[start : month_after.end()], keys)
            scan.skip_until = month_after.end()
            return
    if token.isdigit() and len(token) in (1, 2, 4) and (month := _month_before(text, start)) is not None:
        if len(token) <= 2:  # "March 5, 2024"
            year = _YEAR_AFTER.match(text, end)
            stop = year.end() if year else end
            scan.add(
                "date",
                text[month[1] : stop],
                _date_keys(_year(year[1]) if year else None, month[0], int(token)),
            )
            scan.skip_until = stop
        else:  # "March 2024"
            scan.add(
                "date", text[month[1] : end], (f"ym:{int(token):04d}-{month[0]:02d}", number_key(int(token)))
            )
        return
    _number(scan, token, start, end)


def _digits(scan: _Scan, raw: str, start: int) -> None:
    """A candidate that starts with a digit (or a currency sign)."""
    text = scan.text
    token = raw.rstrip(_STRIP) or raw
    end = start + len(token)
    if len(token) <= 4 and (phone := _SPACED_PHONE.match(text, start)) is not None:  # "1 800 555 0142"
        scan.add("phone", phone.group(), ("p:" + re.sub(r"\D", "", phone.group())[-10:],))
        scan.skip_until = phone.end()
    elif _NUMBER.fullmatch(token):
        _plain(scan, token, start, end)
    elif "-" in token and (m := _ISO_DATE.fullmatch(token)) is not None:
        scan.add("date", token, _date_keys(int(m[1]), int(m[2]), int(m[3])))
    elif ("/" in token or "." in token) and (m := _SLASH_DATE.fullmatch(token)) is not None:
        y, a, b = _year(m[3]), int(m[1]), int(m[2])
        scan.add("date", token, _date_keys(y, a, b) + _date_keys(y, b, a))  # US or European
    elif _PHONE.fullmatch(token):
        scan.add("phone", token, ("p:" + re.sub(r"\D", "", token)[-10:],))
    elif "." in token and _VERSION.fullmatch(token):
        scan.add("id", token, ("v:" + token.lower().lstrip("v"),))
    elif ":" in token and (m := _CLOCK.fullmatch(token)) is not None:
        ampm = m[3]
        if ampm is None and (after := _AMPM_AFTER.match(text, end)) is not None:
            ampm, token = after[1] or after[2], text[start : after.end()]
            scan.skip_until = after.end()
        scan.add("time", token, _time_keys(int(m[1]), int(m[2]), ampm))
    elif (m := _GLUED_AMPM.fullmatch(token)) is not None:
        scan.add("time", token, _time_keys(int(m[1]), 0, m[2]))
    elif (day := _day(token)) is not None:  # "5th" of a date, else an ordinal
        month_after = _MONTH_AFTER.match(text, start + len(day))
        month = _month_before(text, start)
        if month_after is not None:
            keys = _date_keys(_year(month_after[2]), MONTHS[month_after[1].lower()], int(day))
            scan.add("date", text[start : month_after.end()], keys)
            scan.skip_until = month_after.end()
        elif month is not None:
            year = _YEAR_AFTER.match(text, end)
            stop = year.end() if year else end
            scan.add(
                "date",
                text[month[1] : stop],
                _date_keys(_year(year[1]) if year else None, month[0], int(day)),
            )
            scan.skip_until = stop
        else:
            _alnum(scan, token, start, end)
    elif "-" in token and _RANGE.fullmatch(token):
        _number(scan, token, start, end)
    elif any(c.isalpha() for c in token):
        _alnum(scan, token, start, end)


def _day(token: str) -> str | None:
    digits = token[:-2] if token[-2:].lower() in ("st", "nd", "rd", "th") else token
    return digits if digits.isdigit() and len(digits) <= 2 else None


def _alnum(scan: _Scan, token: str, start: int, end: int) -> None:
    """Letters and digits: a glued unit ("5kg", "21st"), or an identifier ("ORD-12345")."""
    low = token.lower()
    if low in COMMON_ALNUM:
        return
    if _VERSION.fullmatch(token):
        scan.add("id", token, ("v:" + low.lstrip("v"),))
        return
    glued = _GLUED_UNIT.fullmatch(token)
    if glued is not None:
        suffix = glued[2].lower()
        value = float(glued[1])
        ordinal = suffix in ("st", "nd", "rd", "th")
        if ordinal or suffix in UNIT_WORDS or suffix in ("k", "h", "d", "w", "s", "x", "gb", "mb"):
            if not (scan.claims and ordinal and value <= 10):
                scan.add(
                    "number",
                    token,
                    (number_key(value),) + ((number_key(value * 1e3),) if suffix == "k" else ()),
                )
            return
    scan.add("id", token, ("i:" + re.sub(r"[-_.]", "", token).upper(),))


def _flush_name(scan: _Scan) -> None:
    if not scan.run:
        return
    words = scan.run
    scan.run = []
    group: list[str] = []
    shown: list[str] = []
    single_initial = scan.run_initial and len(words) == 1

    def emit() -> None:
        if group:
            scan.add("name", " ".join(shown), tuple("w:" + w for w in group))
        group.clear()
        shown.clear()

    for word, _start in words:
        possessive = word.endswith("'s")
        bare = word.removesuffix("'s").rstrip("'-&.")
        w = bare.lower()
        if not w or w in COMMON_CAPITALISED or w in MONTHS or w in WEEKDAYS or w in _TITLES or single_initial:
            emit()
            continue
        group.append(w)
        shown.append(bare)
        if possessive:
            emit()
    emit()


def _name_word(scan: _Scan, raw: str, start: int) -> None:
    text = scan.text
    word = raw.rstrip('.,;:!?)]}"*`-')
    contiguous = scan.run and text[scan.run_end : start].strip(" \t") in ("", *_CONNECTORS)
    if not contiguous or text[scan.run_end - 1 : scan.run_end] in (",", ";", ":", "."):
        _flush_name(scan)
        scan.run_initial = scan.initial(start)
    scan.run.append((word, start))
    scan.run_end = start + len(word)
    if len(word) < len(raw):  # the word ended a clause ("…Paris. The")
        scan.run_end = start + len(raw)


def _around(text: str, i: int, left: str, right: str) -> tuple[int, int]:
    """The span around ``text[i]`` over the characters of ``left`` (backwards) and ``right``."""
    a = i
    while a > 0 and (text[a - 1].isalnum() or text[a - 1] in left):
        a -= 1
    b = i + 1
    while b < len(text) and (text[b].isalnum() or text[b] in right):
        b += 1
    return a, b


def _emails_and_domains(scan: _Scan, spans: list[tuple[int, int]]) -> None:
    """E-mails and scheme-less URLs ("acme.com/returns"), found from their "@" and top-level
    domain rather than by a regex over the whole text."""
    text = scan.text
    i = text.find("@") if "@" in text else -1
    while i >= 0:
        a, b = _around(text, i, "._+-", ".-")
        while b > i and text[b - 1] in ".-":
            b -= 1  # the full stop after an address
        m = _EMAIL.fullmatch(text, a, b) if a < i else None
        if m is not None:
            scan.add("email", m.group(), ("e:" + m.group().lower(),))
            spans.append((a, b))
        i = text.find("@", b)
    if "." not in text:
        return
    low = text.lower()
    for tld in _TLD:
        i = low.find(tld)
        while i >= 0:
            end = i + len(tld)
            if end == len(low) or not low[end].isalnum():
                a, _ = _around(low, i, ".-", "")
                if a < i and (a == 0 or low[a - 1] not in "@/") and not low.startswith("www.", a):
                    m = _DOMAIN.match(text, a)
                    if m is not None and not any(x <= a < y for x, y in spans):
                        scan.add("url", m.group().rstrip(_STRIP), ("u:" + _norm_url(m.group()),))
                        spans.append(m.span())
            i = low.find(tld, end)


def extract_entities(text: str, *, names: bool = True, claims: bool = True) -> list[Entity]:
    """The entities ``text`` states, in order (see the module docstring for what is skipped)."""
    if "```" in text:
        text = _FENCED.sub(" ", text)
    if "\u2019" in text or "\u201c" in text or "\u2013" in text:
        text = text.translate(_QUOTES)
    scan = _Scan(text, claims)
    spans: list[tuple[int, int]] = []
    _emails_and_domains(scan, spans)
    candidates = _CANDIDATE if "http" in text or "www." in text else _CANDIDATE_NO_URL
    for m in candidates.finditer(text):
        start = m.start()
        raw = m.group()
        if start < scan.skip_until or (spans and any(a <= start < b for a, b in spans)):
            continue
        first = raw[0]
        if raw.isalpha() or (raw[-1] in ".,;:!?" and raw[:-1].isalpha()):
            if names:
                _name_word(scan, raw, start)  # the common case: a capitalised word
        elif first.isdigit() or first in "$€£¥":
            _flush_name(scan)
            if start and text[start - 1] in _ID_CHARS and first.isdigit():
                # digits inside a lower-case word ("ord-12345", "v2.1.0"): the whole word
                a, _ = _around(text, start, "-_", "")
                if a < start and a >= scan.skip_until:
                    token = text[a : m.end()].rstrip(_STRIP)
                    if _VERSION.fullmatch(token) or any(c.isalpha() for c in token[: start - a]):
                        _alnum(scan, token, a, a + len(token))
                        continue
            _digits(scan, raw, start)
        elif raw.startswith(("http", "www.")):
            scan.add("url", raw.rstrip(_STRIP), ("u:" + _norm_url(raw),))
        elif _HAS_DIGIT.search(raw):
            _flush_name(scan)
            token = raw.rstrip(_STRIP)
            _alnum(scan, token, start, start + len(token))
        elif names:
            _name_word(scan, raw, start)
    _flush_name(scan)
    return scan.found
