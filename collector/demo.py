"""``tracesieve demo``: a collector in-process, fed a scripted chat through the real OTel SDK.

The chat is instrumented the way ``opentelemetry-instrumentation-openai-v2`` does it: a
``chat_turn`` root span carries ``session.id`` and ``user.id``, the ``chat {model}`` client span
carries the GenAI attributes and no session, and one turn sends its content as a
``gen_ai.client.inference.operation.details`` log record instead of span attributes. Spans go
over OTLP/gRPC and logs over OTLP/HTTP, with the SDK's own exporters; the app's thumbs-down
goes to ``POST /v1/feedback``.

The script is a session going wrong: the user rephrases the first question, the second answer
states a delay its retrieved document does not (and gets a thumbs-down), the third call fails,
the fourth answer is cut off, and the user leaves.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

__all__ = ["DEMO_TURNS", "DemoTurn", "drive_demo_chat", "new_session_id", "send_feedback"]

SESSION_ID = "demo-session-7f3c"


def new_session_id() -> str:
    """A session id of its own for each demo run: a second run is another user's session, not
    four more turns (and four regenerated questions) of the first one's."""
    return f"demo-session-{uuid.uuid4().hex[:8]}"


USER_ID = "demo-user-ada"
MODEL = "gpt-4o-mini"
SYSTEM = "You are the support assistant of Acme Books. Answer briefly."


@dataclass(frozen=True)
class DemoTurn:
    question: str
    answer: str
    finish_reason: str = "stop"
    error: str = ""
    documents: list[tuple[str, float, str]] = field(default_factory=list)  # (id, score, content)
    content_in_log: bool = False
    thumbs: str = ""  # the user's feedback on the answer, sent to POST /v1/feedback


DEMO_TURNS = [
    DemoTurn("How long do refunds take?", "Refunds take 5 to 7 business days."),
    DemoTurn(
        "How many days until the money is back on my card?",
        "Card refunds post within 10 business days after approval.",
        documents=[
            (
                "kb-001",
                0.912,
                "Refunds to cards are credited 5-7 business days after the return is approved.",
            ),
            ("kb-017", 0.774, "E-book purchases can be refunded within 14 days if not downloaded."),
            ("kb-042", 0.581, "Gift cards are not refundable."),
        ],
        thumbs="down",
    ),
    DemoTurn("Can I return an e-book I already downloaded?", "", error="openai.InternalServerError"),
    DemoTurn(
        "Summarise the refund policy in one line.",
        "Refunds within 30 days of purchase,",
        finish_reason="length",
        content_in_log=True,
    ),
]


def drive_demo_chat(
    grpc_endpoint: str, http_endpoint: str, turns: list[DemoTurn] = DEMO_TURNS, session_id: str = SESSION_ID
) -> list[str]:
    """Send the scripted chat to a collector; returns each turn's trace id (hex)."""
    resource = Resource.create({"service.name": "acme-support-bot", "service.version": "1.4.2"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=grpc_endpoint, insecure=True))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{http_endpoint.rstrip('/')}/v1/logs"))
    )
    tracer = tracer_provider.get_tracer("acme.chat", "1.4.2")
    genai_tracer = tracer_provider.get_tracer("opentelemetry.util.genai.handler")
    logger = logger_provider.get_logger("opentelemetry.util.genai.handler")
    history: list[dict[str, Any]] = [{"role": "system", "parts": [{"type": "text", "content": SYSTEM}]}]
    trace_ids: list[str] = []
    for index, turn in enumerate(turns):
        history.append({"role": "user", "parts": [{"type": "text", "content": turn.question}]})
        with tracer.start_as_current_span(
            "chat_turn", attributes={"session.id": session_id, "user.id": USER_ID, "app.turn": index}
        ) as root:
            trace_ids.append(f"{root.get_span_context().trace_id:032x}")
            if turn.documents:
                with genai_tracer.start_as_current_span(
                    "retrieval kb-faq",
                    kind=SpanKind.CLIENT,
                    attributes={
                        "gen_ai.operation.name": "retrieval",
                        "gen_ai.data_source.id": "kb-faq",
                        "gen_ai.retrieval.query.text": turn.question,
                        "gen_ai.retrieval.documents": json.dumps(
                            [
                                {"id": doc_id, "score": score, "content": content}
                                for doc_id, score, content in turn.documents
                            ]
                        ),
                    },
                ):
                    time.sleep(0.005)
            if turn.documents:  # the app puts what it retrieved into the prompt
                context = "\n".join(content for _, _, content in turn.documents)
                history.insert(-1, {"role": "system", "parts": [{"type": "text", "content": context}]})
            with genai_tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT) as span:
                attributes: dict[str, Any] = {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": MODEL,
                    "gen_ai.request.max_tokens": 12 if turn.finish_reason == "length" else 200,
                }
                output = [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": turn.answer}],
                        "finish_reason": turn.finish_reason,
                    }
                ]
                if turn.error:
                    attributes["error.type"] = turn.error
                    span.set_status(Status(StatusCode.ERROR, "Error code: 500"))
                else:
                    attributes.update(
                        {
                            "gen_ai.response.model": f"{MODEL}-2024-07-18",
                            "gen_ai.response.id": f"chatcmpl-demo-{index}",
                            "gen_ai.response.finish_reasons": [turn.finish_reason],
                            "gen_ai.usage.input_tokens": 20 + 12 * index,
                            "gen_ai.usage.output_tokens": max(1, len(turn.answer.split())),
                        }
                    )
                content = {"gen_ai.input.messages": json.dumps(history)}
                if not turn.error:
                    content["gen_ai.output.messages"] = json.dumps(output)
                if turn.content_in_log:
                    # EVENT_ONLY mode: the content travels as a log record tied to this span.
                    event_attributes: dict[str, Any] = {
                        **attributes,
                        "gen_ai.input.messages": history,
                        "gen_ai.output.messages": output,
                    }
                    logger.emit(
                        event_name="gen_ai.client.inference.operation.details", attributes=event_attributes
                    )
                else:
                    attributes.update(content)
                span.set_attributes(attributes)
                time.sleep(0.01)
        if turn.answer and not turn.error:
            history.append({"role": "assistant", "parts": [{"type": "text", "content": turn.answer}]})
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return trace_ids


def send_feedback(
    http_endpoint: str, turns: list[DemoTurn], trace_ids: list[str], session_id: str = SESSION_ID
) -> int:
    """POST the scripted thumbs to ``/v1/feedback`` as the app would; returns how many were sent."""
    items = [
        {"trace_id": trace_id, "session_id": session_id, "user_id": USER_ID, "thumbs": turn.thumbs,
         "comment": "the bank says 5-7 days"}
        for turn, trace_id in zip(turns, trace_ids, strict=True)
        if turn.thumbs
    ]  # fmt: skip
    if items:
        request = urllib.request.Request(
            f"{http_endpoint.rstrip('/')}/v1/feedback",
            data=json.dumps(items).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    return len(items)
