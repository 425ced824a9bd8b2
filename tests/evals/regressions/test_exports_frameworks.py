"""Each export loads in its framework's own package, offline, and matches the documented schema.

DeepEval, Braintrust and LangSmith are the dev extra's PyPI packages; promptfoo is the npm
package that scripts/setup.sh installs under .cache/node (checked with its own `promptfoo validate`,
which loads the tests file and validates it against promptfoo's schema). OpenAI's `evals` does
not install beside tracesieve (it pins tensorflow and an older protobuf): its files are checked
against the registry's documented format, as its Match and ModelBasedClassify evals read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict
from tracesieve.evals.regressions.exports import FORMATS
from tracesieve.evals.regressions.exports.openai_evals import EVAL_ID, EVAL_NAME
from tracesieve.evals.regressions.record import EvalCase

from .regressions_testkit import chained, sample_record

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
PROMPTFOO = Path(__file__).resolve().parents[3] / ".cache" / "node" / "node_modules" / ".bin" / "promptfoo"
CASES = chained(
    [
        sample_record(1, categories=["retrieval", "hallucination"], tags=["vip"], incident_id="INC-1"),
        sample_record(
            2, expected="", criteria="", output="Sorry, I can't help with that.", categories=["refusal"]
        ),
        sample_record(
            3, input="ünïcödé: «what is {{this}}?»", retrieved_documents=["a plain string document"]
        ),
    ]
)


def _export(name: str, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    fmt = FORMATS[name]
    data_file = fmt.write([fmt.entry(c) for c in CASES], tmp_path / fmt.default_out)
    return data_file, fmt.read(data_file)


def _ids(entries: list[dict[str, Any]], name: str) -> list[str]:
    return [str(FORMATS[name].ref(e)["case_id"]) for e in entries]  # type: ignore[index]


# -- DeepEval -----------------------------------------------------------------------------------


class DeepEvalGolden(BaseModel):
    """deepeval.dataset.Golden's JSON keys (docs: "Datasets", loading goldens from JSON)."""

    model_config = ConfigDict(extra="forbid")
    input: str
    actual_output: str | None = None
    expected_output: str | None = None
    context: list[str] | None = None
    retrieval_context: list[str] | None = None
    comments: str | None = None
    name: str | None = None
    additional_metadata: dict[str, Any] | None = None


def test_deepeval_loads_the_goldens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # deepeval keeps a .deepeval folder in the working directory
    from deepeval.dataset import EvaluationDataset
    from deepeval.test_case import LLMTestCase

    data_file, entries = _export("deepeval", tmp_path)
    for entry in entries:
        DeepEvalGolden.model_validate(entry)
    dataset = EvaluationDataset()
    dataset.add_goldens_from_json_file(str(data_file))
    goldens = dataset.goldens
    assert [g.input for g in goldens] == [c.record.input for c in CASES]
    assert goldens[0].expected_output == "expected answer 1"
    assert goldens[0].context == ["user: hi", "assistant: hello"]
    assert goldens[0].retrieval_context == ["Policy paragraph 1."]
    assert goldens[0].comments == "mentions rule 1"
    assert goldens[1].comments is not None and "Sorry, I can't help with that." in goldens[1].comments
    assert [g.additional_metadata["case_id"] for g in goldens] == [c.case_id for c in CASES]  # type: ignore[index]
    # What a user does next: turn each golden into a test case with the app's new answer.
    for g in goldens:
        LLMTestCase(input=g.input, actual_output="new answer", expected_output=g.expected_output,
                    context=g.context, retrieval_context=g.retrieval_context)  # fmt: skip


# -- promptfoo -------------------------------------------------------------------------------------


class PromptfooAssertion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["similar", "llm-rubric"]
    value: str
    threshold: float | None = None


class PromptfooTest(BaseModel):
    """A test case of a promptfoo tests file (docs: "Test cases", config reference)."""

    model_config = ConfigDict(extra="forbid")
    description: str
    vars: dict[str, str]  # strings: a list-valued var would expand into one test per element
    assert_: list[PromptfooAssertion]
    metadata: dict[str, Any]


def _promptfoo(config: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(config.parent / ".promptfoo"),
    }
    return subprocess.run(
        [str(PROMPTFOO), "validate", "-c", str(config)],
        cwd=config.parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_promptfoo_validates_the_tests_file(tmp_path: Path) -> None:
    assert PROMPTFOO.exists(), f"promptfoo is not installed at {PROMPTFOO} (scripts/setup.sh installs it)"
    data_file, entries = _export("promptfoo", tmp_path)
    for entry in entries:
        PromptfooTest.model_validate({("assert_" if k == "assert" else k): v for k, v in entry.items()})
    assert entries[0]["assert"][0] == {"type": "similar", "value": "expected answer 1", "threshold": 0.8}
    assert _ids(entries, "promptfoo") == [c.case_id for c in CASES]
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(yaml.safe_dump(
        {"prompts": ["{{history}}\nuser: {{input}}"], "providers": ["echo"], "tests": f"file://{data_file.name}"}
    ))  # fmt: skip
    result = _promptfoo(config)
    assert result.returncode == 0 and "Configuration is valid" in result.stdout, result.stdout + result.stderr
    # The check has teeth: a malformed assertion in the same file is refused.
    entries[1]["assert"][0]["threshold"] = "high"
    data_file.write_text(yaml.safe_dump(entries))
    broken = _promptfoo(config)
    assert broken.returncode != 0 and "Invalid assertion" in broken.stdout + broken.stderr


# -- Braintrust ------------------------------------------------------------------------------------


class BraintrustRecord(BaseModel):
    """A dataset record as ``init_dataset().insert(**record)`` and ``Eval(data=...)`` take it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    input: dict[str, Any]
    expected: str | None = None
    metadata: dict[str, Any]
    tags: list[str]


def test_braintrust_runs_a_local_eval_over_the_records(tmp_path: Path) -> None:
    from braintrust import Eval
    from braintrust.framework import EvalCase as BraintrustCase

    _, entries = _export("braintrust", tmp_path)
    for entry in entries:
        BraintrustRecord.model_validate(entry)
    data = [BraintrustCase(**entry) for entry in entries]
    assert [d.id for d in data] == [c.case_id for c in CASES]
    assert data[0].tags == ["hallucination", "retrieval", "vip"]

    def answered(input: Any, output: Any, expected: Any, **_: Any) -> float:
        return 1.0 if output == input["input"] else 0.0

    result = Eval("tracesieve-regressions", data=lambda: data, task=lambda input: input["input"],
                  scores=[answered], no_send_logs=True)  # fmt: skip
    assert [r.scores["answered"] for r in result.results] == [1.0, 1.0, 1.0]
    assert [r.metadata["case_id"] for r in result.results] == [c.case_id for c in CASES]  # type: ignore[index]


# -- LangSmith -------------------------------------------------------------------------------------


def test_langsmith_builds_the_examples_create_examples_uploads(tmp_path: Path) -> None:
    from langsmith.schemas import Example, ExampleCreate

    _, entries = _export("langsmith", tmp_path)
    for entry, case in zip(entries, CASES, strict=True):
        assert set(entry) <= set(ExampleCreate.model_fields)
        created = ExampleCreate(**entry)  # what Client.create_examples does with each dict
        assert created.id == uuid.UUID(hex=case.case_id[:32])
        assert created.inputs is not None and created.inputs["input"] == case.record.input
        assert created.reference_outputs is not None and created.reference_outputs["criteria"]
        assert created.model_dump(by_alias=True)["outputs"] == entry["reference_outputs"]
        example = Example(id=created.id, inputs=created.inputs, outputs=created.reference_outputs,
                          metadata=created.metadata)  # fmt: skip
        assert example.metadata is not None and example.metadata["case_id"] == case.case_id
    assert entries[1]["reference_outputs"] == {"criteria": entries[1]["reference_outputs"]["criteria"]}


# -- OpenAI evals ----------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class OpenAIEvalsSample(BaseModel):
    """A registry sample: chat ``input`` and ``ideal`` (a string or list of strings), plus the
    ``criteria`` that the ``closedqa`` model-graded spec formats into its prompt."""

    model_config = ConfigDict(extra="allow")
    input: list[ChatMessage]
    ideal: str | list[str]
    criteria: str


def test_openai_evals_registry_follows_the_documented_layout(tmp_path: Path) -> None:
    samples_file, entries = _export("openai-evals", tmp_path)
    registry = tmp_path / FORMATS["openai-evals"].default_out
    spec = yaml.safe_load((registry / "evals" / f"{EVAL_NAME}.yaml").read_text())
    assert spec[EVAL_NAME] == {
        "id": EVAL_ID,
        "description": spec[EVAL_NAME]["description"],
        "metrics": ["accuracy"],
    }
    module, _, cls = spec[EVAL_ID]["class"].partition(":")
    assert (module, cls) == ("evals.elsuite.modelgraded.classify", "ModelBasedClassify")
    assert spec[EVAL_ID]["args"]["modelgraded_spec"] == "closedqa"
    # samples_jsonl is relative to the registry's data folder (evals.registry resolves it so).
    assert (registry / "data" / spec[EVAL_ID]["args"]["samples_jsonl"]) == samples_file
    for entry in entries:
        sample = OpenAIEvalsSample.model_validate(entry)
        assert sample.input[-1].role == "user" and sample.criteria
    assert [m["role"] for m in entries[0]["input"]] == ["user", "assistant", "user"]
    assert [json.loads(line)["tracesieve"]["case_id"] for line in samples_file.read_text().splitlines()] == [
        c.case_id for c in CASES
    ]


# -- plain JSONL -----------------------------------------------------------------------------------


def test_plain_jsonl_keeps_everything_and_rehashes_to_its_ids(tmp_path: Path) -> None:
    _, entries = _export("jsonl", tmp_path)
    loaded = [EvalCase.from_json(e) for e in entries]
    assert loaded == CASES
    assert all(c.record.case_id() == c.case_id for c in loaded)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_entry_carries_its_case_id_seq_and_chain_hash(name: str, tmp_path: Path) -> None:
    _, entries = _export(name, tmp_path)
    refs = [FORMATS[name].ref(e) for e in entries]
    assert [(r["case_id"], r["seq"], r["chain_hash"]) for r in refs if r] == [
        (c.case_id, c.seq, c.chain_hash) for c in CASES
    ]
