"""The small pure parts: statement splitting and the dedupe key set."""

from __future__ import annotations

from tracesieve.collector.contracts import CanonicalSpan
from tracesieve.sinks.clickhouse._dedupe import RecentKeys, span_key
from tracesieve.sinks.clickhouse._sql import first_keyword, split_statements, words


def test_split_statements_respects_quotes_and_comments() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE a (s String DEFAULT ';') ENGINE = Memory;
    /* block; comment */ INSERT INTO a VALUES ('it''s; fine'), ("q;"), (`b;`);
    # hash comment;
    SELECT 'escaped \\' ;' ;
    ;
    """
    statements = split_statements(sql)
    assert len(statements) == 3
    assert [first_keyword(s) for s in statements] == ["CREATE", "INSERT", "SELECT"]
    assert split_statements("SELECT 1;") == ["SELECT 1"]
    assert split_statements("  ;  -- only a comment\n") == []


def test_first_keyword_and_words() -> None:
    assert first_keyword("/* x */ ((select 1))") == "SELECT"
    assert first_keyword("-- c\n  show tables") == "SHOW"
    assert first_keyword("") == ""
    assert words("SELECT 'INTO OUTFILE' -- INTO OUTFILE\n INTO /* */ outfile") == [
        "SELECT",
        "INTO",
        "OUTFILE",
    ]


def test_recent_keys_expire_by_window() -> None:
    keys = RecentKeys(window_s=10, max_keys=100)
    keys.add(["a", "b"], at=100.0)
    keys.add(["b", "c"], at=105.0)  # "b" is already known: not added twice
    assert len(keys) == 3 and "b" in keys
    keys.expire(now=111.0)  # the bucket at 100 is older than 10 s
    assert "a" not in keys and "b" not in keys and "c" in keys
    keys.expire(now=200.0)
    assert len(keys) == 0


def test_recent_keys_are_bounded_oldest_first() -> None:
    keys = RecentKeys(window_s=3600, max_keys=5)
    keys.add(["a", "b", "c"], at=1.0)
    keys.add(["d", "e", "f", "g"], at=2.0)
    assert len(keys) == 5
    assert "a" not in keys and "b" not in keys and all(k in keys for k in "cdefg")
    keys.add(list("vwxyz"), at=3.0)
    assert sorted(k for k in "abcdefgvwxyz" if k in keys) == list("vwxyz")


def test_a_zero_window_keeps_nothing() -> None:
    keys = RecentKeys(window_s=0, max_keys=100)
    keys.add(["a"], at=1.0)
    assert len(keys) == 0


def test_span_key_is_trace_and_span_id() -> None:
    span = CanonicalSpan(
        trace_id="ab" * 16, span_id="cd" * 8, parent_span_id="", name="x", start_ns=0, end_ns=0
    )
    assert span_key(span) == f"{'ab' * 16}:{'cd' * 8}"
