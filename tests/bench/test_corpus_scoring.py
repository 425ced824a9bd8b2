"""The detector benchmark's scoring (labels × detected rows → precision, recall, F1) and the fake
OpenAI server it records the corpus against, driven by the real ``openai`` client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.extend([str(BENCH), str(BENCH / "corpus")])

import _corpus_replay as replay  # noqa: E402
import bench_detectors as bd  # noqa: E402
from fake_openai import EmbeddingReply, FakeOpenAI, Reply  # noqa: E402
from scenarios import SIGNALS  # noqa: E402

T1, T2, T3, T4, T5 = (f"{i:032x}" for i in range(1, 6))


def _labels() -> list[dict[str, Any]]:
    return [
        {
            "session_id": "s1",
            "library": "openai-v2",
            "scenario": "rephrase.pos.adjacent_plain",
            "split": "dev",
            "expected": [{"trace_id": T1, "signal": "rephrase"}],
            "hard_negative_for": [],
            "turns": [T1, T2],
        },
        {
            "session_id": "s2",
            "library": "traceloop",
            "scenario": "abandoned_session.pos.ends_error",
            "split": "dev",
            "expected": [
                {"trace_id": T4, "signal": "error"},
                {"trace_id": T4, "signal": "abandoned_session"},
            ],
            "hard_negative_for": [],
            "turns": [T3, T4],
        },
    ]


def test_true_and_false_positives_and_negatives_per_signal() -> None:
    rows = [
        (T1, "s1", "rephrase"),  # TP
        (T2, "s1", "rephrase"),  # FP: the later turn, not the rejected answer
        (T4, "s2", "error"),  # TP
        (T3, "s2", "refusal"),  # FP
    ]
    scores = bd.score(_labels(), rows)
    rephrase, error, abandoned, refusal = (
        scores[s] for s in ("rephrase", "error", "abandoned_session", "refusal")
    )
    assert (rephrase.tp, rephrase.fp, rephrase.fn) == (1, 1, 0)
    assert (rephrase.precision, rephrase.recall) == (0.5, 1.0)
    assert rephrase.f1 == pytest.approx(2 / 3)
    assert (error.tp, error.fp, error.fn) == (1, 0, 0)
    assert (abandoned.tp, abandoned.fp, abandoned.fn) == (0, 0, 1)
    assert abandoned.recall == 0.0 and abandoned.f1 == 0.0
    assert (refusal.tp, refusal.fp, refusal.fn) == (0, 1, 0)
    assert refusal.precision == 0.0
    assert rephrase.false_positives == [bd.Miss(T2, "s1", "rephrase.pos.adjacent_plain", "openai-v2")]
    assert abandoned.false_negatives == [bd.Miss(T4, "s2", "abandoned_session.pos.ends_error", "traceloop")]
    # Every built-in signal is reported, even with nothing expected and nothing found.
    assert set(SIGNALS) <= set(scores)
    quiet = scores["latency_outlier"]
    assert (quiet.tp, quiet.fp, quiet.fn, quiet.precision, quiet.recall) == (0, 0, 0, 1.0, 1.0)


def test_duplicates_count_once_and_trace_ids_match_case_insensitively() -> None:
    rows = [(T1.upper(), "s1", "rephrase"), (T1, "s1", "rephrase"), (T1, "other-session", "rephrase")]
    scores = bd.score(_labels(), rows)
    assert (scores["rephrase"].tp, scores["rephrase"].fp) == (1, 0)


def test_the_signal_must_match_not_only_the_trace() -> None:
    scores = bd.score(_labels(), [(T4, "s2", "truncated")])
    assert (scores["truncated"].fp, scores["error"].fn, scores["error"].tp) == (1, 1, 0)


def test_rows_outside_the_corpus_and_unknown_signals_are_false_positives() -> None:
    scores = bd.score(_labels(), [(T5, "heartbeat", "error"), (T1, "s1", "vibes")])
    assert scores["error"].false_positives == [bd.Miss(T5, "heartbeat", "(not in the corpus)", "")]
    assert (scores["vibes"].tp, scores["vibes"].fp) == (0, 1)


def test_micro_average_and_the_bar() -> None:
    rows = [(T1, "s1", "rephrase"), (T4, "s2", "error"), (T4, "s2", "abandoned_session"), (T3, "s2", "error")]
    scores = bd.score(_labels(), rows)
    total = bd.micro(scores)
    assert (total.tp, total.fp, total.fn) == (3, 1, 0)
    assert total.precision == 0.75
    assert bd.below(scores, 0.9) == ["error"]
    assert bd.below(scores, 0.5) == []


def test_nothing_detected_fails_recall_but_raises_no_false_alarm() -> None:
    scores = bd.score(_labels(), [])
    assert scores["rephrase"].precision == 1.0
    assert scores["rephrase"].recall == 0.0
    assert "rephrase" in bd.below(scores, 0.9)


def test_send_order_interleaves_requests_and_feedback(tmp_path: Path) -> None:
    (tmp_path / "0001_traces.pb").write_bytes(b"")
    (tmp_path / "0003_logs.pb").write_bytes(b"")
    body = {"trace_id": T1, "thumbs": "down"}
    (tmp_path / "feedback.jsonl").write_text(json.dumps({"seq": 2, "timing": "before", "body": body}) + "\n")
    order = replay.send_order(tmp_path)
    assert [(seq, kind) for seq, kind, _ in order] == [(1, "traces"), (2, "feedback"), (3, "logs")]
    assert order[1][2] == body


def test_heartbeat_names_every_service_and_carries_no_session() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(replay.heartbeat_request(["a", "b"], 1_000))
    services = [rs.resource.attributes[0].value.string_value for rs in request.resource_spans]
    assert services == ["a", "b"]
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert {s.start_time_unix_nano for s in spans} == {1_000}
    assert all(not s.attributes for s in spans)


# -- the fake OpenAI server, through the real client ------------------------------------------


@pytest.fixture
def server() -> Any:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def client(server: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


MESSAGES: list[Any] = [{"role": "user", "content": "How long do refunds take?"}]


def test_plain_completion(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.script(Reply("Refunds take 14 days.", delay_s=0.0))
    response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)
    choice = response.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Refunds take 14 days.", "stop")
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.id.startswith("chatcmpl-")
    assert response.usage is not None and response.usage.completion_tokens == 4
    assert server.received[0].body["messages"] == MESSAGES
    assert server.pending() == 0


def test_streamed_completion_with_usage(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.script(Reply("Refunds take fourteen days.", finish_reason="length", delay_s=0.0))
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text, finish, usage = [], None, None
    for chunk in stream:
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        else:
            usage = chunk.usage
    assert ("".join(text), finish) == ("Refunds take fourteen days.", "length")
    assert usage is not None and usage.completion_tokens == 4


def test_refusal_field_and_content_filter(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.script(
        Reply(None, refusal="I can't help with that.", delay_s=0.0),
        Reply("", finish_reason="content_filter", delay_s=0.0),
    )
    refused = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0]
    assert (refused.message.content, refused.message.refusal) == (None, "I can't help with that.")
    filtered = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0]
    assert (filtered.message.content, filtered.finish_reason) == ("", "content_filter")


def test_streamed_refusal_arrives_in_refusal_deltas(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.script(Reply(None, refusal="No, sorry.", delay_s=0.0))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    parts = [c.choices[0].delta.refusal or "" for c in stream if c.choices]
    assert "".join(parts) == "No, sorry."


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, openai.InternalServerError), (429, openai.RateLimitError), (400, openai.BadRequestError)],
)
def test_http_errors_raise_the_clients_errors(
    server: FakeOpenAI, client: openai.OpenAI, status: int, error: type[Exception]
) -> None:
    server.script(Reply(status=status, delay_s=0.0), Reply("fine", delay_s=0.0))
    with pytest.raises(error):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    # One scripted reply per request: the next request gets the next reply.
    assert (
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices[0].message.content
        == "fine"
    )


def test_embeddings_are_deterministic(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.script_embedding(EmbeddingReply(delay_s=0.0), EmbeddingReply(delay_s=0.0))
    first = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    again = client.embeddings.create(model="text-embedding-3-small", input="a")
    assert len(first.data) == 2
    assert first.data[0].embedding == pytest.approx(again.data[0].embedding, abs=1e-6)
    assert first.data[0].embedding != first.data[1].embedding


def test_an_empty_script_answers_a_default_reply(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.default_delay = lambda: 0.0
    choice = client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES).choices[0]
    assert (choice.message.content, choice.finish_reason) == ("OK.", "stop")
