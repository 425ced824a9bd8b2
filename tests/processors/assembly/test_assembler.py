"""Trace assembly: session inheritance, log joins in either order, timeouts, bounds."""

from __future__ import annotations

from tracesieve.collector.contracts import KIND_AGENT, KIND_LLM, KIND_OTHER, CanonicalSpan, LogEvent
from tracesieve.processors.assembly import AssemblyConfig, TraceAssembler

TRACE = "0af7651916cd43dd8448eb211c80319c"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _join(span: CanonicalSpan, event: LogEvent) -> None:
    span.input_messages = list(event.attributes["messages"])


def _span(
    span_id: str, parent: str = "", *, kind: str = KIND_LLM, seq: int = 1, **fields: object
) -> CanonicalSpan:
    span = CanonicalSpan(TRACE, span_id, parent, "s", 0, 1, kind=kind, seq=seq)
    for key, value in fields.items():
        setattr(span, key, value)
    return span


def _assembler(**cfg: object) -> tuple[TraceAssembler, ManualClock]:
    clock = ManualClock()
    return TraceAssembler(AssemblyConfig(**cfg), _join, clock=clock), clock  # type: ignore[arg-type]


CONTENT = {"input_messages": [{"role": "user", "content": "hi"}]}


def test_child_waits_for_the_root_and_inherits_its_session() -> None:
    asm, _clock = _assembler()
    asm.add_spans([_span("c" * 16, "a" * 16, seq=1, **CONTENT)])
    assert asm.poll() == ([], [])  # no session yet, root not seen
    asm.add_spans([_span("a" * 16, "r" * 16, kind=KIND_AGENT, seq=2)])
    assert asm.poll()[0] == []  # the parent has no session and the root is still missing
    asm.add_spans([_span("r" * 16, "", kind=KIND_OTHER, seq=3, session_id="sess-1", user_id="alice")])
    released, finished = asm.poll()
    spans = {r.span.span_id: r for r in released}
    child = spans["c" * 16]
    assert (child.span.session_id, child.span.user_id) == ("sess-1", "alice")
    assert 3 in child.extra_seqs  # the root's record stays until the child is stored
    assert spans["a" * 16].span.session_id == "sess-1"
    assert finished == []  # the root's own hold goes when the trace is evicted


def test_span_with_its_own_session_and_content_is_released_at_once() -> None:
    asm, _ = _assembler()
    asm.add_spans([_span("c" * 16, "a" * 16, session_id="s", **CONTENT)])
    released, _ = asm.poll()
    assert [r.span.span_id for r in released] == ["c" * 16]
    assert released[0].span.turn_index == 0


def test_log_record_after_the_span_is_joined() -> None:
    asm, _ = _assembler()
    asm.add_spans([_span("c" * 16, session_id="s", seq=1)])
    assert asm.poll()[0] == []  # no content: waits for its log record
    asm.add_logs(
        [
            LogEvent(
                TRACE,
                "c" * 16,
                "gen_ai.client.inference.operation.details",
                5,
                {"messages": [{"role": "user", "content": "q"}]},
                None,
                seq=2,
            )
        ]
    )
    released, finished = asm.poll()
    assert released[0].span.input_messages == [{"role": "user", "content": "q"}]
    assert released[0].extra_seqs == (2,)
    assert finished == [2]


def test_log_record_before_the_span_is_joined_when_it_arrives() -> None:
    asm, _ = _assembler()
    asm.add_logs(
        [
            LogEvent(
                TRACE,
                "c" * 16,
                "gen_ai.client.inference.operation.details",
                5,
                {"messages": [{"role": "user", "content": "q"}]},
                None,
                seq=1,
            )
        ]
    )
    assert asm.pending_logs == 1
    asm.add_spans([_span("c" * 16, session_id="s", seq=2)])
    released, _ = asm.poll()
    assert released[0].span.input_messages[0]["content"] == "q"
    assert asm.pending_logs == 0


def test_waits_end_at_their_deadlines() -> None:
    asm, clock = _assembler(context_wait_s=2, log_wait_s=5, trace_idle_s=30)
    asm.add_spans([_span("c" * 16, "a" * 16, **CONTENT)])
    clock.now += 1.9
    assert asm.poll()[0] == []
    clock.now += 0.2
    released, _ = asm.poll()
    assert released[0].span.session_id == ""  # released as it is, never lost

    asm.add_spans([_span("d" * 16, session_id="s")])  # no content
    clock.now += 4.9
    assert asm.poll()[0] == []
    clock.now += 0.2
    assert [r.span.span_id for r in asm.poll()[0]] == ["d" * 16]


def test_context_spans_are_not_released_and_finish_on_eviction() -> None:
    asm, clock = _assembler(trace_idle_s=30)
    asm.add_spans([_span("r" * 16, kind=KIND_OTHER, seq=7, session_id="s")])
    assert asm.poll() == ([], [])
    clock.now += 31
    assert asm.poll() == ([], [7])
    # A late span of the evicted trace still gets its session.
    asm.add_spans([_span("c" * 16, "x" * 16, seq=8, **CONTENT)])
    released, _ = asm.poll()
    assert released[0].span.session_id == "s"


def test_store_non_llm_spans_releases_them_too() -> None:
    asm, _ = _assembler(store_non_llm_spans=True)
    asm.add_spans([_span("r" * 16, kind=KIND_OTHER, session_id="s")])
    assert [r.span.span_id for r in asm.poll()[0]] == ["r" * 16]


def test_held_span_bound_releases_the_oldest_first() -> None:
    asm, _ = _assembler(max_held_spans=2)
    for i in range(3):
        asm.add_spans([_span(f"{i:016x}", "f" * 16, seq=i + 1, **CONTENT)])
    assert asm.held_spans == 2
    released, _ = asm.poll()
    assert [r.span.span_id for r in released] == [f"{0:016x}"]


def test_parent_cycle_does_not_hang() -> None:
    asm, clock = _assembler()
    asm.add_spans([_span("a" * 16, "b" * 16, **CONTENT), _span("b" * 16, "a" * 16, **CONTENT)])
    assert asm.poll()[0] == []
    clock.now += 60
    assert len(asm.poll()[0]) == 2


def test_fast_path_span_is_released_at_once_and_lends_its_ids_to_late_children() -> None:
    asm, _ = _assembler()
    asm.add_spans([_span("a" * 16, "", session_id="s", user_id="u", seq=1, **CONTENT)])
    assert asm.traces == 0  # no span tree kept for it
    released, finished = asm.poll()
    assert [r.span.span_id for r in released] == ["a" * 16] and finished == []
    asm.add_spans([_span("c" * 16, "a" * 16, seq=2, **CONTENT)])  # a late child without ids
    released, _ = asm.poll()
    assert (released[0].span.session_id, released[0].span.user_id) == ("s", "u")


def test_span_that_children_wait_on_takes_the_full_path() -> None:
    asm, _ = _assembler()
    asm.add_spans([_span("c" * 16, "a" * 16, seq=1, **CONTENT)])  # waits for its parent
    asm.add_spans([_span("a" * 16, "", session_id="s", user_id="u", seq=2, **CONTENT)])
    released, _ = asm.poll()
    child = next(r for r in released if r.span.span_id == "c" * 16)
    assert child.span.session_id == "s" and 2 in child.extra_seqs
