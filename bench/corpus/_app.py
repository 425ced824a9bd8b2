"""The instrumented chat app the corpus is recorded from: one process per instrumentation library.

    python bench/corpus/_app.py PLAN.json OUT_DIR

``PLAN.json`` (written by ``generate.py``) names the library and lists the sessions to play, in
order. The app starts the fake OpenAI server and a capture server in threads, instruments the
real ``openai`` client with the library, and plays every turn as a trace of its own under a root
span ``chat_turn`` (the library's own way of naming sessions and users), with a manual retrieval
span in the library's convention where the turn retrieves documents. The SDK's real OTLP/HTTP
exporters send to the capture server, which saves every request body as ``NNNN_traces.pb`` /
``NNNN_logs.pb`` in OUT_DIR; ``manifest.json`` there records the trace and span ids of each turn.

The libraries and their set-up are in :mod:`_otel`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _otel import CaptureServer, setup
from fake_openai import EmbeddingReply, FakeOpenAI, Reply

EMBEDDING_MODEL = "text-embedding-3-small"


# -- one turn, per library ---------------------------------------------------------------------


class App:
    def __init__(self, library: str, server: FakeOpenAI, tracer_provider: Any, logger_provider: Any) -> None:
        import openai

        self.library = library
        self.server = server
        self.client = openai.OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
        self.tracer = tracer_provider.get_tracer("chat_app", "0.1.0")
        self.feedback_logger = logger_provider.get_logger("chat_app.feedback", "0.1.0")
        self.handler: Any = None
        if library.startswith("openai-v2"):
            from opentelemetry.util.genai.handler import get_telemetry_handler

            self.handler = get_telemetry_handler(
                tracer_provider=tracer_provider, logger_provider=logger_provider
            )

    # The session's context: ids on the root span (openai-v2), in OpenInference's context
    # attributes, or in traceloop's association properties.
    @contextmanager
    def session_context(self, session: dict[str, Any]) -> Iterator[None]:
        if self.library == "openinference":
            from openinference.instrumentation import using_attributes

            with using_attributes(
                session_id=session["session_id"],
                user_id=session["user_id"],
                metadata={"app.domain": session["domain"]},
                tags=["bench", session["domain"]],
            ):
                yield
        elif self.library == "traceloop":
            from opentelemetry.context import attach, detach, set_value

            token = attach(
                set_value(
                    "association_properties",
                    {
                        "session_id": session["session_id"],
                        "user_id": session["user_id"],
                        "domain": session["domain"],
                    },
                )
            )
            try:
                yield
            finally:
                detach(token)
        else:
            yield

    @contextmanager
    def root(self, session: dict[str, Any], index: int) -> Iterator[Any]:
        if self.library == "traceloop":
            from opentelemetry.context import attach, detach, set_value

            token = attach(set_value("workflow_name", "chat_turn"))
            try:
                with self.tracer.start_as_current_span("chat_turn.workflow") as span:
                    span.set_attribute("traceloop.span.kind", "workflow")
                    span.set_attribute("traceloop.entity.name", "chat_turn")
                    span.set_attribute("traceloop.entity.input", json.dumps({"args": [index], "kwargs": {}}))
                    conv = attach(set_value("conversation_id", session["session_id"]))
                    try:
                        yield span
                    finally:
                        detach(conv)
                    span.set_attribute("traceloop.entity.output", json.dumps({"turn": index, "ok": True}))
            finally:
                detach(token)
            return
        with self.tracer.start_as_current_span("chat_turn") as span:
            span.set_attribute("session.id", session["session_id"])
            span.set_attribute("user.id", session["user_id"])
            span.set_attribute("app.scenario", session["domain"])
            if self.library == "openinference":
                span.set_attribute("openinference.span.kind", "CHAIN")
                span.set_attribute("metadata", json.dumps({"app.domain": session["domain"]}))
                span.set_attribute("input.value", f"turn {index}")
                span.set_attribute("input.mime_type", "text/plain")
            if self.handler is not None:
                agent = self.handler.invoke_local_agent(request_model=session["model"], agent_name="chat_app")
                agent.conversation_id = session["session_id"]
                with agent:
                    yield span
            else:
                yield span
            if self.library == "openinference":
                span.set_attribute("output.value", "done")
                span.set_attribute("output.mime_type", "text/plain")

    def retrieve(self, session: dict[str, Any], retrieval: dict[str, Any]) -> None:
        query, docs, index = retrieval["query"], retrieval["documents"], retrieval["index"]
        self.server.script_embedding(EmbeddingReply(delay_s=retrieval["embed_delay_s"]))
        self.client.embeddings.create(model=EMBEDDING_MODEL, input=query)
        delay = retrieval["delay_s"]
        if self.handler is not None:
            with self.handler.retrieval(data_source_id=index, provider="fake-vectordb") as inv:
                time.sleep(delay)
                inv.query_text = query
                inv.top_k = retrieval["top_k"]
                # The captured app sent ids and scores only; the semconv allows content too.
                keys = ("id", "score", "content") if retrieval["with_content"] else ("id", "score")
                inv.documents = [{k: d[k] for k in keys} for d in docs]
            return
        if self.library == "openinference":
            with self.tracer.start_as_current_span("retrieve_documents") as span:
                time.sleep(delay)
                span.set_attribute("openinference.span.kind", "RETRIEVER")
                span.set_attribute("session.id", session["session_id"])
                span.set_attribute("user.id", session["user_id"])
                span.set_attribute("input.value", query)
                span.set_attribute("input.mime_type", "text/plain")
                for i, doc in enumerate(docs):
                    prefix = f"retrieval.documents.{i}.document"
                    span.set_attribute(f"{prefix}.id", doc["id"])
                    span.set_attribute(f"{prefix}.score", doc["score"])
                    span.set_attribute(f"{prefix}.content", doc["content"])
                    span.set_attribute(f"{prefix}.metadata", json.dumps({"source": index}))
            return
        with self.tracer.start_as_current_span("retrieve_documents.task") as span:
            time.sleep(delay)
            span.set_attribute("traceloop.span.kind", "task")
            span.set_attribute("traceloop.entity.name", "retrieve_documents")
            span.set_attribute(
                "traceloop.entity.input", json.dumps({"args": [query, retrieval["top_k"]], "kwargs": {}})
            )
            span.set_attribute("db.vector.query.top_k", retrieval["top_k"])
            for doc in docs:
                span.add_event(
                    "db.query.result",
                    {
                        "db.query.result.id": doc["id"],
                        "db.query.result.score": doc["score"],
                        "db.query.result.document": doc["content"],
                        "db.query.result.metadata": json.dumps({"source": index}),
                    },
                )
            span.set_attribute("traceloop.entity.output", json.dumps(docs))

    def chat(
        self, session: dict[str, Any], turn: dict[str, Any], messages: list[dict[str, str]]
    ) -> tuple[str | None, str]:
        """One completion: the assistant text (None when the call failed) and the response id."""
        import openai

        r = turn["reply"]
        self.server.script(Reply(r["content"], r["refusal"], r["finish_reason"], r["status"], r["delay_s"]))
        kwargs: dict[str, Any] = {
            "model": turn["model"],
            "messages": messages,
            "max_tokens": turn["max_tokens"],
            "temperature": 0.7,
        }
        if self.library in ("openinference", "traceloop"):
            kwargs["user"] = session["user_id"]
        try:
            if turn["stream"]:
                stream = self.client.chat.completions.create(
                    stream=True, stream_options={"include_usage": True}, **kwargs
                )
                parts: list[str] = []
                response_id = ""
                for chunk in stream:
                    response_id = chunk.id or response_id
                    if chunk.choices:
                        delta = chunk.choices[0].delta
                        parts.append(delta.content or getattr(delta, "refusal", None) or "")
                return "".join(parts), response_id
            response = self.client.chat.completions.create(**kwargs)
            message = response.choices[0].message
            return message.content or message.refusal or "", response.id
        except openai.APIError:
            return None, ""

    def evaluation(self, trace_id: int, span_id: int, evaluation: dict[str, Any], response_id: str) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        context = trace.set_span_in_context(
            NonRecordingSpan(SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1)))
        )
        attributes: dict[str, Any] = {
            "gen_ai.evaluation.name": evaluation["name"],
            "gen_ai.evaluation.score.value": evaluation["score"],
            "gen_ai.evaluation.score.label": evaluation["label"],
        }
        if evaluation.get("explanation"):
            attributes["gen_ai.evaluation.explanation"] = evaluation["explanation"]
        if response_id:
            attributes["gen_ai.response.id"] = response_id
        self.feedback_logger.emit(
            event_name="gen_ai.evaluation.result", attributes=attributes, context=context
        )


def _llm_span(library: str, spans: list[tuple[str, int]]) -> tuple[str, int] | None:
    for name, span_id in spans:
        if (
            (library.startswith("openai-v2") and name.startswith("chat "))
            or (library == "openinference" and name == "ChatCompletion")
            or (library == "traceloop" and name == "openai.chat")
        ):
            return name, span_id
    return None


def play(plan: dict[str, Any], out: Path) -> None:
    library = plan["library"]
    capture = CaptureServer(out)
    rng = random.Random(plan["seed"])
    lo, hi = plan["latency_s"]
    server = FakeOpenAI(default_delay=lambda: rng.uniform(lo, hi)).start()
    # Warm the client up before instrumenting: the first request pays for lazy imports and a
    # new connection, which is not the provider's latency.
    import openai

    warm = openai.OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
    server.script(Reply(delay_s=0.0), Reply(delay_s=0.0))
    for _ in range(2):
        warm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])
    tracer_provider, logger_provider, recorder = setup(library, capture.endpoint)
    app = App(library, server, tracer_provider, logger_provider)
    server.script(Reply(delay_s=0.0))
    app.client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])
    server.script_embedding(EmbeddingReply(delay_s=0.0))
    app.client.embeddings.create(model=EMBEDDING_MODEL, input="ping")

    manifest: list[dict[str, Any]] = []
    for session in plan["sessions"]:
        history: list[dict[str, str]] = []
        previous_request: list[dict[str, str]] = []
        turns_out: list[dict[str, Any]] = []
        with app.session_context(session):
            for index, turn in enumerate(session["turns"]):
                start_ns = time.time_ns()
                with app.root(session, index) as root:
                    if turn["retrieval"] is not None:
                        app.retrieve(session, turn["retrieval"])
                    if turn["resend_previous"] and previous_request:
                        messages = previous_request
                    else:
                        messages = [{"role": "system", "content": turn["system"]}, *history]
                        messages.append({"role": "user", "content": turn["user"]})
                    answer, response_id = app.chat(session, turn, messages)
                    previous_request = messages
                    trace_id = root.get_span_context().trace_id
                    root_span_id = root.get_span_context().span_id
                # The root span has ended: every span of the turn is recorded.
                end_ns = time.time_ns()
                llm = _llm_span(library, recorder.by_trace.get(trace_id, []))
                if turn["evaluation"] is not None and llm is not None:
                    app.evaluation(trace_id, llm[1], turn["evaluation"], response_id)
                if answer is not None:
                    history = [m for m in messages[1:]] + [{"role": "assistant", "content": answer}]
                turns_out.append(
                    {
                        "trace_id": f"{trace_id:032x}",
                        "root_span_id": f"{root_span_id:016x}",
                        "llm_span_id": f"{llm[1]:016x}" if llm else "",
                        "start_ns": start_ns,
                        "end_ns": end_ns,
                        "response_id": response_id,
                        "failed": answer is None,
                    }
                )
        manifest.append({"session_id": session["session_id"], "turns": turns_out})
    tracer_provider.force_flush()
    logger_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    server.stop()
    capture.close()
    (out / "manifest.json").write_text(json.dumps({"library": library, "sessions": manifest}, indent=1))


def main() -> None:
    plan_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    play(json.loads(plan_path.read_text()), out)


if __name__ == "__main__":
    if os.environ.get("BENCH_APP_CHILD") != "1":
        raise SystemExit("run by generate.py, which sets the library's environment")
    main()
