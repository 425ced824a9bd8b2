"""The built-in patterns, and the scanner that finds them in a string with as few passes as it can.

Each built-in is a first character class, the rest of the value, and context rules: it must
not start inside a word or a longer number, and it may start right after a JSON escape such as
``\\n`` (prompts are often JSON text inside an attribute: ``"…card:\\n4111 1111 1111 1111"``).
A validator can refuse a match (Luhn for cards, mod 97 for IBANs, digit counts for phones); the
text then stays as it is.

Speed comes from Python's regex engine skipping, in C, to the characters a pattern can start
with. So patterns are joined as literal-first alternatives, ``0(?:…)|2(?:…)|k(?:…)|…``, and a
string gets one pass of the *finder*: card and phone patterns, plus markers, found from a rarer
character, that every secret holds (``sk-`` from its ``k``, ``password`` from its ``w``,
``AKIA`` from its ``K``…). Most strings end there, clean; the others get the full patterns of
what was found. E-mails are found from their ``@`` (a ``memchr``), then their local part is read
backwards. :meth:`Scanner.might_match` runs the finder's context-free form over a whole
serialised request: what matches inside a string also matches inside the bytes that carry it,
so a request it finds nothing in needs no walk at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BUILTINS", "Pattern", "Scanner", "iban_ok", "luhn_ok", "phone_ok"]

Replace = Callable[[str, str], str]
"""``replace(kind, matched_text)``: the text to put in its place (and count it)."""


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` (only digits) passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def phone_ok(text: str) -> bool:
    """A phone-shaped match that holds a plausible number of digits.

    International numbers hold 8-15 digits; one written without any space, dash or parenthesis
    needs 10 or more (``+1234567.89`` is an amount). Trunk-prefixed national numbers hold 9-12.
    """
    digits = sum(ch.isdigit() for ch in text)
    if text.startswith("+"):
        if not 8 <= digits <= 15:
            return False
        return digits >= 10 or any(ch in " -()" for ch in text)
    if text.startswith("0"):
        return 9 <= digits <= 12
    return True  # North American shape: fixed by the pattern


def iban_ok(text: str) -> bool:
    """ISO 13616: 15-34 characters whose rearranged digits are 1 modulo 97."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_KV_PREFIX = re.compile(r"[^:=]*[:=] *(?:\\?[\"'])?")


def _keep_key(text: str) -> int:
    """Where the value of an ``api_key=…`` match starts: the key name and separator are kept."""
    m = _KV_PREFIX.match(text)
    return m.end() if m else 0


def _keep_scheme(text: str) -> int:
    """``Bearer <token>``: the scheme name and the spaces are kept."""
    token = text.partition(" ")[2]
    return len(text) - len(token.lstrip(" "))


@dataclass(frozen=True, slots=True)
class Pattern:
    """One alternative: ``first`` (a character class) then ``rest``, and its context.

    The match must not follow a character of ``not_after`` (a class body; a backslash is always
    refused unless it starts a JSON whitespace escape) and must satisfy ``after`` (a lookahead).
    ``validate`` may refuse a match; ``keep`` says how many leading characters to keep (a key
    name, an auth scheme).
    """

    kind: str
    first: str
    rest: str
    not_after: str
    after: str = ""
    validate: Callable[[str], bool] | None = None
    keep: Callable[[str], int] | None = None

    def core(self) -> str:
        """This pattern without its context, first character consumed (the prefilter's form):
        it matches wherever ``branch`` does."""
        return f"(?<={self.first}){self.rest}"

    def branch(self) -> str:
        """This pattern with its context, first character consumed (the joined form)."""
        context = rf"(?:(?<![\\{self.not_after}].)|(?<=\\[nrtbf].))"
        return f"(?<={self.first}){context}{self.rest}{self.after}"


_WORD = "A-Za-z0-9_"
_NUMBER = r"A-Za-z0-9_.,+\-/:"
# The end of a phone number must not run into more digits, nor into a date, time or decimal part.
_PHONE_END = r"(?![0-9]|[\-./:][0-9])"

_SECRETS = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-api03-…).
    Pattern("secret", "s", r"k-[A-Za-z0-9_\-]{20,}", _WORD + r"\-", r"(?![A-Za-z0-9_\-])"),
    Pattern("secret", "A", r"(?:KIA|SIA)[0-9A-Z]{16}", _WORD, r"(?![A-Za-z0-9])"),
    Pattern("secret", "g", r"h[pousr]_[A-Za-z0-9]{36,255}", _WORD, r"(?![A-Za-z0-9])"),
    Pattern("secret", "g", r"ithub_pat_[A-Za-z0-9_]{22,255}", _WORD, r"(?![A-Za-z0-9_])"),
    Pattern("secret", "x", r"ox[abposr]-[A-Za-z0-9\-]{10,}", _WORD, r"(?![A-Za-z0-9\-])"),
    Pattern("secret", "A", r"Iza[0-9A-Za-z_\-]{35}", _WORD, r"(?![A-Za-z0-9_\-])"),
    Pattern(
        "secret",
        "e",
        r"yJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        _WORD,
        r"(?![A-Za-z0-9_\-])",
    ),
    Pattern(
        "secret",
        "[Bb]",
        r"(?i:earer) +[A-Za-z0-9._~+/\-]{16,}=*",
        _WORD,
        r"(?![A-Za-z0-9._~+/\-])",
        keep=_keep_scheme,
    ),
    Pattern(
        "secret",
        "[AaSsCcRrPp]",
        r"(?i:(?<=a)(?:pi[_\-]?key|ccess[_\-]?token|uth[_\-]?token)|(?<=s)ecret[_\-]?key"
        r"|(?<=c)lient[_\-]secret|(?<=r)efresh[_\-]?token|(?<=p)ass(?:word|wd))"
        r"(?:\\?[\"'])? *[:=] *(?:\\?[\"'])?[^\s\"'&,;<>\\\[\]]{6,}",
        "A-Za-z0-9",
        keep=_keep_key,
    ),
)
# A marker every secret holds, found from one of its rarer characters (k, K, S, x, z, J, b, w, _, -)
# so that the engine skips, in C, over most of the text: strings without one skip the secret patterns.
_KEY_OR_TOKEN = (
    r"(?i:(?<=api[_\-]k)ey|(?<=apik)ey|(?<=secret[_\-]k)ey|(?<=secretk)ey|(?<=access[_\-]tok)en"
    r"|(?<=accesstok)en|(?<=auth[_\-]tok)en|(?<=authtok)en|(?<=refresh[_\-]tok)en|(?<=refreshtok)en)"
)
_SECRET_GUARD: tuple[tuple[str, str, int], ...] = (
    ("k", r"(?<=sk)-", 0),
    ("k", _KEY_OR_TOKEN, 8),
    ("K", r"(?<=AK)IA", 1),
    ("K", _KEY_OR_TOKEN, 8),
    ("S", r"(?<=AS)IA", 1),
    ("_", r"(?<=gh[pousr]_)", 2),
    ("_", r"(?<=github_)pat_", 3),
    ("_", r"(?i:(?<=client_)secret)", 8),
    (r"\-", r"(?i:(?<=client-)secret)", 8),
    ("x", r"(?<=xox)[abposr]-", 4),
    ("z", r"(?<=AIz)a", 5),
    ("J", r"(?<=eyJ)", 6),
    ("[bB]", r"(?i:earer)", 7),
    ("[wW]", r"(?i:(?<=passw)(?:ord|d))", 8),
)
"""(first character, rest, index in ``_SECRETS`` of the pattern it calls for) of each secret marker."""


_CARDS = (
    # Written in groups of four (16 digits, 19 with a last group of three).
    Pattern(
        "card",
        "[2-6]",
        r"[0-9]{3}[ \-][0-9]{4}[ \-][0-9]{4}[ \-][0-9]{4}(?:[ \-]?[0-9]{3})?",
        _NUMBER,
        r"(?![0-9])",
        _card_ok,
    ),
    # American Express 4-6-5, Diners Club 4-6-4.
    Pattern("card", "3", r"[0-9]{3}[ \-][0-9]{6}[ \-][0-9]{4,5}", _NUMBER, r"(?![0-9])", _card_ok),
    Pattern("card", "[2-6]", r"[0-9]{12,18}", _NUMBER, r"(?![0-9])", _card_ok),
)

# Every card and phone number has 6 more of these after its first character: one cheap test
# before trying each of their patterns.
_NUMBER_LEAD = r"(?=[0-9 ().\-]{6})"
_NUMBER_KINDS = ("card", "phone")
_NONE: frozenset[int] = frozenset()

_PHONES = (
    Pattern("phone", r"\+", r"[1-9](?:[ .()\-]{0,2}[0-9]){6,14}", _WORD + "+", _PHONE_END, phone_ok),
    # North American: (415) 555-2671, 415-555-2671, 415.555.2671, 415 555 2671.
    Pattern(
        "phone",
        r"\(",
        r"[2-9][0-9]{2}\) ?[2-9][0-9]{2}[\-. ][0-9]{4}",
        _NUMBER + "(",
        _PHONE_END,
    ),
    Pattern("phone", "[2-9]", r"[0-9]{2}[\-. ][2-9][0-9]{2}[\-. ][0-9]{4}", _NUMBER + "(", _PHONE_END),
    # Trunk-prefixed national numbers with separators: 020 7946 0958, 06 12 34 56 78, 030 12345678.
    # The lookahead (9+ digits and a separator) keeps dates such as 024-07-18 out of the prefilter.
    Pattern(
        "phone",
        "0",
        r"(?=[0-9 \-]{9})[1-9][0-9]{0,3}(?:[ \-][0-9]{2,8}){1,4}",
        _NUMBER,
        _PHONE_END,
        phone_ok,
    ),
)

_IBAN = Pattern(
    "iban", "[A-Z]", r"[A-Z][0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?", _WORD, r"(?![A-Za-z0-9])",
    iban_ok,
)  # fmt: skip
_IBAN_GUARD = (("[A-Z]", "[A-Z][0-9][0-9]", 0),)


_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
_EMAIL_DOMAIN_BYTES = re.compile(_EMAIL_DOMAIN.pattern.encode())
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_MAX_LOCAL = 64

BUILTINS: dict[str, tuple[Pattern, ...]] = {
    "secret": _SECRETS,
    "card": _CARDS,
    "iban": (_IBAN,),
    "phone": _PHONES,
}
"""The built-in patterns by switch name (``processors.redaction.patterns``); e-mail is found
from its ``@`` instead (:meth:`Scanner._emails`)."""


def _firsts(patterns: list[Pattern]) -> str:
    return "".join(p.first[1:-1] if p.first.startswith("[") else p.first for p in patterns)


def _alternatives(branches: list[tuple[str, str]]) -> str:
    """``c(?:…)|d(?:…)|…`` from ``(first class, rest)`` pairs: one alternative per first character,
    so the engine skips in C to those characters and tries only the rests that start with it."""
    by_char: dict[str, list[str]] = {}
    for first, rest in branches:
        for ch in _chars(first):
            by_char.setdefault(ch, []).append(rest)
    return "|".join(f"{re.escape(ch)}(?:{'|'.join(rests)})" for ch, rests in by_char.items())


def _joined(patterns: list[Pattern]) -> tuple[re.Pattern[str], dict[str, Pattern]]:
    """The patterns as one regex of literal-first alternatives, each pattern a group ``pI_J``."""
    branches: list[tuple[str, str]] = []
    by_group: dict[str, Pattern] = {}
    for i, p in enumerate(patterns):
        rest = p.branch().removeprefix(f"(?<={p.first})")
        if p.kind in _NUMBER_KINDS:
            rest = _NUMBER_LEAD + rest
        for j, ch in enumerate(_chars(p.first)):
            by_group[f"p{i}_{j}"] = p
            branches.append((re.escape(ch), f"(?P<p{i}_{j}>{rest})"))
    return re.compile(_alternatives(branches)), by_group


def _chars(first: str) -> list[str]:
    """The characters of a ``first`` class: ``[2-6]``, ``[Bb]``, ``\\+``, ``k``."""
    body = first[1:-1] if first.startswith("[") else first
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            out.append(body[i + 1])
            i += 2
        elif i + 2 < len(body) and body[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(ch), ord(body[i + 2]) + 1))
            i += 3
        else:
            out.append(ch)
            i += 1
    return out


def _finder(numbers: list[Pattern], markers: tuple[tuple[str, str, int], ...], *, cores: bool) -> str:
    """One pass that finds whether a text holds a card or phone number, or a secret or IBAN marker.

    ``cores``: the context-free form, for serialised requests.
    """
    branches = [(first, rest) for first, rest, _ in markers]
    for p in numbers:
        rest = p.rest if cores else p.branch().removeprefix(f"(?<={p.first})")
        branches.append((p.first, _NUMBER_LEAD + rest))
    return _alternatives(branches)


def _markers(markers: tuple[tuple[str, str, int], ...]) -> tuple[re.Pattern[str], dict[str, int]]:
    """The markers as one regex whose group names tell which pattern each one calls for."""
    branches: list[tuple[str, str]] = []
    wanted: dict[str, int] = {}
    for i, (first, rest, index) in enumerate(markers):
        for j, ch in enumerate(_chars(first)):
            wanted[f"m{i}_{j}"] = index
            branches.append((re.escape(ch), f"(?P<m{i}_{j}>{rest})"))
    return re.compile(_alternatives(branches)), wanted


_SECRET_MARKERS, _SECRET_WANTED = _markers(_SECRET_GUARD)
_IBAN_MARKER = re.compile(_finder([], _IBAN_GUARD, cores=False))


class Scanner:
    """Finds the enabled patterns in strings (:meth:`sub`) and in serialised requests (:meth:`might_match`).

    ``custom`` patterns run first, in a pass of their own, as written (the operator's own are the
    most specific); with any of them :meth:`might_match` always answers True, since their context
    assertions could fail at a string's edge inside the serialised bytes.
    """

    def __init__(self, enabled: set[str], custom: dict[str, str]) -> None:
        self.kinds = sorted(enabled | set(custom))
        self._emails_on = "email" in enabled
        self._secrets_on = "secret" in enabled
        self._iban_on = "iban" in enabled
        self._numbers = [p for name in ("card", "phone") if name in enabled for p in BUILTINS[name]]
        self._plans: dict[tuple[frozenset[int], bool], tuple[re.Pattern[str], dict[str, Pattern]] | None] = {}
        self._custom: re.Pattern[str] | None = None
        self._custom_kinds: dict[str, str] = {}
        if custom:
            self._custom = re.compile(
                "|".join(f"(?P<c{i}>{regex})" for i, regex in enumerate(custom.values()))
            )
            self._custom_kinds = {f"c{i}": name for i, name in enumerate(custom)}
        self.min_length = 1 if custom else 6
        markers = (_SECRET_GUARD if self._secrets_on else ()) + (_IBAN_GUARD if self._iban_on else ())
        self._finder: re.Pattern[str] | None = None
        self._finder_bytes: re.Pattern[bytes] | None = None
        if self._numbers or markers:
            self._finder = re.compile(_finder(self._numbers, markers, cores=False))
            self._finder_bytes = re.compile(_finder(self._numbers, markers, cores=True).encode())

    # -- requests -----------------------------------------------------------------------------

    def might_match(self, raw: bytes) -> bool:
        """False when no string inside ``raw`` can hold a match (context-free, so never wrongly False)."""
        if self._custom is not None:
            return True
        if self._emails_on and b"@" in raw and _EMAIL_DOMAIN_BYTES.search(raw):
            return True
        return self._finder_bytes is not None and self._finder_bytes.search(raw) is not None

    # -- strings ------------------------------------------------------------------------------

    def sub(self, s: str, replace: Replace) -> str:
        """``s`` with each match replaced by ``replace(kind, text)``; ``s`` itself if none."""
        if len(s) < self.min_length:
            return s
        out = s
        if self._custom is not None:
            out = self._custom.sub(lambda m: self._custom_match(m, replace), out)
        if self._emails_on and "@" in out:
            out = self._emails(out, replace)
        # One pass finds most texts clean; the others get the patterns their markers call for.
        if self._finder is not None and self._finder.search(out) is not None:
            secrets = (
                frozenset(_SECRET_WANTED[m.lastgroup or ""] for m in _SECRET_MARKERS.finditer(out))
                if self._secrets_on
                else _NONE
            )
            iban = self._iban_on and _IBAN_MARKER.search(out) is not None
            key = (secrets, iban)
            plan = self._plans[key] if key in self._plans else self._plan(secrets, iban)
            if plan is not None:
                regex, by_group = plan
                out = regex.sub(lambda m: self._builtin_match(m, by_group, replace), out)
        return s if out == s else out

    def _plan(self, secrets: frozenset[int], iban: bool) -> tuple[re.Pattern[str], dict[str, Pattern]] | None:
        """The regex of the secret patterns whose markers were found, numbers and maybe IBANs."""
        patterns = [_SECRETS[i] for i in sorted(secrets)] + self._numbers + ([_IBAN] if iban else [])
        plan = _joined(patterns) if patterns else None
        self._plans[(secrets, iban)] = plan
        return plan

    def _custom_match(self, m: re.Match[str], replace: Replace) -> str:
        assert m.lastgroup is not None
        return replace(self._custom_kinds[m.lastgroup], m.group())

    @staticmethod
    def _builtin_match(m: re.Match[str], by_group: dict[str, Pattern], replace: Replace) -> str:
        assert m.lastgroup is not None
        pattern = by_group[m.lastgroup]
        text = m.group()
        if pattern.validate is not None and not pattern.validate(text):
            return text
        keep = pattern.keep(text) if pattern.keep is not None else 0
        return text[:keep] + replace(pattern.kind, text[keep:])

    @staticmethod
    def _emails(s: str, replace: Replace) -> str:
        parts: list[str] = []
        last = 0
        for m in _EMAIL_DOMAIN.finditer(s):
            at = start = m.start()
            while start > last and at - start <= _MAX_LOCAL and s[start - 1] in _LOCAL_CHARS:
                start -= 1
            if at - start > _MAX_LOCAL:
                continue  # a longer run than a local part may be
            if start > 0 and s[start - 1] == "\\":
                start += 1  # "\nbob@…": the n belongs to the escape
            if start >= at:
                continue
            parts.append(s[last:start])
            parts.append(replace("email", s[start : m.end()]))
            last = m.end()
        if not parts:
            return s
        parts.append(s[last:])
        return "".join(parts)
