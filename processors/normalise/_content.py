"""Inputs, outputs and system instructions of every shape → canonical messages.

The wrappers around messages: message lists and requests (OpenAI, Anthropic, Vercel's
``ai.prompt``, LangChain batches, pydantic-ai's native ``{kind, parts}``), and what a model
answered (OTel output messages, OpenAI ``choices``, Anthropic ``content``/``stop_reason``,
Gemini ``candidates``, LangChain ``generations``).
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import Message, ToolCall

from ._message import message, plain_text_message, plain_text_messages, text_of, tool_call
from ._values import as_str, loads_or_text
from ._vocab import finish_reason

__all__ = ["Output", "input_messages", "output_messages", "system_text"]

# Requests nest messages under input/inputs/contents; deeper than this is not a request.
_MAX_DEPTH = 8


class Output:
    """What a model produced: one message per choice, their finish reasons, a refusal."""

    __slots__ = ("finish_reasons", "messages", "refusal")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.finish_reasons: list[str] = []
        self.refusal = ""

    def add(self, msg: dict[str, Any], finish: Any = None) -> None:
        m, refusal = message(msg, "assistant")
        self.messages.append(m)
        if refusal and not self.refusal:
            self.refusal = refusal
        f = finish_reason(finish if finish is not None else msg.get("finish_reason"))
        if f:
            self.finish_reasons.append(f)


def _pydantic_native(d: dict[str, Any]) -> list[Message]:
    """pydantic-ai's own ``ModelMessage`` (``{kind: request|response, parts: [{part_kind}]}``)."""
    out: list[Message] = []
    calls: list[ToolCall] = []
    texts: list[str] = []
    parts = d.get("parts")
    for p in parts if isinstance(parts, list) else ():
        if not isinstance(p, dict):
            continue
        kind = p.get("part_kind")
        if kind == "system-prompt":
            out.append({"role": "system", "content": text_of(p.get("content"))})
        elif kind == "user-prompt":
            out.append({"role": "user", "content": text_of(p.get("content"))})
        elif kind in ("tool-return", "retry-prompt"):
            msg: Message = {"role": "tool", "content": text_of(p.get("content"))}
            if p.get("tool_call_id") is not None:
                msg["tool_call_id"] = as_str(p.get("tool_call_id"))
            out.append(msg)
        elif kind == "text":
            texts.append(text_of(p.get("content")))
        elif kind == "tool-call":
            calls.append(tool_call(p.get("tool_call_id"), p.get("tool_name"), p.get("args")))
    if d.get("kind") == "response":
        msg = {"role": "assistant", "content": "\n".join(texts)}
        if calls:
            msg["tool_calls"] = calls
        out.append(msg)
    return out


def _is_pydantic(d: dict[str, Any]) -> bool:
    parts = d.get("parts")
    return (
        "kind" in d
        and isinstance(parts, list)
        and bool(parts)
        and isinstance(parts[0], dict)
        and ("part_kind" in parts[0])
    )


def _is_message(d: dict[str, Any]) -> bool:
    return "role" in d or "parts" in d or "content" in d or ("lc" in d and "kwargs" in d)


def input_messages(value: Any, plain_as_user: bool = False, _depth: int = 0) -> list[Message]:
    """Prompt messages from any input shape (JSON text or structured); ``[]`` when none.

    A bare string becomes one user message only when ``plain_as_user`` (the caller knows the
    span is a model call); otherwise arbitrary function inputs would pass for prompts.
    """
    value = loads_or_text(value)
    if value.__class__ is list and _depth <= _MAX_DEPTH:
        texts = plain_text_messages(value)
        if texts is not None:  # the hot path: OTel GenAI messages of text parts
            return texts
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if plain_as_user and value else []
    if _depth > _MAX_DEPTH:
        return []
    if isinstance(value, dict):
        if "messages" in value or "system" in value or "prompt" in value:
            # A request: OpenAI / Anthropic ({system?, messages}), Vercel's ai.prompt
            # ({system?, prompt?, messages?}), completions ({prompt}).
            msgs = input_messages(value.get("messages"), False, _depth + 1)
            system = value.get("system")
            if isinstance(system, str) and system:
                msgs.insert(0, {"role": "system", "content": system})
            prompt = value.get("prompt")
            if isinstance(prompt, str) and prompt:
                msgs.append({"role": "user", "content": prompt})
            elif prompt is not None and not msgs:
                msgs = input_messages(prompt, plain_as_user, _depth + 1)
            return msgs
        for key in ("input", "inputs", "contents"):
            if key in value and value[key] is not None:
                return input_messages(value[key], plain_as_user, _depth + 1)
        if _is_pydantic(value):
            return _pydantic_native(value)
        return [message(value, "user")[0]] if _is_message(value) else []
    if value.__class__ is not list:
        return []
    if value and isinstance(value[0], list):  # LangChain batches: [[message, ...]]
        return input_messages(value[0], plain_as_user, _depth + 1)
    out: list[Message] = []
    for item in value:
        if isinstance(item, dict):
            plain = plain_text_message(item)
            if plain is not None:
                out.append(plain)
            elif "kind" in item and _is_pydantic(item):
                out.extend(_pydantic_native(item))
            elif _is_message(item):
                out.append(message(item, "user")[0])
        elif isinstance(item, str) and plain_as_user:
            out.append({"role": "user", "content": item})
    return out


def output_messages(value: Any, plain_as_text: bool = True) -> Output:
    """What the model answered, from any output shape (JSON text or structured)."""
    out = Output()
    value = loads_or_text(value)
    if isinstance(value, str):
        if plain_as_text and value:
            out.messages.append({"role": "assistant", "content": value})
        return out
    if isinstance(value, list):
        texts = plain_text_messages(value)
        if texts is not None:  # the hot path: OTel GenAI messages of text parts
            out.messages = texts
            for item in value:
                f = finish_reason(item.get("finish_reason"))
                if f:
                    out.finish_reasons.append(f)
            return out
        for item in value:
            if isinstance(item, dict):
                if "kind" in item and _is_pydantic(item):
                    out.messages.extend(m for m in _pydantic_native(item) if m["role"] == "assistant")
                elif "message" in item and isinstance(item["message"], dict):  # a choice
                    out.add(item["message"], item.get("finish_reason"))
                elif _is_message(item):
                    out.add(item)
            elif isinstance(item, str) and plain_as_text:
                out.messages.append({"role": "assistant", "content": item})
        return out
    if not isinstance(value, dict):
        return out
    choices = value.get("choices")
    if isinstance(choices, list):  # OpenAI chat / completions response, or a stream's final chunk
        for c in sorted((c for c in choices if isinstance(c, dict)), key=_choice_index):
            m = c.get("message") or c.get("delta")
            if isinstance(m, dict):
                out.add(m, c.get("finish_reason"))
            elif isinstance(c.get("text"), str):
                out.add({"role": "assistant", "content": c["text"]}, c.get("finish_reason"))
        return out
    candidates = value.get("candidates")
    if isinstance(candidates, list):  # Gemini
        for c in candidates:
            if isinstance(c, dict) and isinstance(c.get("content"), dict):
                out.add(c["content"], c.get("finishReason", c.get("finish_reason")))
        return out
    generations = value.get("generations")
    if isinstance(generations, list):  # LangChain LLMResult
        batch = generations[0] if generations and isinstance(generations[0], list) else generations
        for g in batch:
            if not isinstance(g, dict):
                continue
            info = g.get("generation_info")
            finish = info.get("finish_reason") if isinstance(info, dict) else None
            m = g.get("message")
            out.add(m if isinstance(m, dict) else {"content": g.get("text")}, finish)
        return out
    if "stop_reason" in value and isinstance(value.get("content"), list):  # Anthropic
        out.add(value, value.get("stop_reason"))
        return out
    if isinstance(value.get("message"), dict):  # Logfire response_data, Ollama
        out.add(value["message"], value.get("finish_reason", value.get("done_reason")))
        return out
    if _is_message(value):
        out.add(value)
    return out


def _choice_index(c: dict[str, Any]) -> int:
    i = c.get("index")
    return i if isinstance(i, int) else 0


def system_text(value: Any) -> str:
    """System instructions as text: a bare parts array (semconv), a message list, or plain text."""
    value = loads_or_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return ""
    texts = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            if "parts" in item or "role" in item:  # a message (LiteLLM writes a system message)
                texts.append(message(item)[0]["content"])
            else:
                texts.append(text_of([item]))
    return "\n".join(t for t in texts if t)
