"""Configuration of the session state (``processors.sessions``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SessionsConfig"]


class SessionsConfig(BaseModel):
    """How turns are grouped into sessions, how late a span may be, and the memory bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True, description="Run the session state, the detectors and the scorer; off stores spans only."
    )
    allowed_lateness_s: float = Field(
        5.0,
        ge=0,
        description="Event-time lateness the watermark allows: it trails the newest span end by this much.",
    )
    idle_source_s: float = Field(
        2.0,
        gt=0,
        description="After this long (wall clock) with no span, event time is taken to advance with the "
        "wall clock, so timers still fire on a quiet stream.",
    )
    user_session_gap_s: float = Field(
        1800.0,
        gt=0,
        description="Spans with a user id but no session id form sessions per user, split by this "
        "inactivity gap (event time).",
    )
    session_ttl_s: float = Field(
        3600.0,
        gt=0,
        description="A session is forgotten once the watermark is this far past its last turn "
        "(its pending timers fire first). Must exceed every idle deadline.",
    )
    turn_settle_s: float = Field(
        30.0,
        ge=0,
        description="A turn's spans are kept this long (event time) after its last span for late "
        "siblings; then only its compact record stays.",
    )
    max_sessions: int = Field(50_000, gt=0, description="Sessions kept; the least recently active go first.")
    max_turns_per_session: int = Field(
        16, ge=3, description="Turns kept per session, newest by event time (pair detectors need 3)."
    )
    max_spans_per_turn: int = Field(256, gt=0, description="Spans kept per turn while it settles.")
    max_text_chars: int = Field(
        2000, ge=100, description="User message and answer text kept per turn record (characters)."
    )
    max_pending_feedback: int = Field(
        100_000, ge=0, description="Feedback kept in memory while its target span has not arrived."
    )
    pending_feedback_ttl_s: float = Field(
        7 * 86400.0, gt=0, description="How long feedback waits for its target span."
    )
    checkpoint_interval_s: float = Field(
        30.0,
        gt=0,
        description="How often the session state is checkpointed to the data folder (a crash replays "
        "what came after the last checkpoint; each checkpoint serialises the whole state).",
    )

    @model_validator(mode="after")
    def _check(self) -> SessionsConfig:
        if self.session_ttl_s < self.turn_settle_s:
            raise ValueError(
                "`processors.sessions.session_ttl_s` must be ≥ `turn_settle_s` "
                f"(got {self.session_ttl_s} < {self.turn_settle_s})"
            )
        return self
