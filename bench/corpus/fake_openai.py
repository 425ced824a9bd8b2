"""A local OpenAI-compatible test server whose answers are scripted, one request at a time.

Serves ``POST /v1/chat/completions`` (plain JSON and ``stream: true`` server-sent events) and
``POST /v1/embeddings`` from a thread of the calling process, so that a chat app driven by the
real ``openai`` client (and whatever instrumentation patches it) gets exactly the answer the
corpus generator wants next::

    with FakeOpenAI() as server:
        server.script(Reply(content="Refunds take 14 days.", delay_s=0.15))
        server.script(Reply(status=500))
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)

Replies are consumed in order, one per chat request (embeddings have their own queue); an empty
queue answers ``Reply()`` with the server's default delay. The server really sleeps ``delay_s``
before answering, so a span's duration is the scripted latency plus the client's own time.
A :class:`Reply` can carry the ``refusal`` field (content null), a finish reason (``length``,
``content_filter``), or an HTTP error status with OpenAI's error body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["EmbeddingReply", "FakeOpenAI", "Reply"]

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "This model's maximum context length is 128000 tokens."),
    429: ("rate_limit_error", "Rate limit reached for requests. Please try again in 20s."),
    500: ("server_error", "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", "Bad gateway."),
    503: ("server_error", "The engine is currently overloaded, please try again later."),
}

# Dated snapshot names the real API answers with.
_SNAPSHOTS = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14"}


@dataclass(frozen=True, slots=True)
class Reply:
    """What the next chat completion answers.

    ``content`` None with ``refusal`` set is OpenAI's structured refusal. ``status`` other than
    200 answers OpenAI's error JSON instead. ``delay_s`` None means the server's default delay.
    """

    content: str | None = "OK."
    refusal: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    delay_s: float | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingReply:
    status: int = 200
    delay_s: float | None = None


@dataclass(slots=True)
class _Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _vector(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 6) for b in digest[:dims]]


@dataclass
class FakeOpenAI:
    """The server; a context manager that starts it on ``host`` (a free port) and stops it."""

    host: str = "127.0.0.1"
    default_delay: Callable[[], float] = field(default=lambda: 0.0)
    _chat: deque[Reply] = field(default_factory=deque)
    _embeddings: deque[EmbeddingReply] = field(default_factory=deque)
    received: list[_Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue the answers of the next chat requests, in order."""
        with self._lock:
            self._chat.extend(replies)

    def script_embedding(self, *replies: EmbeddingReply) -> None:
        with self._lock:
            self._embeddings.extend(replies)

    def pending(self) -> int:
        """Scripted chat replies not consumed yet."""
        with self._lock:
            return len(self._chat)

    def start(self) -> FakeOpenAI:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler thread ---------------------------------------------------------

    def _next_chat(self) -> Reply:
        with self._lock:
            return self._chat.popleft() if self._chat else Reply()

    def _next_embedding(self) -> EmbeddingReply:
        with self._lock:
            return self._embeddings.popleft() if self._embeddings else EmbeddingReply()

    def _record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.received.append(_Received(path, body, headers))

    def _sleep(self, delay_s: float | None) -> None:
        delay = self.default_delay() if delay_s is None else delay_s
        if delay > 0:
            time.sleep(delay)


def _completion(body: dict[str, Any], reply: Reply, response_id: str, created: int) -> dict[str, Any]:
    requested = str(body.get("model", "gpt-4o-mini"))
    prompt = " ".join(str(m.get("content") or "") for m in body.get("messages", []))
    text = reply.content or reply.refusal or ""
    completion_tokens = 0 if reply.finish_reason == "content_filter" else _words(text)
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": _SNAPSHOTS.get(requested, requested),
        "system_fingerprint": "fp_fake0001",
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "finish_reason": reply.finish_reason,
                "logprobs": None,
                "message": {
                    "role": "assistant",
                    "content": reply.content,
                    "refusal": reply.refusal,
                    "annotations": [],
                },
            }
        ],
        "usage": {
            "prompt_tokens": _words(prompt),
            "completion_tokens": completion_tokens,
            "total_tokens": _words(prompt) + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def _stream_chunks(
    body: dict[str, Any], reply: Reply, response_id: str, created: int
) -> Iterator[dict[str, Any]]:
    requested = str(body.get("model", "gpt-4o-mini"))
    base = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": _SNAPSHOTS.get(requested, requested),
        "system_fingerprint": "fp_fake0001",
        "service_tier": "default",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    key, text = (
        ("refusal", reply.refusal) if reply.content is None and reply.refusal else ("content", reply.content)
    )
    words = (text or "").split(" ")
    for i, word in enumerate(words if text else []):
        yield chunk({key: word if i == 0 else " " + word})
    yield chunk({}, reply.finish_reason)
    if (body.get("stream_options") or {}).get("include_usage"):
        prompt = " ".join(str(m.get("content") or "") for m in body.get("messages", []))
        completion = 0 if reply.finish_reason == "content_filter" else _words(text or "")
        yield {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": _words(prompt),
                "completion_tokens": completion,
                "total_tokens": _words(prompt) + completion,
            },
        }


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("input", "")
    inputs = [raw] if isinstance(raw, str) else [str(x) for x in raw]
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(inputs):
        vector = _vector(text)
        embedding: Any = (
            base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
        )
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    tokens = sum(_words(t) for t in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", "text-embedding-3-small"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _handler_for(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # the corpus run stays quiet
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._json(400, {"error": {"message": "bad JSON", "type": "invalid_request_error"}})
                return
            path = self.path.split("?", 1)[0].rstrip("/")
            server._record(path, body, {k.lower(): v for k, v in self.headers.items()})
            if path.endswith("/chat/completions"):
                self._chat(body)
            elif path.endswith("/embeddings"):
                reply = server._next_embedding()
                server._sleep(reply.delay_s)
                if reply.status != 200:
                    self._error(reply.status)
                else:
                    self._json(200, _embeddings(body))
            else:
                self._json(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})

        def _chat(self, body: dict[str, Any]) -> None:
            reply = server._next_chat()
            server._sleep(reply.delay_s)
            if reply.status != 200:
                self._error(reply.status)
                return
            response_id = "chatcmpl-" + uuid.uuid4().hex[:29]
            created = int(time.time())
            if not body.get("stream"):
                self._json(200, _completion(body, reply, response_id, created))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for item in _stream_chunks(body, reply, response_id, created):
                self._chunk(f"data: {json.dumps(item)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def _error(self, status: int) -> None:
            kind, message = _ERRORS.get(status, ("server_error", "Unexpected error."))
            self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status >= 400:
                self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:24])
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

    return Handler
