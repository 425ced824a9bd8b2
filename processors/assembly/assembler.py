"""Trace assembly: gives LLM spans the context that only other spans or log records carry.

Instrumentations spread one LLM call over several OTLP items that arrive in separate requests,
in any order: openai-v2 sets ``session.id``/``user.id`` only on an ancestor span (which ends, and
so is exported, *after* its children), and puts message content in log records correlated by
trace and span id. The assembler keeps each trace's span tree and waiting log records for a
bounded time, and releases an LLM span once

* its session is known (its own attribute, the nearest ancestor's, or any span of the trace's)
  or the trace's root span has arrived, or ``context_wait_s`` has passed; and
* its content is known (on the span or joined from a log record), or ``log_wait_s`` has passed.

Time here is arrival time on an injected monotonic clock: these waits bound network and
exporter delays, not application behaviour (session timers on event time live in the session
state). Memory is bounded by ``max_traces``, ``max_held_spans`` and ``max_pending_logs``; when a
bound is hit the oldest entry is released or dropped early, never the newest.

Ingest-log bookkeeping: every span and log record holds its request's sequence number until it
is done with. :meth:`poll` returns the released spans, each with the extra sequence numbers whose
data it carries (ancestors it inherited from, log records joined into it), and the sequence
numbers of items that are finished. The caller takes a hold on the extras *before* releasing the
finished ones, and releases a span's own and extra holds once it is stored; so a crash between
acknowledgement and storage always replays everything a stored row was built from.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from tracesieve.collector.contracts import KIND_LLM, KIND_OTHER, CanonicalSpan, LogEvent
from tracesieve.processors.assembly.config import AssemblyConfig

__all__ = ["Released", "TraceAssembler"]


class Released(NamedTuple):
    span: CanonicalSpan
    extra_seqs: tuple[int, ...]


@dataclass(slots=True)
class _Node:
    parent: str
    session_id: str
    user_id: str
    seq: int


@dataclass(slots=True)
class _Held:
    span: CanonicalSpan
    deadline_context: float
    deadline_content: float
    extra_seqs: list[int] = field(default_factory=list)
    released: bool = False


@dataclass(slots=True)
class _Trace:
    nodes: dict[str, _Node] = field(default_factory=dict)
    held: list[_Held] = field(default_factory=list)
    root_seen: bool = False
    session_id: str = ""
    user_id: str = ""
    last_seen: float = 0.0
    context_seqs: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _PendingLog:
    event: LogEvent
    expires: float


class TraceAssembler:
    """Holds spans until their context is known; see the module docstring for the rules."""

    def __init__(
        self,
        config: AssemblyConfig,
        join_log: Callable[[CanonicalSpan, LogEvent], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._join_log = join_log
        self._clock = clock
        self._traces: OrderedDict[str, _Trace] = OrderedDict()  # by last activity
        self._remembered: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._pending_logs: dict[tuple[str, str], list[_PendingLog]] = {}
        self._pending_log_order: deque[tuple[tuple[str, str], float]] = deque()
        self._pending_log_count = 0
        self._held_order: deque[tuple[str, _Held]] = deque()  # arrival order, for the bound
        # Waits are constant, so deadlines grow with arrival order and a deque per kind is sorted.
        self._context_deadlines: deque[tuple[float, str, _Held]] = deque()
        self._content_deadlines: deque[tuple[float, str, _Held]] = deque()
        self._held_count = 0
        self._dirty: set[str] = set()
        self._ready: list[Released] = []
        self._finished: list[int] = []

    @property
    def held_spans(self) -> int:
        return self._held_count

    @property
    def pending_logs(self) -> int:
        return self._pending_log_count

    @property
    def traces(self) -> int:
        return len(self._traces)

    def context_of(self, trace_id: str) -> tuple[str, str]:
        """The (session id, user id) known for a trace here, live or remembered; empty if none."""
        trace = self._traces.get(trace_id)
        if trace is not None:
            return trace.session_id, trace.user_id
        return self._remembered.get(trace_id, ("", ""))

    # -- input -------------------------------------------------------------------------------

    def add_spans(self, spans: list[CanonicalSpan]) -> None:
        now = self._clock()
        cfg = self._config
        traces = self._traces
        pending_logs = self._pending_logs
        for span in spans:
            if (
                span.session_id
                and span.user_id
                and (span.kind != KIND_LLM or span.has_content)
                and span.trace_id not in traces
                and (span.kind != KIND_OTHER or cfg.store_non_llm_spans)
                and (not pending_logs or (span.trace_id, span.span_id) not in pending_logs)
            ):
                # Fast path, most spans of apps that set their ids on every span (OpenInference,
                # OpenLLMetry, Langfuse): nothing to wait for and nobody waiting on this trace.
                # Later spans of the trace inherit through the remembered ids, not a span tree.
                if span.turn_index < 0:
                    span.turn_index = _turn_index(span)
                self._ready.append(Released(span, ()))
                self._remember(span.trace_id, span.session_id, span.user_id)
                continue
            trace = self._touch(span.trace_id, now)
            trace.nodes[span.span_id] = _Node(span.parent_span_id, span.session_id, span.user_id, span.seq)
            if not span.parent_span_id:
                trace.root_seen = True
            if span.session_id and not trace.session_id:
                trace.session_id = span.session_id
            if span.user_id and not trace.user_id:
                trace.user_id = span.user_id
            self._dirty.add(span.trace_id)
            if span.kind == KIND_OTHER and not cfg.store_non_llm_spans:
                trace.context_seqs.append(span.seq)
                continue
            held = _Held(span, now + cfg.context_wait_s, now + cfg.log_wait_s)
            waiting = self._pending_logs.pop((span.trace_id, span.span_id), None)
            if waiting:
                for pending in sorted(waiting, key=lambda p: p.event.time_ns):
                    self._join(held, pending.event)
                self._pending_log_count -= len(waiting)
            trace.held.append(held)
            self._held_order.append((span.trace_id, held))
            self._context_deadlines.append((held.deadline_context, span.trace_id, held))
            self._content_deadlines.append((held.deadline_content, span.trace_id, held))
            self._held_count += 1
        self._enforce_bounds()

    def add_logs(self, events: list[LogEvent]) -> None:
        now = self._clock()
        for event in events:
            trace = self._traces.get(event.trace_id)
            held = None
            if trace is not None:
                held = next(
                    (h for h in trace.held if h.span.span_id == event.span_id and not h.released), None
                )
            if held is not None:
                self._join(held, event)
                self._dirty.add(event.trace_id)
                continue
            key = (event.trace_id, event.span_id)
            expires = now + self._config.pending_log_ttl_s
            self._pending_logs.setdefault(key, []).append(_PendingLog(event, expires))
            self._pending_log_order.append((key, expires))
            self._pending_log_count += 1
        self._enforce_bounds()

    def _join(self, held: _Held, event: LogEvent) -> None:
        self._join_log(held.span, event)
        # The log record's data now lives in the span: its ingest-log record must be kept until
        # the span is stored, so it travels as an extra sequence number and is finished here.
        held.extra_seqs.append(event.seq)
        self._finished.append(event.seq)

    # -- output ------------------------------------------------------------------------------

    def poll(self) -> tuple[list[Released], list[int]]:
        """Release what is ready or overdue; return (released spans, finished sequence numbers)."""
        now = self._clock()
        for trace_id in self._dirty:
            trace = self._traces.get(trace_id)
            if trace is not None:
                self._release_ready(trace, now, force=False)
        self._dirty.clear()
        for deadlines in (self._context_deadlines, self._content_deadlines):
            while deadlines and deadlines[0][0] <= now:
                _deadline, trace_id, held = deadlines.popleft()
                trace = self._traces.get(trace_id)
                if held.released or trace is None:
                    continue
                if self._release_if_due(trace, held, now):
                    trace.held = [h for h in trace.held if not h.released]
        self._expire(now)
        ready, finished = self._ready, self._finished
        self._ready, self._finished = [], []
        return ready, finished

    def flush(self) -> tuple[list[Released], list[int]]:
        """Release every waiting span now, as it is (shutdown, or draining for a reader)."""
        touched: set[str] = set()
        while self._held_order:
            trace_id, held = self._held_order.popleft()
            trace = self._traces.get(trace_id)
            if held.released or trace is None:
                continue
            self._release(trace, held)
            touched.add(trace_id)
        for trace_id in touched:
            trace = self._traces[trace_id]
            trace.held = [h for h in trace.held if not h.released]
        return self.poll()

    def _release_if_due(self, trace: _Trace, held: _Held, now: float) -> bool:
        context_ok, _, _ = self._context(trace, held.span)
        content_ok = held.span.has_content or held.span.kind != KIND_LLM
        due = (context_ok or held.deadline_context <= now) and (content_ok or held.deadline_content <= now)
        if due:
            self._release(trace, held)
        return due

    def _release_ready(self, trace: _Trace, now: float, *, force: bool) -> None:
        for held in trace.held:
            if held.released:
                continue
            if force:
                self._release(trace, held)
            else:
                self._release_if_due(trace, held, now)
        trace.held = [h for h in trace.held if not h.released]

    def _release(self, trace: _Trace, held: _Held) -> None:
        span = held.span
        _ok, source, (session_id, user_id) = self._context(trace, span)
        if not span.session_id and session_id:
            span.session_id = session_id
        if not span.user_id and user_id:
            span.user_id = user_id
        if source and source.seq != span.seq:
            held.extra_seqs.append(source.seq)
        if span.turn_index < 0:
            span.turn_index = _turn_index(span)
        held.released = True
        self._held_count -= 1
        self._ready.append(Released(span, tuple(held.extra_seqs)))

    def _context(self, trace: _Trace, span: CanonicalSpan) -> tuple[bool, _Node | None, tuple[str, str]]:
        """(known for sure, the node it came from, (session, user)) for a span."""
        if span.session_id:
            return True, None, (span.session_id, span.user_id or trace.user_id)
        node_id = span.parent_span_id
        seen = 0
        while node_id and seen < 256:  # a cycle in hostile parent ids must not hang the loop
            node = trace.nodes.get(node_id)
            if node is None:
                break
            if node.session_id:
                return True, node, (node.session_id, span.user_id or node.user_id or trace.user_id)
            node_id = node.parent
            seen += 1
        if trace.session_id:
            source = next((n for n in trace.nodes.values() if n.session_id == trace.session_id), None)
            return True, source, (trace.session_id, span.user_id or trace.user_id)
        remembered = self._remembered.get(span.trace_id)
        if remembered is not None:
            return True, None, remembered
        return trace.root_seen, None, ("", span.user_id or trace.user_id)

    # -- bounds and expiry ---------------------------------------------------------------------

    def _touch(self, trace_id: str, now: float) -> _Trace:
        trace = self._traces.get(trace_id)
        if trace is None:
            trace = self._traces[trace_id] = _Trace()
        else:
            self._traces.move_to_end(trace_id)
        trace.last_seen = now
        return trace

    def _expire(self, now: float) -> None:
        idle = self._config.trace_idle_s
        while self._traces:
            trace_id, trace = next(iter(self._traces.items()))
            if trace.last_seen + idle > now and len(self._traces) <= self._config.max_traces:
                break
            self._evict(trace_id, trace)
        while self._pending_log_order:
            key, expires = self._pending_log_order[0]
            if expires > now and self._pending_log_count <= self._config.max_pending_logs:
                break
            self._pending_log_order.popleft()
            waiting = self._pending_logs.get(key)
            if not waiting:
                continue
            # Drop the oldest record for that key (the one this order entry stands for).
            pending = waiting.pop(0)
            self._pending_log_count -= 1
            self._finished.append(pending.event.seq)
            if not waiting:
                del self._pending_logs[key]

    def _evict(self, trace_id: str, trace: _Trace) -> None:
        del self._traces[trace_id]
        for held in trace.held:
            if not held.released:
                self._release(trace, held)
        self._finished.extend(trace.context_seqs)
        if trace.session_id or trace.user_id:
            self._remember(trace_id, trace.session_id, trace.user_id)

    def _remember(self, trace_id: str, session_id: str, user_id: str) -> None:
        remembered = self._remembered
        if trace_id in remembered:
            return
        remembered[trace_id] = (session_id, user_id)
        if len(remembered) > self._config.remembered_traces:
            remembered.popitem(last=False)

    def _enforce_bounds(self) -> None:
        while self._held_order and self._held_order[0][1].released:
            self._held_order.popleft()
        while self._held_count > self._config.max_held_spans and self._held_order:
            trace_id, held = self._held_order.popleft()
            trace = self._traces.get(trace_id)
            if held.released or trace is None:
                continue
            self._release(trace, held)
            trace.held = [h for h in trace.held if not h.released]
        cfg = self._config
        if len(self._traces) > cfg.max_traces or self._pending_log_count > cfg.max_pending_logs:
            self._expire(self._clock())


def _turn_index(span: CanonicalSpan) -> int:
    """The 0-based turn of an LLM call: how many user messages precede its last one."""
    users = sum(1 for m in span.input_messages if m.get("role") == "user")
    return users - 1 if users else -1
