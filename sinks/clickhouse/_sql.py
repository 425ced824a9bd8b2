"""Just enough SQL lexing to split statements and find their first keyword.

ClickHouse's HTTP interface runs one statement per request while chDB accepts several
separated by ``;``. The sink splits migration files itself and refuses multi-statement
queries, so that both DSNs behave the same (DESIGN.md: one code path, two DSNs).
"""

from __future__ import annotations

import re

__all__ = ["first_keyword", "split_statements", "words"]

_WORD = re.compile(r"[A-Za-z_]+")


def _skip_quoted(sql: str, i: int) -> int:
    """Index just past the quoted token starting at ``sql[i]`` (backslash escapes honoured)."""
    quote = sql[i]
    n = len(sql)
    i += 1
    while i < n:
        c = sql[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and sql[i + 1] == quote:  # doubled quote: 'it''s'
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _skip_comment(sql: str, i: int) -> int:
    """Index just past the comment starting at ``sql[i]``, or ``i`` if there is none."""
    if sql.startswith("--", i) or sql[i] == "#":
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end + 1
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        return len(sql) if end < 0 else end + 2
    return i


def split_statements(sql: str) -> list[str]:
    """Split ``sql`` on top-level ``;`` (outside quotes and comments); drops empty statements.

    >>> split_statements("SELECT ';'; -- x;\\nSELECT 2;")
    ["SELECT ';'", '-- x;\\nSELECT 2']
    """
    statements: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            i = _skip_quoted(sql, i)
        elif c in "-#/":
            j = _skip_comment(sql, i)
            i = j if j > i else i + 1
        elif c == ";":
            statements.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if first_keyword(s)]


def words(sql: str) -> list[str]:
    """The bare words of ``sql`` outside quotes and comments, upper-cased, in order."""
    found: list[str] = []
    i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            i = _skip_quoted(sql, i)
            continue
        j = _skip_comment(sql, i)
        if j > i:
            i = j
            continue
        m = _WORD.match(sql, i)
        if m:
            found.append(m.group(0).upper())
            i = m.end()
        else:
            i += 1
    return found


def first_keyword(sql: str) -> str:
    """The statement's first word, upper-cased, skipping comments and opening parentheses."""
    i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c.isspace() or c == "(":
            i += 1
            continue
        j = _skip_comment(sql, i)
        if j > i:
            i = j
            continue
        m = _WORD.match(sql, i)
        return m.group(0).upper() if m else ""
    return ""
