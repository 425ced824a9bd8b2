"""The session scripts per signal: positive variants and hard-negative variants.

Each variant is a function of a :class:`scenarios.Gen` returning a :class:`_turns.Script`; its
name becomes the session's scenario (``<signal>.<pos|hn>.<variant>``). Signals are set on the
turns by the definitions in :mod:`scenarios` (abandonment is derived from the last turn there).
"""

from __future__ import annotations

import _phrases as P
from _conversation import (
    adjacent_marker,
    adjacent_plain,
    adjacent_rag,
    also_asks,
    button,
    clarifying_answer,
    confirms,
    correction,
    corrects_own_question,
    declines_offer,
    different_entity,
    elliptical_entity,
    eval_event,
    eval_event_late,
    eval_good_late,
    eval_pass,
    high_score_before,
    low_score_before,
    near_identical,
    new_topic,
    retyped,
    same_question_hours_later,
    same_template_other_entity,
    thanks_twice,
    thumbs_down,
    thumbs_down_span_before,
    thumbs_up,
    thumbs_up_late,
    ticket_late,
    two_turns_later,
)
from _turns import (
    Script,
    Variant,
    error_turn,
    low_turn,
    lower_first,
    needs_scores,
    refusal_turn,
    said,
    shares_numbers,
    truncated_turn,
    ungrounded_turn,
    weak_turn,
)
from scenarios import Gen, Turn

__all__ = ["CLEAN", "SCRIPTS"]


# -- abandoned_session ---------------------------------------------------------------------


def _ends_weak(kind: str) -> Variant:
    def variant(g: Gen) -> Script:
        a, b, c = g.intents(3)
        before = g.fillers([b, c], g.rng.randint(1, 2))
        return Script([*before, weak_turn(g, kind, a, before)])

    variant.__name__ = f"ends_{kind}"
    return needs_scores(variant) if kind in ("empty", "low") else variant


def _weak_then_more(kind: str) -> Variant:
    def variant(g: Gen) -> Script:
        a, b, c = g.intents(3)
        before = g.fillers([c], g.rng.randint(0, 1))
        turns = [*before, weak_turn(g, kind, a, before), g.good(b)]
        return Script(turns, ["abandoned_session"])

    variant.__name__ = f"{kind}_then_more"
    return needs_scores(variant) if kind in ("empty", "low") else variant


def ends_good(g: Gen) -> Script:
    turns = g.fillers(g.intents(3), g.rng.randint(2, 3))
    if g.rng.random() < 0.5:
        turns.append(Turn(g.pick(P.THANKS), g.rng.choice(P.WELCOMES), gap_s=g.gap()))
    return Script(turns, ["abandoned_session"])


# -- retrieval -----------------------------------------------------------------------------


def _retrieval_weak(kind: str, last: bool) -> Variant:
    def variant(g: Gen) -> Script:
        a, b, c = g.intents(3)
        before = g.fillers([b], g.rng.randint(0, 1))
        after = [] if last else [g.good(c)]
        return Script([*before, weak_turn(g, kind, a, before), *after])

    variant.__name__ = f"{kind}_{'last' if last else 'mid'}"
    return needs_scores(variant)


@needs_scores
def very_low(g: Gen) -> Script:
    a, b = g.intents(2)
    return Script([low_turn(g, a, best=(0.05, 0.3)), g.good(b)])


@needs_scores
def just_above(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.plain(a, entity)
    turn.docs = g.docs(a, entity, best=(0.51, 0.58))
    return Script([*g.fillers([b], g.rng.randint(0, 1)), turn], ["low_retrieval_confidence"])


@needs_scores
def best_listed_last(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.plain(a, entity)
    docs = g.docs(a, entity, best=(0.55, 0.75))
    turn.docs = [d for d in reversed(docs)]
    return Script([turn, *g.fillers([b], 1)], ["low_retrieval_confidence"])


@needs_scores
def one_good_among_weak(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.plain(a, entity)
    target = g.doc(a, entity, g.rng.uniform(0.52, 0.7))
    weak, _, _ = g.weak_docs(a, best=(0.2, 0.45))
    turn.docs = [*weak, target]
    return Script([g.good(b), turn], ["low_retrieval_confidence"])


@needs_scores
def single_doc(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.plain(a, entity)
    turn.docs = [g.doc(a, entity, g.rng.uniform(0.7, 0.9))]
    return Script([turn, *g.fillers([b], g.rng.randint(0, 1))], ["empty_retrieval"])


def no_retrieval(g: Gen) -> Script:
    intents = g.intents(3)
    return Script([g.plain(i, g.entity(i)) for i in intents[: g.rng.randint(2, 3)]], ["empty_retrieval"])


@needs_scores
def two_docs(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.plain(a, entity)
    turn.docs = g.docs(a, entity)[:2]
    return Script([g.good(b), turn], ["empty_retrieval"])


# -- ungrounded_answer ---------------------------------------------------------------------


def _ungrounded(how: str, context: bool = False) -> Variant:
    def variant(g: Gen) -> Script:
        a, b = g.intents(2)
        weak = ungrounded_turn(g, a, how, context)
        if g.rng.random() < 0.5:
            good = g.good(b)
            if how == "wrong" and shares_numbers(weak, [good]):
                # the good turn comes first: its numbers are in the weak turn's history
                weak = ungrounded_turn(g, a, how, context, avoid=said([good]))
            return Script([good, weak])
        return Script([weak, g.good(b)])

    variant.__name__ = f"{how}{'_context_prompt' if context else ''}"
    return variant


def restated(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.rag(a, entity)
    turn.answer, turn.restated = g.answer(a, entity, "alt"), True
    return Script([turn, *g.fillers([b], g.rng.randint(0, 1))], ["ungrounded_answer"])


def echoes_user_reference(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    ref = f"{g.rng.choice(['A', 'B', 'K'])}-{g.rng.randint(10000, 99999)}"
    turn = g.rag(a, entity)
    turn.user = f"My ticket is {ref}. {turn.user}"
    turn.answer = f"For ticket {ref}: " + lower_first(turn.answer or "")
    return Script([g.good(b), turn], ["ungrounded_answer"])


def restated_context_prompt(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.rag(a, entity)
    turn.context, turn.docs = [d.content for d in turn.docs or []], None
    turn.answer, turn.restated = g.answer(a, entity, "alt"), True
    return Script([turn, g.plain(b, g.entity(b))], ["ungrounded_answer"])


def numbers_without_context(g: Gen) -> Script:
    intents = g.intents(3)
    return Script([g.plain(i, g.entity(i)) for i in intents], ["ungrounded_answer"])


# -- refusal -------------------------------------------------------------------------------


def _refusal(last: bool, field_ok: bool) -> Variant:
    def variant(g: Gen) -> Script:
        a, b = g.intents(2)
        turns = [*g.fillers([a], 1), refusal_turn(g, field_ok), *([] if last else [g.good(b)])]
        return Script(turns)

    variant.__name__ = f"{'field' if field_ok else 'text'}_{'last' if last else 'mid'}"
    return variant


def lookalike(g: Gen) -> Script:
    a, b = g.intents(2)
    turn = g.good(a)
    turn.answer = g.pick(P.REFUSAL_LOOKALIKES).format(a=turn.answer)
    return Script([turn, *g.fillers([b], g.rng.randint(0, 1))], ["refusal"])


def user_says_cant(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.good(a, entity, g.pick(P.USER_CANT).format(q=g.question(a, entity)))
    return Script([g.good(b), turn], ["refusal"])


# -- truncated -----------------------------------------------------------------------------


def _truncated(reason: str, stream: bool, last: bool) -> Variant:
    def variant(g: Gen) -> Script:
        a, b = g.intents(2)
        turn = truncated_turn(g, a, reason)
        turn.stream = stream
        return Script([g.good(b), turn] if last else [turn, g.good(b)])

    variant.__name__ = f"{reason}{'_stream' if stream else ''}_{'last' if last else 'mid'}"
    return variant


def short_complete(g: Gen) -> Script:
    a, b = g.intents(2)
    turn = g.good(a)
    turn.max_tokens = len((turn.answer or "").split()) + g.rng.randint(2, 6)
    return Script([turn, g.good(b)], ["truncated"])


def trailing_dots(g: Gen) -> Script:
    a, b = g.intents(2)
    turn = g.good(a)
    turn.answer = (turn.answer or "") + g.pick(P.TRAILING)
    return Script([g.good(b), turn], ["truncated"])


def long_complete(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    turn = g.plain(a, entity)
    turn.answer = g.answer(a, entity) + g.rng.choice(P.COMPLETE_EXTRAS)
    turn.max_tokens = 800
    return Script([turn, g.good(b)], ["truncated"])


# -- error ---------------------------------------------------------------------------------


def _error(status: int, last: bool) -> Variant:
    def variant(g: Gen) -> Script:
        a, b, c = g.intents(3)
        turn = error_turn(g, a, status)
        return Script([g.good(b), turn] if last else [turn, g.good(c)])

    variant.__name__ = f"http{status}_{'last' if last else 'mid'}"
    return variant


def talks_about_errors(g: Gen) -> Script:
    question, answer = g.rng.choice(P.ERROR_TALK[g.split])
    (a,) = g.intents(1)
    return Script([Turn(question, answer, gap_s=g.gap(), stream=g.stream()), g.good(a)], ["error"])


def retried_elsewhere_ok(g: Gen) -> Script:
    a, b = g.intents(2)
    question, answer = g.rng.choice(P.ERROR_TALK[g.split])
    return Script([g.good(a), Turn(question, answer, gap_s=g.gap()), g.good(b)], ["error"])


# -- latency_outlier -----------------------------------------------------------------------


def _latency(delay: tuple[float, float], stream: bool, positive: bool) -> Variant:
    def variant(g: Gen) -> Script:
        a, b, c = g.intents(3)
        turn = g.plain(a, g.entity(a))
        turn.delay_s, turn.stream = g.rng.uniform(*delay), stream
        if positive:
            turn.signals.add("latency_outlier")
        turns = [g.good(b), turn, g.good(c)][g.rng.randint(0, 1) :]
        return Script(turns, [] if positive else ["latency_outlier"], placement="late")

    variant.__name__ = f"{'slow' if positive else 'normal_variance'}{'_stream' if stream else ''}"
    return variant


# -- clean ---------------------------------------------------------------------------------


def clean_mixed(g: Gen) -> Script:
    return Script(g.fillers(g.intents(3), g.rng.randint(2, 3)))


def clean_with_clarify(g: Gen) -> Script:
    flow = g.rng.choice(g.domain.clarify[g.split])
    a, b = g.intents(2)
    return Script(
        [Turn(flow.vague, flow.question, gap_s=g.gap()), Turn(flow.reply, flow.answer), g.good(a), g.good(b)]
    )


def clean_rag(g: Gen) -> Script:
    return Script([g.rag(i, g.entity(i)) for i in g.intents(3)])


SCRIPTS: dict[str, dict[str, tuple[Variant, ...]]] = {
    "negative_feedback": {
        "pos": (
            thumbs_down,
            low_score_before,
            eval_event,
            ticket_late,
            eval_event_late,
            thumbs_down_span_before,
        ),
        "hn": (thumbs_up, high_score_before, eval_pass, thumbs_up_late, eval_good_late),
    },
    "rephrase": {
        "pos": (adjacent_marker, adjacent_plain, two_turns_later, adjacent_rag),
        "hn": (different_entity, clarifying_answer, new_topic, elliptical_entity),
    },
    "regenerate": {
        "pos": (button, retyped, near_identical),
        "hn": (thanks_twice, same_question_hours_later, same_template_other_entity),
    },
    "abandoned_session": {
        "pos": tuple(_ends_weak(k) for k in ("error", "refusal", "truncated", "empty", "low", "ungrounded")),
        "hn": (
            ends_good,
            *(_weak_then_more(k) for k in ("error", "refusal", "low", "truncated", "ungrounded")),
        ),
    },
    "low_retrieval_confidence": {
        "pos": (_retrieval_weak("low", last=False), _retrieval_weak("low", last=True), very_low),
        "hn": (just_above, best_listed_last, one_good_among_weak),
    },
    "empty_retrieval": {
        "pos": (_retrieval_weak("empty", last=False), _retrieval_weak("empty", last=True)),
        "hn": (single_doc, no_retrieval, two_docs),
    },
    "ungrounded_answer": {
        "pos": (_ungrounded("wrong"), _ungrounded("extra"), _ungrounded("wrong", context=True)),
        "hn": (restated, echoes_user_reference, restated_context_prompt, numbers_without_context),
    },
    "refusal": {
        "pos": (_refusal(False, False), _refusal(True, True), _refusal(False, True)),
        "hn": (lookalike, user_says_cant),
    },
    "truncated": {
        "pos": (
            _truncated("length", False, False),
            _truncated("content_filter", False, True),
            _truncated("length", True, False),
        ),
        "hn": (short_complete, trailing_dots, long_complete),
    },
    "error": {
        "pos": (_error(500, False), _error(503, True), _error(429, False), _error(400, False)),
        "hn": (talks_about_errors, retried_elsewhere_ok),
    },
    "latency_outlier": {
        "pos": (_latency((1.5, 3.0), False, True), _latency((1.5, 3.0), True, True)),
        "hn": (_latency((0.26, 0.34), False, False), _latency((0.26, 0.34), True, False)),
    },
    "user_correction": {
        "pos": (correction(after=True), correction(after=False)),
        "hn": (declines_offer, also_asks, confirms, corrects_own_question),
    },
}
CLEAN: tuple[Variant, ...] = (clean_mixed, clean_with_clarify, clean_rag)
