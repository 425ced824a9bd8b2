"""``ungrounded_answer`` — the answer states names, identifiers, numbers or dates that appear in
neither the input nor the retrieved context of its turn.

Checked on each turn with an answer (``on_turn``), on the answer span.

**When a turn is judged.** Only when the app grounded it: the turn has retrieved documents, a
tool call or tool result (tool spans, tool-role messages, tool calls in the input), a retrieval
span even if it returned nothing (``judge_empty_retrieval``: an answer full of specifics after an
empty retrieval is the classic hallucination), or system/developer instructions of at least
``min_context_chars`` characters (a prompt that carries the facts). A plain chat turn is not
judged.

**What counts as support** — everything the model was given in that turn: every input message
of every LLM span (all roles: system, user — the question included —, assistant history, tool
results, tool-call arguments), ``system_instructions``, retrieved documents' ``content``,
retrieval queries, and tool spans' results and arguments (``output_text`` and every attribute,
e.g. ``gen_ai.tool.call.result``/``arguments``, ``input.value``/``output.value``).

**What is checked** — the entities the answer claims (:mod:`._text_entities`): numbers with
their units, currency and percent; dates; times; identifiers (``ORD-12345``, versions, phone
numbers, e-mails, URLs); proper names. Compared after normalisation: ``1,000`` = ``1000``,
``$5`` = ``5 USD`` = ``5 dollars`` (the number must match, not the currency), ``5%`` = ``5
percent``, ``2024-03-05`` = ``March 5, 2024`` = ``5 March 2024``, ``9:00 AM`` = ``9am``,
``ORD-12345`` = ``ord_12345``, names case-insensitively without possessive ``'s`` (a name is
supported when all its words are in the context); "thirty" in the context supports ``30``;
a clock time does not support a bare number ("until 20:00" does not state "20 days"), and a
bare number supports a time only in a range of hours ("open 9-5" supports "9 AM").
Not counted as claims: list markers ("1.", "2)"), "step 3", bare integers ≤ 10 without a unit
("one of two options"; "3 business days" is a claim), weekdays and months alone, capitalised
sentence openers and common capitalised words ("The", "Based", "However", "Settings"), common
acronyms, and fenced code blocks.

*Derived numbers* — a number that equals the sum, difference, product or quotient of two
*supported* numbers of the same answer ("3 items × $5 = $15") is supported: the arithmetic is
checked, not flagged. Anything else computed (a percentage of a total, a sum of three) is flagged.

**Score** ``1 − 0.4^w``, ``w`` = unsupported numbers/ids/dates/URLs and multi-word names ("Jane
Doe") 1 each, one-word names ``name_weight`` (0.5) each: one unsupported number → 0.6, two →
0.84, three → 0.94; a lone one-word name → 0.37 (below ``min_score`` 0.5, not emitted: brand
and product words are often missing from the context without being wrong), two → 0.6.

**Not ungrounded** (hard negatives): context numbers restated in another format; numbers from
the user's question; an answer without entities; a turn without grounding context.

**Evidence**: ``answer_span_id``, ``trace_id``, ``unsupported`` (``[{kind, text}]``, at most
``max_evidence_entities``), ``unsupported_count``, ``supported_count``,
``unsupported_share``, ``derived`` (numbers accepted as arithmetic), ``documents``,
``tool_results``, ``context_chars``.

**Config** (:class:`UngroundedAnswerConfig`): ``min_context_chars``, ``judge_empty_retrieval``,
``min_score``, ``name_weight``, ``max_answer_chars``, ``max_evidence_entities``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from typing import Any

from pydantic import Field
from tracesieve.collector.contracts import KIND_LLM, KIND_RETRIEVAL, KIND_TOOL, CanonicalSpan, Signal
from tracesieve.processors.sessions.model import TurnView

from ._text import Entity, extract_entities
from ._text_support import Plan, context_of, holds, plan
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["UngroundedAnswerConfig", "UngroundedAnswerDetector", "factory", "unsupported_entities"]

_CONTEXT_ROLES = frozenset(("system", "developer", "context"))
_MEMO_FROM_SPANS = 32


class UngroundedAnswerConfig(DetectorConfig):
    min_context_chars: int = Field(
        200,
        ge=0,
        description="System/developer instructions at least this long (characters) make a turn without "
        "documents or tools grounded, hence judged.",
    )
    judge_empty_retrieval: bool = Field(
        True, description="Judge a turn whose retrieval returned nothing (no support but the input)."
    )
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="Emit a signal at or above this score.")
    name_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of an unsupported one-word name (a number, an id or a full name weighs 1).",
    )
    max_answer_chars: int = Field(8000, ge=100, description="Characters of the answer checked.")
    max_evidence_entities: int = Field(20, ge=1, description="Unsupported entities listed in the evidence.")


def _message_texts(span: CanonicalSpan) -> Iterator[str]:
    for message in span.input_messages:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                yield str(call.get("arguments", ""))


def _grounding(turn: TurnView, answer: CanonicalSpan) -> tuple[int, int, int, bool]:
    """``(documents, tool results, context chars, retrieval attempted)``: whether the app grounded
    the turn (counted without reading any text)."""
    documents = tools = context_chars = 0
    retrieval = False
    for span in turn.spans:
        documents += sum(1 for doc in span.retrieved_documents if doc.get("content"))
        if span.kind == KIND_RETRIEVAL:
            retrieval = True
        elif span.kind == KIND_TOOL:
            tools += 1
    system_seen = False
    for message in answer.input_messages:
        role = message.get("role")
        if role == "tool" or message.get("tool_calls"):
            tools += 1
        elif role in _CONTEXT_ROLES and isinstance(message.get("content"), str):
            context_chars += len(message["content"])
            system_seen = True
    if not system_seen:
        context_chars += len(answer.system_instructions)
    return documents, tools, context_chars, retrieval


def _support_texts(turn: TurnView, answer: CanonicalSpan) -> list[str]:
    """Everything the model was given in the turn (see the module docstring)."""
    texts: list[str] = []
    add = texts.append
    for span in turn.spans:
        for message in span.input_messages:  # _message_texts, inlined: it runs for every turn
            content = message.get("content")
            if isinstance(content, str):
                add(content)
            calls = message.get("tool_calls")
            if calls:
                texts.extend(str(call.get("arguments", "")) for call in calls if isinstance(call, dict))
        if span.system_instructions:
            add(span.system_instructions)
        if span.retrieval_query:
            add(span.retrieval_query)
        if span.retrieved_documents:
            texts.extend(c for doc in span.retrieved_documents if isinstance(c := doc.get("content"), str))
        if span.kind == KIND_TOOL:
            add(span.output_text)
            texts.extend(span.attributes.values())
        elif span is not answer and span.kind == KIND_LLM and span.tool_calls:
            texts.extend(str(call.get("arguments", "")) for call in span.tool_calls)
    if not any(span is answer for span in turn.spans):  # identity: == compares every field
        texts.extend(_message_texts(answer))
        texts.append(answer.system_instructions)
    return texts


def _weight(entity: Entity, name_weight: float) -> float:
    """A number, id, date… weighs 1; a one-word name ``name_weight``; a full name ("Jane Doe") 1."""
    if entity.kind != "name":
        return 1.0
    return 1.0 if len(entity.keys) > 1 else name_weight


def _value(entity: Entity) -> float | None:
    key = entity.keys[0]
    return float(key[2:]) if key.startswith("n:") else None


def _derived(value: float, supported: list[float]) -> bool:
    """``value`` is a sum, difference, product or quotient of two supported numbers."""
    for a, b in combinations(supported, 2):
        for result in (a + b, abs(a - b), a * b, a / b if b else None, b / a if a else None):
            if result is not None and abs(result - value) <= max(0.01, abs(value) * 1e-6):
                return True
    return False


def _claims(entities: Iterable[Entity]) -> tuple[tuple[Entity, Plan], ...]:
    """One entity per normalised key, in the answer's order, each with its support plan."""
    seen: set[str] = set()
    claims: list[tuple[Entity, Plan]] = []
    for entity in entities:
        if entity.keys[0] not in seen:
            seen.add(entity.keys[0])
            claims.append((entity, plan(entity)))
    return tuple(claims)


def _check(
    claims: Sequence[tuple[Entity, Plan]], hay: str
) -> tuple[list[Entity], list[Entity], list[Entity]]:
    unsupported: list[Entity] = []
    supported: list[Entity] = []
    for entity, entity_plan in claims:
        (supported if holds(hay, entity_plan) else unsupported).append(entity)
    derived: list[Entity] = []
    if not unsupported:
        return unsupported, supported, derived
    values = [v for v in map(_value, supported[:12]) if v is not None]
    if len(values) >= 2:
        for entity in list(unsupported):
            value = _value(entity)
            if value is not None and _derived(value, values):
                unsupported.remove(entity)
                derived.append(entity)
    return unsupported, supported, derived


def unsupported_entities(
    answer: str | Sequence[Entity], support: Sequence[str]
) -> tuple[list[Entity], list[Entity], list[Entity]]:
    """``(unsupported, supported, derived)`` entities of ``answer`` (a text, or its entities)
    against the ``support`` texts; one entity per normalised key, in the answer's order."""
    entities = extract_entities(answer) if isinstance(answer, str) else answer
    return _check(_claims(entities), context_of(support))


class UngroundedAnswerDetector(Detector):
    name = "ungrounded_answer"
    category = "hallucination"

    def __init__(self, config: UngroundedAnswerConfig) -> None:
        self._resolve = scoped(config)
        # on_turn runs again whenever the turn gains a span. A turn past the session state's
        # ``max_spans_per_turn`` keeps no more spans, so it would be re-read unchanged for
        # each one: remember what was judged on which spans (bounded; losing it only costs
        # time). Only for large turns: on a small one the memo only ever missed.
        self._judged: OrderedDict[tuple[str, int], tuple[Signal, ...]] = OrderedDict()
        # The answer's claims, by answer text: extracting them is the expensive part, and a turn
        # is re-judged with the same answer as its context grows (bounded, least recently used).
        self._claims: OrderedDict[str, tuple[tuple[Entity, Plan], ...]] = OrderedDict()

    def on_turn(self, turn: TurnView) -> Sequence[Signal]:
        answer = turn.answer
        if answer is None or not answer.output_text:
            return ()
        if len(turn.spans) < _MEMO_FROM_SPANS:
            return self._judge(turn, answer)
        cache_key = (answer.span_id, len(turn.spans))
        hit = self._judged.get(cache_key)
        if hit is not None:
            return hit
        result = self._judge(turn, answer)
        self._judged[cache_key] = result
        if len(self._judged) > 4096:
            self._judged.popitem(last=False)
        return result

    def _claims_of(self, text: str) -> tuple[tuple[Entity, Plan], ...]:
        claims = self._claims.get(text)
        if claims is None:
            claims = self._claims[text] = _claims(extract_entities(text))
            if len(self._claims) > 1024:
                self._claims.popitem(last=False)
        else:
            self._claims.move_to_end(text)
        return claims

    def _judge(self, turn: TurnView, answer: CanonicalSpan) -> tuple[Signal, ...]:
        config = self._resolve(answer.service_name, answer.response_model or answer.request_model, "")
        documents, tools, context_chars, retrieval = _grounding(turn, answer)
        grounded = (
            documents > 0
            or tools > 0
            or (retrieval and config.judge_empty_retrieval)
            or context_chars >= config.min_context_chars
        )
        if not grounded:
            return ()
        claims = self._claims_of(answer.output_text[: config.max_answer_chars])
        if not claims:
            return ()
        unsupported, supported, derived = _check(claims, context_of(_support_texts(turn, answer)))
        if not unsupported:
            return ()
        weight = sum(_weight(e, config.name_weight) for e in unsupported)
        score = 1.0 - 0.4**weight
        if score < config.min_score:
            return ()
        total = len(unsupported) + len(supported) + len(derived)
        evidence: dict[str, Any] = {
            "answer_span_id": answer.span_id,
            "trace_id": answer.trace_id,
            "unsupported": [
                {"kind": e.kind, "text": e.text} for e in unsupported[: config.max_evidence_entities]
            ],
            "unsupported_count": len(unsupported),
            "supported_count": len(supported),
            "unsupported_share": round(len(unsupported) / total, 3),
            "derived": [e.text for e in derived[: config.max_evidence_entities]],
            "documents": documents,
            "tool_results": tools,
            "context_chars": context_chars,
        }
        record = turn.record
        target = (
            record.ref() if record.answer_span_id == answer.span_id else span_ref(answer, record.session_id)
        )
        return (make_signal(self, target, score, evidence),)


factory = DetectorFactory(
    name="ungrounded_answer", config_model=UngroundedAnswerConfig, create=UngroundedAnswerDetector
)
