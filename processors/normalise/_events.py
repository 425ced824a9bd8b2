"""GenAI *events* (semconv 1.28–1.36 message events, ≤1.27 content events), span event or log record alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracesieve.collector.contracts import Message

from ._content import Output
from ._message import message
from ._values import loads

__all__ = [
    "CHOICE",
    "COMPLETION",
    "DETAILS",
    "EVALUATION",
    "MESSAGE_ROLES",
    "PROMPT",
    "fold_messages",
    "span_event_body",
]

DETAILS = "gen_ai.client.inference.operation.details"
CHOICE = "gen_ai.choice"
PROMPT = "gen_ai.content.prompt"
COMPLETION = "gen_ai.content.completion"
EVALUATION = "gen_ai.evaluation.result"
MESSAGE_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.tools.message": "tool",  # OpenLIT's spelling
}
# Event attributes that describe the event rather than belong to its body.
_NOT_BODY = frozenset(("gen_ai.system", "gen_ai.provider.name", "event.name", "gen_ai.message.index"))


def span_event_body(attrs: dict[str, Any]) -> Any:
    """The body of a message event that came as a *span* event (span events have no body).

    Azure AI Inference and Semantic Kernel put the JSON body in ``gen_ai.event.content``; others
    spread the body's fields over the event attributes.
    """
    content = attrs.get("gen_ai.event.content")
    if content is not None:
        return loads(content)
    return {k: v for k, v in attrs.items() if k not in _NOT_BODY}


def _choice_index(body: Any) -> int:
    i = body.get("index") if isinstance(body, dict) else None
    return i if isinstance(i, int) and not isinstance(i, bool) else 0


def fold_messages(events: Iterable[tuple[str, int, Any]]) -> tuple[list[Message], Output]:
    """``(name, time_ns, body)`` message and choice events → (prompt messages, output).

    The message events carry no index: they are kept in time order (ties in arrival order).
    Choices are ordered by their ``index``, so the result does not depend on arrival order.
    """
    prompts: list[tuple[int, Message]] = []
    choices: list[tuple[int, dict[str, Any]]] = []
    for name, time_ns, raw in events:
        body = loads(raw) if isinstance(raw, str) else raw
        if name == CHOICE:
            if isinstance(body, dict):
                choices.append((_choice_index(body), body))
            continue
        role = MESSAGE_ROLES.get(name)
        if role is None:
            continue
        if isinstance(body, dict):
            prompts.append((time_ns, message(body, role)[0]))
        elif isinstance(body, str):
            prompts.append((time_ns, {"role": role, "content": body}))
    prompts.sort(key=lambda p: p[0])
    out = Output()
    choices.sort(key=lambda c: c[0])
    for _, body in choices:
        msg = body.get("message")
        msg = dict(msg) if isinstance(msg, dict) else {}
        if "tool_calls" in body and "tool_calls" not in msg:
            msg["tool_calls"] = body["tool_calls"]
        out.add(msg, body.get("finish_reason"))
    return [m for _, m in prompts], out
