"""Configuration of the normaliser (``processors.normalise`` in the YAML file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NormaliseConfig"]

# DESIGN.md, "The canonical span": session id resolution order is explicit and configurable.
_SESSION_ID_KEYS = (
    "session.id",
    "gen_ai.conversation.id",
    "traceloop.association.properties.session_id",
    "langfuse.session.id",
    "langsmith.trace.session_id",
    "ai.telemetry.metadata.sessionId",
    "langfuse.trace.metadata.langfuse_session_id",
)
_USER_ID_KEYS = (
    "user.id",
    "langfuse.user.id",
    "traceloop.association.properties.user_id",
    "ai.telemetry.metadata.userId",
    "gen_ai.user",
    "llm.user",
    "langfuse.trace.metadata.langfuse_user_id",
    "enduser.id",
)


class NormaliseConfig(BaseModel):
    """How OTLP spans and GenAI log records become canonical spans."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id_keys: tuple[str, ...] = Field(
        default=_SESSION_ID_KEYS,
        description=(
            "Attribute keys holding the session (conversation) id, in order of preference. The first "
            "non-empty one wins, looked up in the span's attributes and then in its resource's."
        ),
    )
    user_id_keys: tuple[str, ...] = Field(
        default=_USER_ID_KEYS,
        description=(
            "Attribute keys holding the end user's id, in order of preference; looked up like "
            "`session_id_keys`."
        ),
    )
    max_attribute_value_bytes: int = Field(
        default=65536,
        ge=256,
        description=(
            "Longest stringified attribute value kept in the span's attribute maps (span, resource, "
            "event and link attributes), in UTF-8 bytes; longer values are cut and end with a "
            "`...[truncated N bytes]` marker. The canonical content fields (messages, output text, "
            "documents) are never cut."
        ),
    )
    max_attributes: int = Field(
        default=1000,
        ge=16,
        description=(
            "Attributes kept per span, resource, event or link, in the order sent; the rest are "
            "dropped, as the OTel SDK's attribute count limit does, and their number is stored as "
            "`tracesieve.dropped_attributes_count` in that attribute map."
        ),
    )
    keep_content_attributes: bool = Field(
        default=False,
        description=(
            "Also keep, in the span's attribute map, the content attributes (such as "
            "`gen_ai.input.messages`, `input.value`, `langfuse.observation.output`) whose text was "
            "read into the canonical message, output and document fields. Off by default: they "
            "would double the stored bytes of a GenAI span."
        ),
    )
