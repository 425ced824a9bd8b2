"""The verdict file: every documented form of a case and a verdict, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.calibration.verdicts import judge_name, parse_verdicts, read_verdict_file, verdict_rows
from tracesieve.evals.ids import review_case_id

TRACE = "4BF92F3577B34DA6A3CE929D0E0E4736"
SPAN = "00f067aa0ba902b7"


def one(obj: dict[str, object], threshold: float | None = None) -> tuple[str, str]:
    [v] = parse_verdicts([json.dumps(obj)], threshold=threshold)
    return v.case_id, v.verdict


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        ({"verdict": "bad"}, "bad"),
        ({"verdict": "Fine"}, "fine"),
        ({"verdict": "FAIL"}, "bad"),
        ({"verdict": "pass"}, "fine"),
        ({"label": "incorrect"}, "bad"),
        ({"result": "passed"}, "fine"),
        ({"verdict": True}, "fine"),
        ({"verdict": False}, "bad"),
        ({"pass": True}, "fine"),
        ({"passed": False}, "bad"),
        ({"success": True}, "fine"),
        ({"fail": True}, "bad"),
        ({"failed": False}, "fine"),
        ({"verdict": "bad", "score": 0.99}, "bad"),  # an explicit verdict wins over a score
    ],
)
def test_verdict_forms(fields: dict[str, object], verdict: str) -> None:
    assert one({"case_id": "c1", **fields}) == ("c1", verdict)


def test_scores_need_a_threshold_and_split_at_it() -> None:
    assert one({"case_id": "c", "score": 0.7}, threshold=0.7) == ("c", "fine")
    assert one({"case_id": "c", "score": 0.69}, threshold=0.7) == ("c", "bad")
    with pytest.raises(PermanentError, match=r"input:1: a verdict given as a score needs --threshold"):
        one({"case_id": "c", "score": 0.7})


def test_a_case_named_by_its_span_gets_the_review_case_id() -> None:
    case_id, _ = one({"trace_id": TRACE, "span_id": SPAN, "verdict": "bad"})
    assert case_id == review_case_id(TRACE.lower(), SPAN)


def test_optional_fields_comments_and_the_last_line_per_case() -> None:
    lines = [
        "# a comment",
        "",
        json.dumps({"case_id": "c1", "verdict": "bad", "category": " retrieval ", "judge": "j"}),
        json.dumps({"case_id": "c2", "verdict": "fine", "output": "ok", "rationale": "fine", "judged_at": 5}),
        json.dumps({"case_id": "c1", "verdict": "fine", "judged_at": "2026-01-01T00:00:00Z"}),
    ]
    first, second = parse_verdicts(lines)
    assert (second.case_id, second.verdict, second.judged_at_ms) == ("c1", "fine", 1_767_225_600_000)
    assert (first.output, first.rationale, first.judged_at_ms) == ("ok", "fine", 5)
    rows = verdict_rows([first], "judge-x", 1000)
    assert rows == [
        {
            "Judge": "judge-x",
            "CaseId": "c2",
            "TraceId": "",
            "SpanId": "",
            "Verdict": "fine",
            "Score": None,
            "Category": "",
            "Rationale": "fine",
            "Output": "ok",
            "JudgedAt": 5,
            "ImportedAt": 1000,
        }
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"input:1: not JSON"),
        ("[1, 2]", r"input:1: expected a JSON object"),
        ('{"verdict": "bad"}', r"input:1: name the case with case_id, or trace_id and span_id"),
        ('{"case_id": "c"}', r"input:1: no verdict"),
        ('{"case_id": "c", "verdict": "meh"}', r"input:1: verdict 'meh' is neither bad/fail nor fine/pass"),
        ('{"case_id": "c", "score": "high"}', r"input:1: score must be a number"),
        ('{"case_id": 7, "verdict": "bad"}', r"input:1: case_id must be a string"),
        ('{"case_id": "c", "verdict": "bad", "judged_at": "yesterday"}', r"input:1: judged_at 'yesterday'"),
    ],
)
def test_a_bad_line_is_named(line: str, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        parse_verdicts([line])


def test_the_file_and_the_judge_name(tmp_path: Path) -> None:
    path = tmp_path / "gpt-judge.jsonl"
    path.write_text(
        '{"case_id": "a", "verdict": "bad"}\n\n{"case_id": "b", "verdict": "bad", "judge": "x"}\n'
    )
    verdicts = read_verdict_file(path)
    assert judge_name(verdicts, "explicit", path) == "explicit"
    assert judge_name(verdicts, None, path) == "x"
    assert judge_name(verdicts[:1], None, path) == "gpt-judge"
    two = parse_verdicts(
        ['{"case_id": "a", "verdict": "bad", "judge": "x"}', '{"case_id": "b", "pass": true, "judge": "y"}']
    )
    with pytest.raises(PermanentError, match=r"several judges \(x, y\): pick one with --judge-name"):
        judge_name(two, None, path)
    (tmp_path / "empty.jsonl").write_text("# nothing\n")
    with pytest.raises(PermanentError, match="no verdict in the file"):
        read_verdict_file(tmp_path / "empty.jsonl")
    with pytest.raises(PermanentError, match="cannot read the verdict file"):
        read_verdict_file(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"case_id": "a", "verdict": "bad"}\n{oops\n')
    with pytest.raises(PermanentError, match=rf"{bad}:2: not JSON"):
        read_verdict_file(bad)
