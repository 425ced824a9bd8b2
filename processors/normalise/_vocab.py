"""The canonical vocabularies: provider names, finish reasons, operations → kinds, error types."""

from __future__ import annotations

import re

from tracesieve.collector.contracts import (
    KIND_AGENT,
    KIND_EMBEDDING,
    KIND_LLM,
    KIND_OTHER,
    KIND_RETRIEVAL,
    KIND_TOOL,
)

from ._values import as_str, as_str_list

__all__ = [
    "error_type",
    "finish_reason",
    "finish_reasons",
    "kind_of_operation",
    "provider",
]

# conventions.md §1.2 (old gen_ai.system values) and §2 "Converting to GenAI" (OpenInference
# llm.provider / llm.system), plus the capitalised names of OpenLLMetry's legacy instrumentations.
_PROVIDERS = {
    "az.ai.openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
    "azure_openai": "azure.ai.openai",
    "azure-openai": "azure.ai.openai",
    "azure": "azure.ai.inference",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "vertex ai": "gcp.vertex_ai",
    "google.vertex": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google": "gcp.gen_ai",
    "google.generative-ai": "gcp.gen_ai",
    "google_genai": "gcp.gen_ai",
    "xai": "x_ai",
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock",
    "watsonx": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
}


# The Vercel AI SDK names providers "<provider>.<api>" (ai.model.provider, and gen_ai.system there).
_API_SUFFIXES = frozenset(("chat", "messages", "responses", "completion", "embedding", "image", "speech"))


def provider(name: str, system: str = "") -> str:
    """The current ``gen_ai.provider.name`` value for a provider or system name of any convention.

    ``system`` is OpenInference's ``llm.system``, which decides what ``azure`` and ``google`` mean.
    """
    if not system:
        known = _SEEN_PROVIDERS.get(name)
        if known is not None:
            return known
        p = _provider(name, "")
        if len(_SEEN_PROVIDERS) < 1024:  # provider names are few; bound the memo all the same
            _SEEN_PROVIDERS[name] = p
        return p
    return _provider(name, system)


_SEEN_PROVIDERS: dict[str, str] = {}  # name → provider, when there is no system to consider


def _provider(name: str, system: str) -> str:
    p = name.strip().lower()
    if not p:
        return ""
    head, _, tail = p.rpartition(".")
    if head and tail in _API_SUFFIXES:
        p = head
    if p == "azure" and system.lower() == "openai":
        return "azure.ai.openai"
    if p == "google" and system.lower() in ("vertexai", "vertex_ai"):
        return "gcp.vertex_ai"
    return _PROVIDERS.get(p, p)


# The span attribute's enum is stop|length|content_filter|tool_call|error (semconv ≥1.37); the
# old gen_ai.choice event, OpenAI and Vercel say tool_calls / function_call / tool-calls, and other
# providers have their own words for the same ends.
_FINISH = {
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "tool-calls": "tool_call",
    "tool_use": "tool_call",
    "content-filter": "content_filter",
    "safety": "content_filter",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "end_turn": "stop",
    "stop_sequence": "stop",
}


# Values already in the vocabulary (most of them) map to themselves: one lookup, no copies.
_CANONICAL_FINISH = {r: r for r in ("stop", "length", "content_filter", "tool_call", "error")}


def finish_reason(value: object) -> str:
    """One finish reason in the semconv vocabulary (lower case), or empty."""
    if not isinstance(value, str):
        return ""
    known = _CANONICAL_FINISH.get(value)
    if known is not None:
        return known
    r = value.strip().lower()
    return _FINISH.get(r, r)


def finish_reasons(value: object) -> list[str]:
    """A list of finish reasons (an array, a JSON-array text or one bare string), in the vocabulary."""
    if value.__class__ is not list:
        return [f for f in map(finish_reason, as_str_list(value)) if f]
    out = []
    for item in value:  # the common case, a string array: one pass, known values looked up once
        f = _CANONICAL_FINISH.get(item) if item.__class__ is str else None
        if f is None:
            f = finish_reason(as_str(item))
        if f:
            out.append(f)
    return out


_OPERATION_KINDS = {
    "chat": KIND_LLM,
    "text_completion": KIND_LLM,
    "generate_content": KIND_LLM,
    "completion": KIND_LLM,
    "generate": KIND_LLM,
    "responses": KIND_LLM,
    "embeddings": KIND_EMBEDDING,
    "embedding": KIND_EMBEDDING,
    "retrieval": KIND_RETRIEVAL,
    "rerank": KIND_RETRIEVAL,
    "execute_tool": KIND_TOOL,
    "invoke_agent": KIND_AGENT,
    "create_agent": KIND_AGENT,
    "invoke_workflow": KIND_AGENT,
    "plan": KIND_AGENT,
    "chain": KIND_AGENT,
    "task": KIND_AGENT,
    "workflow": KIND_AGENT,
    "agent": KIND_AGENT,
}


def kind_of_operation(operation: str) -> str:
    """The canonical span kind of a (normalised) operation name; ``other`` when unknown."""
    return _OPERATION_KINDS.get(operation, KIND_OTHER)


_CLASS_REPR = re.compile(r"^<class '([^']+)'>$")


def error_type(value: str) -> str:
    """``error.type`` with a Python class repr (``<class 'openai.X'>``) reduced to its qualified name."""
    v = value.strip()
    m = _CLASS_REPR.match(v)
    return m.group(1) if m else v
