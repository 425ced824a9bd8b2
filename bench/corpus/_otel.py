"""The recording side of the corpus app: a capture server for the OTLP/HTTP export requests, and
the OTel SDK set up with one instrumentation library (real exporters, real instrumentors).

Libraries: ``openai-v2`` (opentelemetry-instrumentation-openai-v2, content on spans and in
``gen_ai.client.inference.operation.details`` log records), ``openai-v2-events`` (the same with
content only in the log records), ``openinference`` (openinference-instrumentation-openai) and
``traceloop`` (opentelemetry-instrumentation-openai from OpenLLMetry, with the association
properties that traceloop-sdk's span processor copies from the context).
"""

from __future__ import annotations

import gzip
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["LIBRARY_ENV", "CaptureServer", "Recorder", "setup"]

# Environment each library's process needs before its instrumentation is imported.
LIBRARY_ENV: dict[str, dict[str, str]] = {
    "openai-v2": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT",
    },
    "openai-v2-events": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY",
    },
    "openinference": {},
    "traceloop": {"TRACELOOP_TRACE_CONTENT": "true"},
}


# -- capture server ----------------------------------------------------------------------------


class CaptureServer:
    """Saves each OTLP/HTTP export request body (gunzipped) as ``NNNN_<signal>.pb``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._count = 0
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                signal = self.path.rstrip("/").rsplit("/", 1)[-1]
                capture.save(signal, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def save(self, signal: str, body: bytes) -> None:
        with self._lock:
            self._count += 1
            (self.out / f"{self._count:04d}_{signal}.pb").write_bytes(body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- OTel set-up -------------------------------------------------------------------------------


class Recorder:
    """A span processor that remembers the spans of each trace (to name the LLM span), and,
    for traceloop, copies the context's association properties onto every span as
    traceloop-sdk's own span processor does."""

    def __init__(self, traceloop: bool) -> None:
        self.traceloop = traceloop
        self.by_trace: dict[int, list[tuple[str, int]]] = defaultdict(list)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if not self.traceloop:
            return
        from opentelemetry.context import get_value

        workflow = get_value("workflow_name")
        if workflow is not None:
            span.set_attribute("traceloop.workflow.name", str(workflow))
        conversation = get_value("conversation_id")
        if conversation is not None:
            span.set_attribute("gen_ai.conversation.id", str(conversation))
        properties = get_value("association_properties")
        if isinstance(properties, dict):
            for key, value in properties.items():
                span.set_attribute(f"traceloop.association.properties.{key}", value)

    def on_end(self, span: Any) -> None:
        self.by_trace[span.context.trace_id].append((span.name, span.context.span_id))

    def _on_ending(self, span: Any) -> None:
        return

    def shutdown(self) -> None:
        return

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def setup(library: str, endpoint: str) -> tuple[Any, Any, Recorder]:
    from opentelemetry import _logs, trace
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": f"chat-app-{library}",
            "service.version": "0.1.0",
            "deployment.environment.name": "bench",
        }
    )
    recorder = Recorder(traceloop=library == "traceloop")
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(recorder)  # type: ignore[arg-type]
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(tracer_provider)
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"))
    )
    _logs.set_logger_provider(logger_provider)

    if library.startswith("openai-v2"):
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        V2().instrument(  # type: ignore[no-untyped-call]
            tracer_provider=tracer_provider, logger_provider=logger_provider
        )
    elif library == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OI

        OI().instrument(tracer_provider=tracer_provider)
    elif library == "traceloop":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TL

        TL().instrument(tracer_provider=tracer_provider)
    else:
        raise SystemExit(f"unknown library {library!r}")
    return tracer_provider, logger_provider, recorder
