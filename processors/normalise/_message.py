"""One chat message of any shape → a canonical message.

Shapes are recognised by their keys rather than by who sent them, because producers mix them
(LiteLLM puts OpenAI ``tool_calls`` next to OTel ``parts``; Langfuse forwards whatever the app
passed): OTel GenAI ``{role, parts}``, OpenAI chat ``{role, content, tool_calls, refusal}``,
Anthropic and Vercel content blocks, LangChain serialised messages.

A message is ``{"role", "content", "tool_calls"?, "tool_call_id"?, "name"?}`` with content the
text parts joined by newlines; reasoning, refusal and media parts are not content.
"""

from __future__ import annotations

from typing import Any

from tracesieve.collector.contracts import Message, ToolCall

from ._values import as_str, json_text

__all__ = ["message", "plain_text_message", "plain_text_messages", "text_of", "tool_call"]

_ROLES = {
    "human": "user",
    "humanmessage": "user",
    "ai": "assistant",
    "aimessage": "assistant",
    "aimessagechunk": "assistant",
    "model": "assistant",
    "systemmessage": "system",
    "toolmessage": "tool",
    "function": "tool",
    "functionmessage": "tool",
}
_TEXT_PARTS = frozenset(("text", "input_text", "output_text"))
_CALL_PARTS = frozenset(("tool_call", "tool-call", "tool_use", "function_call"))
_RESULT_PARTS = frozenset(("tool_call_response", "tool-result", "tool_result", "function_call_output"))
_CANONICAL_ROLES = frozenset(("system", "user", "assistant", "tool", "developer"))


def _role(value: Any) -> str:
    if isinstance(value, str) and value in _CANONICAL_ROLES:
        return str(value)
    r = value.strip().lower() if isinstance(value, str) else ""
    return _ROLES.get(r, r)


def _part_type(part: dict[str, Any]) -> str:
    # A structured AnyValue (a log event's attributes) can make it a dict or a list: unhashable.
    t = part.get("type", "text")
    return t if isinstance(t, str) else ""


def tool_call(call_id: Any, name: Any, arguments: Any) -> ToolCall:
    """A canonical tool call; arguments kept as the JSON text the model produced."""
    return {"id": as_str(call_id), "name": as_str(name), "arguments": json_text(arguments)}


def _openai_tool_calls(calls: Any) -> list[ToolCall]:
    out: list[ToolCall] = []
    if not isinstance(calls, list):
        return out
    for c in calls:
        if not isinstance(c, dict):
            continue
        fn = c.get("function")
        if isinstance(fn, dict):  # OpenAI {id, type, function: {name, arguments}}
            out.append(tool_call(c.get("id"), fn.get("name"), fn.get("arguments")))
        else:  # flat {id, name, arguments | args | input} (LangChain, OTel parts, Vercel)
            args = c.get("arguments", c.get("args", c.get("input")))
            out.append(tool_call(c.get("id", c.get("toolCallId")), c.get("name", c.get("toolName")), args))
    return out


def text_of(content: Any) -> str:
    """The text of a content value: a string, a list of parts, or anything else as JSON."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for p in content:
            if isinstance(p, str):
                texts.append(p)
            elif isinstance(p, dict) and _part_type(p) in _TEXT_PARTS:
                t = p.get("content", p.get("text"))
                if isinstance(t, str):
                    texts.append(t)
        return "\n".join(texts)
    return json_text(content)


def _parts(parts: list[Any], msg: Message) -> str:
    """Fold a parts list into ``msg``; returns the refusal text, if any."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    refusal = ""
    for p in parts:
        if isinstance(p, str):
            texts.append(p)
            continue
        if not isinstance(p, dict):
            continue
        t = _part_type(p)
        if t == "text" or t in _TEXT_PARTS:
            s = p.get("content")
            if s is None:
                s = p.get("text")
            if isinstance(s, str):
                texts.append(s)
        elif t in _CALL_PARTS:
            args = p.get("arguments", p.get("input", p.get("args")))
            call_id = p.get("id", p.get("toolCallId", p.get("call_id")))
            calls.append(tool_call(call_id, p.get("name", p.get("toolName")), args))
        elif t in _RESULT_PARTS:
            result = next((p[k] for k in ("response", "result", "output", "content") if k in p), None)
            texts.append(text_of(result))
            call_id = p.get("id", p.get("toolCallId", p.get("tool_use_id", p.get("call_id"))))
            if call_id is not None:
                msg["tool_call_id"] = as_str(call_id)
        elif t == "refusal":
            s = p.get("content", p.get("refusal", p.get("text")))
            if isinstance(s, str) and not refusal:
                refusal = s
        # reasoning / thinking, blob, file, uri, image_url, server tool parts: not content text.
    msg["content"] = "\n".join(texts)
    if calls:
        msg.setdefault("tool_calls", []).extend(calls)
    return refusal


def _unwrap_langchain(d: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """LangChain ``{"lc": 1, "id": [..., "HumanMessage"], "kwargs": {...}}`` or ``{"type", "data"}``."""
    kwargs = d.get("kwargs")
    if d.get("lc") is not None and isinstance(kwargs, dict):
        ident = d.get("id")
        cls = ident[-1] if isinstance(ident, list) and ident and isinstance(ident[-1], str) else ""
        return kwargs, _role(cls) or _role(kwargs.get("type"))
    data = d.get("data")
    if isinstance(data, dict) and "content" in data and "role" not in d:
        return data, _role(d.get("type"))
    return d, ""


def plain_text_messages(items: list[Any]) -> list[Message] | None:
    """The hot path: OTel GenAI messages of text parts only (most lists); ``None`` if any is not.

    One call for the whole list, the common one-part message checked inline; any other message
    goes through :func:`plain_text_message`.
    """
    out: list[Message] = []
    append = out.append
    roles = _CANONICAL_ROLES
    for d in items:
        if d.__class__ is not dict:
            return None
        parts = d.get("parts")
        if parts.__class__ is not list:
            return None
        role = d.get("role")
        if role.__class__ is not str or role not in roles:
            return None
        n = len(d)  # role and parts are there: any other key may only be finish_reason
        if n != 2 and (n != 3 or "finish_reason" not in d):
            return None
        if len(parts) == 1:
            p = parts[0]
            if p.__class__ is not dict or p.get("type") != "text":
                return None
            c = p.get("content")
            if c.__class__ is not str:
                return None
            append({"role": role, "content": c})
        else:
            m = plain_text_message(d)
            if m is None:
                return None
            append(m)
    return out


def plain_text_message(d: dict[str, Any]) -> Message | None:
    """One OTel GenAI message of text parts only as a canonical message; else ``None``."""
    parts = d.get("parts")
    if parts.__class__ is not list:
        return None
    role = d.get("role")
    if role.__class__ is not str or role not in _CANONICAL_ROLES:
        return None
    n = len(d)  # role and parts are there: any other key may only be finish_reason
    if n != 2 and (n != 3 or "finish_reason" not in d):
        return None
    texts = []
    for p in parts:
        if p.__class__ is not dict or p.get("type") != "text":
            return None
        c = p.get("content")
        if c.__class__ is not str:
            return None
        texts.append(c)
    return {"role": role, "content": "\n".join(texts)}


def message(d: dict[str, Any], default_role: str = "") -> tuple[Message, str]:
    """One message of any shape: ``(canonical message, refusal text)``."""
    plain = plain_text_message(d)
    if plain is not None:
        return plain, ""
    lc_role = ""
    if "kwargs" in d or "data" in d:
        d, lc_role = _unwrap_langchain(d)
    role = lc_role or _role(d.get("role")) or _role(d.get("type")) or default_role
    msg: Message = {"role": role, "content": ""}
    refusal = ""
    parts = d.get("parts")
    content = d.get("content")
    if isinstance(parts, list):
        refusal = _parts(parts, msg)
    elif isinstance(content, list):
        refusal = _parts(content, msg)
    else:
        msg["content"] = text_of(content)
    calls = _openai_tool_calls(d.get("tool_calls"))
    fc = d.get("function_call")
    if isinstance(fc, dict):
        calls.append(tool_call(fc.get("id"), fc.get("name"), fc.get("arguments")))
    if calls:
        msg.setdefault("tool_calls", []).extend(calls)
    call_id = d.get("tool_call_id")
    if call_id is None and role == "tool":
        call_id = d.get("id")  # 1.28–1.36 gen_ai.tool.message body: {content, id}
    if call_id is not None and "tool_call_id" not in msg:
        msg["tool_call_id"] = as_str(call_id)
    name = d.get("name")
    if isinstance(name, str) and name:
        msg["name"] = name
    r = d.get("refusal")
    if isinstance(r, str) and r and not refusal:
        refusal = r
    return msg, refusal
