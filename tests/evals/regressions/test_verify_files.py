"""`verify --file`: an exported file checked into a repo, with a case deleted, edited or reordered."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tracesieve.evals.regressions.exports import FORMATS
from tracesieve.evals.regressions.exports.base import Entry, Format
from tracesieve.evals.regressions.exports.manifest import find_manifests, verify_export, write_manifest
from tracesieve.evals.regressions.record import EvalCase

from .regressions_testkit import chained, sample_record

# Where each format keeps the user's message: the field a person would edit.
INPUT_PATH: dict[str, tuple[Any, ...]] = {
    "deepeval": ("input",),
    "promptfoo": ("vars", "input"),
    "braintrust": ("input", "input"),
    "langsmith": ("inputs", "input"),
    "openai-evals": ("input", -1, "content"),
    "jsonl": ("record", "input"),
}


def _export(fmt: Format, tmp_path: Path, cases: list[EvalCase]) -> tuple[Path, Path]:
    out = tmp_path / fmt.default_out
    data_file = fmt.write([fmt.entry(c) for c in cases], out)
    chain = [(c.seq, c.case_id, c.chain_hash) for c in cases]
    manifest = write_manifest(data_file, fmt, cases, chain, {"max_cases": None})
    return out, manifest


def _rewrite(fmt: Format, out: Path, data_file: Path, change: Callable[[list[Entry]], None]) -> None:
    entries = fmt.read(data_file)
    change(entries)
    fmt.write(entries, out)


def _edit(path: tuple[Any, ...]) -> Callable[[list[Entry]], None]:
    def change(entries: list[Entry]) -> None:
        node: Any = entries[2]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = "an edited question"

    return change


def _kinds(report: dict[str, Any]) -> set[tuple[int, str, str]]:
    return {(p["seq"], p["case_id"], p["kind"]) for p in report["problems"]}


@pytest.fixture
def cases() -> list[EvalCase]:
    return chained([sample_record(i) for i in range(6)])


@pytest.mark.parametrize("name", list(FORMATS))
def test_an_intact_export_verifies(name: str, tmp_path: Path, cases: list[EvalCase]) -> None:
    fmt = FORMATS[name]
    out, manifest = _export(fmt, tmp_path, cases)
    assert find_manifests(out) == [manifest]
    report = verify_export(manifest, FORMATS)
    assert report["ok"], report["problems"]
    assert (report["format"], report["cases"], report["head"]["seq"]) == (name, 6, 6)


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("index", [0, 3, 5], ids=["first", "middle", "last"])
def test_a_case_deleted_from_the_file_is_named(
    name: str, index: int, tmp_path: Path, cases: list[EvalCase]
) -> None:
    fmt = FORMATS[name]
    out, manifest = _export(fmt, tmp_path, cases)
    data_file = manifest.with_name(manifest.name.removesuffix(".manifest.json"))
    _rewrite(fmt, out, data_file, lambda entries: entries.pop(index))
    report = verify_export(manifest, FORMATS)
    assert _kinds(report) == {(cases[index].seq, cases[index].case_id, "missing")}


@pytest.mark.parametrize("name", list(FORMATS))
def test_an_edited_case_is_named(name: str, tmp_path: Path, cases: list[EvalCase]) -> None:
    fmt = FORMATS[name]
    out, manifest = _export(fmt, tmp_path, cases)
    data_file = manifest.with_name(manifest.name.removesuffix(".manifest.json"))
    _rewrite(fmt, out, data_file, _edit(INPUT_PATH[name]))
    assert _kinds(verify_export(manifest, FORMATS)) == {(3, cases[2].case_id, "changed")}


@pytest.mark.parametrize("name", list(FORMATS))
def test_reordered_cases_are_named(name: str, tmp_path: Path, cases: list[EvalCase]) -> None:
    fmt = FORMATS[name]
    out, manifest = _export(fmt, tmp_path, cases)
    data_file = manifest.with_name(manifest.name.removesuffix(".manifest.json"))

    def swap(entries: list[Entry]) -> None:
        entries[1], entries[4] = entries[4], entries[1]

    _rewrite(fmt, out, data_file, swap)
    kinds = _kinds(verify_export(manifest, FORMATS))
    assert {(5, cases[4].case_id, "reordered"), (2, cases[1].case_id, "reordered")} <= kinds
    assert {k for _, _, k in kinds} == {"reordered"}


def test_a_line_deleted_by_hand_is_named(tmp_path: Path, cases: list[EvalCase]) -> None:
    out, manifest = _export(FORMATS["jsonl"], tmp_path, cases)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-1]))
    assert _kinds(verify_export(manifest, FORMATS)) == {(6, cases[5].case_id, "missing")}


def test_deleting_a_case_from_the_file_and_the_manifest_breaks_the_digest(
    tmp_path: Path, cases: list[EvalCase]
) -> None:
    fmt = FORMATS["braintrust"]
    out, manifest = _export(fmt, tmp_path, cases)
    _rewrite(fmt, out, out, lambda entries: entries.pop(5))
    body = json.loads(manifest.read_text())
    body["cases"].pop(5)
    body["chain"].pop(5)
    body["head"] = {"seq": 5, "chain_hash": cases[4].chain_hash}
    manifest.write_text(json.dumps(body))
    report = verify_export(manifest, FORMATS)
    assert not report["ok"]
    assert any("digest" in p["detail"] for p in report["problems"])


def test_a_missing_manifest_or_file_is_reported(tmp_path: Path, cases: list[EvalCase]) -> None:
    out, manifest = _export(FORMATS["deepeval"], tmp_path, cases)
    out.unlink()
    assert [p["detail"] for p in verify_export(manifest, FORMATS)["problems"]] == [
        "the exported file is missing"
    ]
    manifest.unlink()
    assert not verify_export(manifest, FORMATS)["ok"]
