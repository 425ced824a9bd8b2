"""Record keys on the internal topics: what lands on which partition.

Assembly needs a trace's spans and log records together, so the normaliser keys them by trace
id. The session state needs a session's spans together, so the assembler keys assembled spans
by :func:`session_key`, which follows the session processor's own resolution order (session id,
else the user's, else the trace's): every span that the processor would file in one session
lands on one partition. Feedback follows its target the same way, as far as it is known.
"""

from __future__ import annotations

from tracesieve.collector.contracts import CanonicalSpan, Feedback

__all__ = ["feedback_key", "session_key"]


def session_key(span: CanonicalSpan) -> bytes:
    if span.session_id:
        return span.session_id.encode()
    if span.user_id:
        return b"user:" + span.user_id.encode()
    return b"trace:" + span.trace_id.encode()


def feedback_key(item: Feedback, session_id: str = "", user_id: str = "") -> bytes:
    """``session_id``/``user_id``: what is known of the target trace's session, if anything.
    Feedback whose session stays unknown goes where its target id hashes; the processor that
    gets it looks the target up in the store."""
    session = item.session_id or session_id
    if session:
        return session.encode()
    user = item.user_id or user_id
    if user:
        return b"user:" + user.encode()
    if item.trace_id:
        return b"trace:" + item.trace_id.encode()
    return (item.span_id or item.response_id or item.feedback_id).encode()
