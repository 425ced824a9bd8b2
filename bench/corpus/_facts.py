"""Typed facts for the corpus's knowledge base: each value in its canonical form (as the documents
write it), an equivalent form in other words or another format (for answers that restate the
context, which are grounded), and a different value (for answers that are not grounded).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FACT_KINDS", "Fact", "number_words"]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def number_words(n: int) -> str:
    """English words for 0 <= n < 1000 ("forty-five", "one hundred twenty")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")


@dataclass(frozen=True, slots=True)
class Fact:
    canon: str
    alt: str
    wrong: str


def _other(rng: random.Random, n: int, lo: int, hi: int) -> int:
    while True:
        m = rng.randint(lo, hi)
        if m != n and abs(m - n) >= 2:
            return m


def _span(unit: str, lo: int, hi: int) -> Callable[[random.Random], Fact]:
    def make(rng: random.Random) -> Fact:
        n = rng.randint(lo, hi)
        w = _other(rng, n, lo, hi * 2)
        return Fact(f"{n} {unit}", f"{number_words(n)} {unit}", f"{w} {unit}")

    return make


def _money(lo: int, hi: int, step: int = 1) -> Callable[[random.Random], Fact]:
    def make(rng: random.Random) -> Fact:
        n = rng.randrange(lo, hi + 1, step)
        w = _other(rng, n // step, lo // step, hi // step * 2) * step
        alt = rng.choice([f"{n} dollars", f"USD {n}", f"{n}.00 dollars"])
        return Fact(f"${n:,}", alt, f"${w:,}")

    return make


def _percent(rng: random.Random) -> Fact:
    choices = ["1.5", "2", "2.5", "3", "3.5", "4", "5", "7.5"]
    value = rng.choice(choices)
    wrong = rng.choice([c for c in choices if c != value])
    return Fact(f"{value}%", f"{value} percent", f"{wrong}%")


def _clock(hours: tuple[int, ...], wrong_hours: tuple[int, ...]) -> Callable[[random.Random], Fact]:
    def make(rng: random.Random) -> Fact:
        hour = rng.choice(hours)
        wrong = rng.choice(wrong_hours)
        twelve = hour - 12 if hour > 12 else hour
        suffix = "pm" if hour >= 12 else "am"
        alt = rng.choice([f"{twelve} {suffix}", f"{twelve}:00 {suffix.upper()}"])
        return Fact(f"{hour}:00", alt, f"{wrong}:00")

    return make


def _date(rng: random.Random) -> Fact:
    year = rng.choice([2024, 2025])
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    w_month = _other(rng, month, 1, 12)
    w_day = rng.randint(1, 28)
    canon = f"{_MONTHS[month - 1]} {day}, {year}"
    alt = rng.choice([f"{year}-{month:02d}-{day:02d}", f"{day} {_MONTHS[month - 1]} {year}"])
    return Fact(canon, alt, f"{_MONTHS[w_month - 1]} {w_day}, {year}")


def _phone(rng: random.Random) -> Fact:
    a, b = rng.randint(100, 999), rng.randint(1000, 9999)
    w = rng.randint(1000, 9999)
    return Fact(f"+1-800-{a}-{b}", f"1 800 {a} {b}", f"+1-800-{a}-{w}")


def _count(lo: int, hi: int) -> Callable[[random.Random], Fact]:
    def make(rng: random.Random) -> Fact:
        n = rng.randint(lo, hi)
        return Fact(str(n), number_words(n), str(_other(rng, n, lo, hi * 2 + 2)))

    return make


def _quantity(unit: str, alt_unit: str, lo: int, hi: int, step: int = 1) -> Callable[[random.Random], Fact]:
    def make(rng: random.Random) -> Fact:
        n = rng.randrange(lo, hi + 1, step)
        w = _other(rng, n // step, lo // step, hi // step * 2) * step
        return Fact(f"{n} {unit}", f"{n} {alt_unit}", f"{w} {unit}")

    return make


FACT_KINDS: dict[str, Callable[[random.Random], Fact]] = {
    "days": _span("days", 7, 45),
    "business_days": _span("business days", 2, 10),
    "weeks": _span("weeks", 6, 26),
    "months": _span("months", 3, 18),
    "years": _span("years", 2, 10),
    "hours": _span("hours", 12, 72),
    "minutes": _span("minutes", 15, 90),
    "seconds": _span("seconds", 5, 120),
    "vacation_days": _span("days", 15, 30),
    "password_days": _span("days", 30, 120),
    "money_small": _money(5, 60),
    "money_mid": _money(40, 400, 10),
    "money_large": _money(200, 2500, 50),
    "percent": _percent,
    "clock": _clock((12, 13, 14, 15, 16), (10, 11, 17, 18)),
    "closing": _clock((17, 18, 19, 20, 21), (14, 15, 16, 22, 23)),
    "date": _date,
    "phone": _phone,
    "count": _count(2, 9),
    "kg": _quantity("kg", "kilograms", 7, 32),
    "gb": _quantity("GB", "gigabytes", 10, 200, 10),
    "requests": _quantity("requests per minute", "requests a minute", 60, 1200, 60),
}
