"""Failure signals end to end: real captures and real SDK exporters in, signals, flagged turns and
joined feedback read back from chDB."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from tracesieve.collector.config import load_config
from tracesieve.collector.replay import discover, replay
from tracesieve.collector.service import Service

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "captures"
LIBRARIES = ["openinference", "traceloop", "otel_openai_v2__span_and_event", "langfuse"]
DAY_NS = 86_400 * 1_000_000_000

MakeService = Callable[..., Awaitable[Service]]


@pytest.fixture(params=["worker", "inline", "kafka"])
async def make_service(
    tmp_path: Path, chdb_dsn: str, database_name: str, request: pytest.FixtureRequest
) -> AsyncIterator[MakeService]:
    """Services whose analysis runs in its worker process (the default), on the event loop, or
    in the Kafka transport's processor stage (every stage in one process, through a real broker)."""
    started: list[Service] = []
    mode = request.param
    transport = request.getfixturevalue("kafka_transport")() if mode == "kafka" else {}

    async def make(data: str = "data", **overrides: Any) -> Service:
        config = load_config(
            None,
            environ={},
            overrides={
                "service.data_dir": str(tmp_path / data),
                "sinks.clickhouse.dsn": chdb_dsn,
                "sinks.clickhouse.database": database_name,
                "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
                "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
                "admin.endpoint": "127.0.0.1:0",
                "processors.assembly.context_wait_s": 0.5,
                "service.analysis_worker": mode == "worker",
                **transport,
                **overrides,
            },
        )
        service = Service(config)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.aclose()


async def select(service: Service, sql: str) -> list[tuple[Any, ...]]:
    _, rows = await service.sink.query(
        sql.replace("DB.", service.config.sinks.clickhouse.database + "."), None
    )
    return [tuple(r) for r in rows]


async def eventually(
    service: Service, sql: str, want: Callable[[list[tuple[Any, ...]]], bool]
) -> list[tuple[Any, ...]]:
    """Poll ``sql`` until ``want(rows)``; the last rows either way (the assertion says what was wanted)."""
    rows: list[tuple[Any, ...]] = []
    for _ in range(150):
        rows = await select(service, sql)
        if want(rows):
            break
        await asyncio.sleep(0.1)
    return rows


def post_feedback(service: Service, body: Any) -> dict[str, Any]:
    assert service.http is not None
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.http.port}/v1/feedback",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


SCENARIO_SIGNALS = """
SELECT sp.scenario, groupUniqArray(s.Signal) FROM DB.signals AS s FINAL
JOIN (SELECT TraceId, anyIf(sc, sc != '') AS scenario FROM (
        SELECT TraceId, multiIf(
            SpanAttributes['app.scenario'] != '', SpanAttributes['app.scenario'],
            SpanAttributes['traceloop.association.properties.scenario'] != '',
                SpanAttributes['traceloop.association.properties.scenario'],
            SpanAttributes['langfuse.observation.metadata.scenario'] != '',
                JSONExtractString(SpanAttributes['langfuse.observation.metadata.scenario']),
            JSONExtractString(SpanAttributes['metadata'], 'app.scenario')) AS sc
        FROM DB.spans) GROUP BY TraceId) AS sp ON sp.TraceId = s.TraceId
GROUP BY sp.scenario ORDER BY sp.scenario
"""


@pytest.mark.parametrize("library", LIBRARIES)
async def test_captured_sessions_raise_the_signals_of_their_scenarios(
    make_service: MakeService, library: str
) -> None:
    """The reference captures of real instrumentation: each failing turn gets its signal."""
    service = await make_service(**{"processors.assembly.store_non_llm_spans": True})
    assert service.http is not None
    await replay(discover([CAPTURES / library], None), f"http://127.0.0.1:{service.http.port}")
    assert await service.wait_stored()
    found = dict(await select(service, SCENARIO_SIGNALS))
    signals = {scenario: set(names) for scenario, names in found.items()}
    assert "regenerate" in signals["a_normal_chat"]  # c re-sent a's messages
    assert "rephrase" in signals["a_normal_chat"]  # b asked a's question in other words
    assert "refusal" in signals["e_refuse"]
    assert "error" in signals["f_error_500"]
    assert "truncated" in signals["d_length"]
    # Only some libraries keep the refusal field and the filter stop (see the captures' README).
    if library in ("openinference", "traceloop"):
        assert "refusal" in signals["e2_refusal_field"]
    if library != "langfuse":
        assert "truncated" in signals["e3_content_filter"]
    for clean in ("g_streaming", "h_embeddings", "i_rag_retrieval"):
        assert clean not in signals, (clean, signals.get(clean))
    # Every turn with a signal is flagged (each scores ≥ 0.5), and only those.
    flagged = await select(service, "SELECT count() FROM DB.flagged_spans FINAL")
    assert flagged[0][0] == len(signals)


def _send_turn(endpoint: str, session: str, question: str, answer: str, *, error: bool = False,
               start_ns: int | None = None) -> str:  # fmt: skip
    """One openai-v2 style turn through the real SDK HTTP exporter; returns its trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "e2e-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    tracer = provider.get_tracer("chat_app")
    genai = provider.get_tracer("opentelemetry.util.genai.handler")
    start = start_ns or time.time_ns()
    with tracer.start_as_current_span(
        "chat_turn", attributes={"session.id": session, "user.id": "u-1"}, start_time=start
    ) as root:
        with genai.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=start + 1000
        ) as chat:
            chat.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.input.messages": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": answer}],
                                "finish_reason": "stop",
                            }
                        ]
                    ),
                }
            )
            if error:
                chat.set_status(Status(StatusCode.ERROR, "Error code: 500"))
            chat.end(end_time=start + 2_000_000)
        root.end(end_time=start + 3_000_000)
        trace_id = f"{root.get_span_context().trace_id:032x}"
    provider.shutdown()
    return trace_id


async def test_feedback_before_its_span_lands_on_that_span(make_service: MakeService) -> None:
    service = await make_service()
    endpoint = f"http://127.0.0.1:{service.http.port}"  # type: ignore[union-attr]
    # The app knows the trace id before the span is exported: the feedback comes first.
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    reply = await asyncio.to_thread(
        post_feedback, service, {"trace_id": trace_id, "thumbs": "down", "comment": "wrong city"}
    )
    assert reply["accepted"] == 1
    pending = await eventually(
        service, "SELECT count() FROM DB.feedback FINAL WHERE SpanId = ''", lambda r: r[0][0] == 1
    )
    assert pending == [(1,)]

    from opentelemetry.sdk.trace import RandomIdGenerator

    class FixedTrace(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            return int(trace_id, 16)

    provider = TracerProvider(
        resource=Resource.create({"service.name": "e2e-bot"}), id_generator=FixedTrace()
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))

    def send() -> str:
        # SimpleSpanProcessor exports as the span ends, synchronously: in a thread, since the
        # receiver it sends to runs on this test's event loop.
        with provider.get_tracer("app").start_as_current_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            attributes={
                "session.id": "s-before",
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "Capital of Peru?"}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "Quito."}]}]
                ),
            },
        ) as span:
            span_id = f"{span.get_span_context().span_id:016x}"
        return span_id

    span_id = await asyncio.to_thread(send)
    await asyncio.to_thread(provider.shutdown)

    rows = await eventually(
        service,
        "SELECT TraceId, SpanId, Signal FROM DB.signals FINAL WHERE Signal = 'negative_feedback'",
        lambda r: len(r) == 1,
    )
    assert rows == [(trace_id, span_id, "negative_feedback")]
    joined = await eventually(
        service, "SELECT SessionId, SpanId FROM DB.feedback FINAL", lambda r: r == [("s-before", span_id)]
    )
    assert joined == [("s-before", span_id)]
    flagged = await select(service, "SELECT SpanId, Signals FROM DB.flagged_spans FINAL")
    assert flagged == [(span_id, ["negative_feedback"])]


async def test_feedback_a_day_later_finds_the_stored_span(make_service: MakeService) -> None:
    service = await make_service()
    endpoint = f"http://127.0.0.1:{service.http.port}"  # type: ignore[union-attr]
    day_ago = time.time_ns() - DAY_NS
    trace_id = await asyncio.to_thread(
        _send_turn, endpoint, "s-late", "How much is shipping?", "Shipping is free.", start_ns=day_ago
    )
    assert await service.wait_stored()
    await service.aclose()

    # A new process with an empty session state (another data folder), on the same store.
    later = await make_service(data="other")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    reply = await asyncio.to_thread(
        post_feedback, later, [{"trace_id": trace_id, "score": 1, "label": "wrong", "timestamp": stamp}]
    )
    assert reply["accepted"] == 1
    rows = await eventually(
        later,
        "SELECT TraceId, Signal FROM DB.signals FINAL WHERE Signal = 'negative_feedback'",
        lambda r: bool(r),
    )
    assert rows == [(trace_id, "negative_feedback")]
    # The signal and the flagged row are two INSERTs of one write: wait for the second one too.
    flagged = await eventually(
        later,
        "SELECT TraceId, UserMessage, OutputText, Signals FROM DB.flagged_spans FINAL",
        lambda r: bool(r),
    )
    assert flagged == [(trace_id, "How much is shipping?", "Shipping is free.", ["negative_feedback"])]


async def test_session_state_survives_a_restart(make_service: MakeService) -> None:
    service = await make_service()
    endpoint = f"http://127.0.0.1:{service.http.port}"  # type: ignore[union-attr]
    first = await asyncio.to_thread(
        _send_turn,
        endpoint,
        "s-restart",
        "How do I cancel my subscription?",
        "I'm sorry, I can't help with that.",
    )
    assert await service.wait_stored()
    await service.aclose()  # checkpoints the session state

    again = await make_service()  # same data folder: the state is restored
    endpoint = f"http://127.0.0.1:{again.http.port}"  # type: ignore[union-attr]
    await asyncio.to_thread(
        _send_turn,
        endpoint,
        "s-restart",
        "How can I cancel my subscription plan?",
        "Go to Settings > Billing.",
    )
    rows = await eventually(
        again, "SELECT TraceId, Signal FROM DB.signals FINAL WHERE Signal = 'rephrase'", lambda r: bool(r)
    )
    assert rows == [(first, "rephrase")]


async def test_an_abandoned_session_is_flagged_when_the_stream_goes_quiet(make_service: MakeService) -> None:
    service = await make_service(
        **{
            "processors.sessions.allowed_lateness_s": 0.2,
            "processors.sessions.idle_source_s": 0.2,
            "processors.detectors.abandoned_session.idle_s": 1,
        }
    )
    endpoint = f"http://127.0.0.1:{service.http.port}"  # type: ignore[union-attr]
    good = await asyncio.to_thread(_send_turn, endpoint, "s-good", "Opening hours?", "We open at 9 am.")
    bad = await asyncio.to_thread(_send_turn, endpoint, "s-bad", "Where is my order?", "", error=True)
    rows = await eventually(
        service,
        "SELECT TraceId, Signal FROM DB.signals FINAL WHERE Signal = 'abandoned_session'",
        lambda r: bool(r),
    )
    assert rows == [(bad, "abandoned_session")]
    assert good != bad
    # The signal and the flagged row are two INSERTs of one write: wait for the second one too.
    flagged = await eventually(
        service,
        "SELECT TraceId, Signals FROM DB.flagged_spans FINAL",
        lambda r: any("abandoned_session" in signals for _, signals in r),
    )
    assert flagged == [(bad, ["abandoned_session", "error"])]
