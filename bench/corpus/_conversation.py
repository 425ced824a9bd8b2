"""Session scripts for the signals that span two turns or come from outside the conversation:
``negative_feedback``, ``rephrase``, ``regenerate`` and ``user_correction``. Pair signals sit on
the earlier turn (the answer the user rejected)."""

from __future__ import annotations

import _phrases as P
from _domains import Intent
from _turns import Script, Variant, lower_first, mark, other_entity
from scenarios import Feedback, Gen, Turn

# -- negative_feedback ---------------------------------------------------------------------


def _feedback_session(g: Gen, fb: Feedback) -> Script:
    a, b, c = g.intents(3)
    turns = [g.good(a), g.good(b)] + ([g.good(c)] if g.rng.random() < 0.5 else [])
    target = turns[g.rng.randrange(len(turns))]
    target.feedback = fb
    if fb.negative:
        target.signals.add("negative_feedback")
    return Script(turns, [] if fb.negative else ["negative_feedback"])


def _bad_label(g: Gen) -> str:
    return g.rng.choice(["incorrect", "unhelpful", "bad", "fail"])


def _bad_score(g: Gen) -> float:
    return g.rng.choice([0.0, 0.05, 0.1, 0.15, 0.2])


def thumbs_down(g: Gen) -> Script:
    return _feedback_session(
        g, Feedback("api", "normal", True, thumbs="down", comment=g.pick(P.FEEDBACK_COMMENTS_BAD))
    )


def low_score_before(g: Gen) -> Script:
    return _feedback_session(g, Feedback("api", "before", True, score=_bad_score(g), label=_bad_label(g)))


def eval_event(g: Gen) -> Script:
    name = g.rng.choice(["user_feedback", "correctness", "helpfulness"])
    timing = g.rng.choice(["normal", "before"])
    return _feedback_session(
        g, Feedback("event", timing, True, score=_bad_score(g), label=_bad_label(g), name=name)
    )


def ticket_late(g: Gen) -> Script:
    ticket = f"SUP-{g.rng.randint(10000, 99999)}"
    return _feedback_session(
        g, Feedback("api", "late", True, ticket_id=ticket, comment=g.pick(P.FEEDBACK_COMMENTS_BAD))
    )


def eval_event_late(g: Gen) -> Script:
    return _feedback_session(
        g, Feedback("event", "late", True, score=_bad_score(g), label=_bad_label(g), name="user_feedback")
    )


def thumbs_down_span_before(g: Gen) -> Script:
    fb = Feedback("api", "before", True, thumbs="down", with_span=True, with_session=True)
    return _feedback_session(g, fb)


def thumbs_up(g: Gen) -> Script:
    return _feedback_session(
        g, Feedback("api", "normal", False, thumbs="up", comment=g.pick(P.FEEDBACK_COMMENTS_GOOD))
    )


def high_score_before(g: Gen) -> Script:
    label = g.rng.choice(["correct", "helpful", "good"])
    return _feedback_session(
        g, Feedback("api", "before", False, score=g.rng.choice([0.8, 0.9, 1.0]), label=label)
    )


def eval_pass(g: Gen) -> Script:
    fb = Feedback("event", "before", False, score=g.rng.choice([0.9, 0.95]), label="pass", name="correctness")
    return _feedback_session(g, fb)


def thumbs_up_late(g: Gen) -> Script:
    return _feedback_session(g, Feedback("api", "late", False, thumbs="up", with_span=True))


def eval_good_late(g: Gen) -> Script:
    fb = Feedback("event", "late", False, score=0.85, label="good", name="user_feedback")
    return _feedback_session(g, fb)


# -- rephrase ------------------------------------------------------------------------------


def _two_templates(g: Gen, intent: Intent) -> tuple[int, int]:
    first, second = g.rng.sample(range(len(intent.questions[g.split])), 2)
    return first, second


def _rephrase(g: Gen, marker: bool, distance: int, rag: bool) -> Script:
    a, b, c = g.intents(3)
    entity = g.entity(a)
    i1, i2 = _two_templates(g, a)
    # The first answer misses the point: it answers another question.
    b_entity = g.entity(b)
    miss = (
        g.rag(b, b_entity, g.question(a, entity, i1))
        if rag
        else g.plain(b, b_entity, g.question(a, entity, i1))
    )
    opener = g.pick(P.REPHRASE_MARKERS) if marker else ""
    second = g.question(a, entity, i2)
    again = (g.rag if rag else g.plain)(a, entity, opener + lower_first(second) if opener else second)
    middle = [g.good(c)] if distance == 2 else []
    before = [g.good(c)] if distance == 1 and g.rng.random() < 0.5 else []
    return Script([*before, mark(miss, "rephrase"), *middle, again])


def adjacent_marker(g: Gen) -> Script:
    return _rephrase(g, marker=True, distance=1, rag=False)


def adjacent_plain(g: Gen) -> Script:
    return _rephrase(g, marker=False, distance=1, rag=False)


def two_turns_later(g: Gen) -> Script:
    return _rephrase(g, marker=g.rng.random() < 0.5, distance=2, rag=False)


def adjacent_rag(g: Gen) -> Script:
    return _rephrase(g, marker=g.rng.random() < 0.5, distance=1, rag=True)


def different_entity(g: Gen) -> Script:
    a, b = g.intents(2)
    e1 = g.entity(a)
    e2 = other_entity(g, a, e1)
    index = g.rng.randrange(3)
    turns = [g.good(a, e1, g.question(a, e1, index)), g.good(a, e2, g.question(a, e2, index))]
    if g.rng.random() < 0.5:
        turns.append(g.good(b))
    return Script(turns, ["rephrase", "regenerate"])


def elliptical_entity(g: Gen) -> Script:
    a, b = g.intents(2)
    e1 = g.entity(a)
    e2 = other_entity(g, a, e1)
    follow = g.plain(a, e2, g.pick(P.ELLIPTICAL).format(e2=e2))
    return Script([g.good(a, e1), follow, *g.fillers([b], g.rng.randint(0, 1))], ["rephrase"])


def clarifying_answer(g: Gen) -> Script:
    flow = g.rng.choice(g.domain.clarify[g.split])
    (a,) = g.intents(1)
    turns = [
        Turn(flow.vague, flow.question, gap_s=g.gap()),
        Turn(flow.reply, flow.answer, gap_s=g.gap(), stream=g.stream()),
        *g.fillers([a], g.rng.randint(0, 1)),
    ]
    return Script(turns, ["rephrase"])


def new_topic(g: Gen) -> Script:
    intents = g.intents(3)
    return Script(g.fillers(intents, g.rng.randint(2, 3)), ["rephrase"])


# -- regenerate ----------------------------------------------------------------------------


def _near_identical(g: Gen, text: str) -> str:
    how = g.rng.randrange(4)
    if how == 0:
        return text.lower().rstrip("?")
    if how == 1:
        return text.rstrip("?") + "??"
    if how == 2:
        return "  " + text.replace(" ", "  ", 1)
    words = text.split(" ")
    i = max(range(len(words)), key=lambda j: len(words[j]))
    w = words[i]
    words[i] = w[:2] + w[3] + w[2] + w[4:] if len(w) > 4 else w
    return " ".join(words)


def _regenerate(g: Gen, how: str) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    first = g.good(a, entity)
    answer = g.rng.choice(P.REGEN_OPENERS) + g.answer(a, entity)
    second = Turn(first.user, answer, docs=first.docs, stream=g.stream(), gap_s=g.rng.uniform(8, 60))
    if how == "button":
        second.resend_previous = True
    elif how == "near":
        second.user = _near_identical(g, first.user)
    before = g.fillers([b], g.rng.randint(0, 1))
    after = [] if before or g.rng.random() < 0.5 else [g.good(b)]
    return Script([*before, mark(first, "regenerate"), second, *after], ["rephrase"])


def button(g: Gen) -> Script:
    return _regenerate(g, "button")


def retyped(g: Gen) -> Script:
    return _regenerate(g, "same")


def near_identical(g: Gen) -> Script:
    return _regenerate(g, "near")


def thanks_twice(g: Gen) -> Script:
    a, b = g.intents(2)
    thanks = g.pick(P.THANKS)
    turns = [
        g.good(a),
        Turn(thanks, g.rng.choice(P.WELCOMES), gap_s=g.gap()),
        g.good(b),
        Turn(thanks, g.rng.choice(P.WELCOMES), gap_s=g.gap()),
    ]
    return Script(turns, ["regenerate"])


def same_question_hours_later(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(a)
    first = g.plain(a, entity)
    later = g.plain(a, entity, first.user)
    later.gap_s = g.rng.uniform(2 * 3600, 4 * 3600)
    turns = [first, later] if g.rng.random() < 0.5 else [first, g.good(b), later]
    return Script(turns, ["regenerate", "rephrase"], placement="early")


def same_template_other_entity(g: Gen) -> Script:
    return different_entity(g)


# -- user_correction -----------------------------------------------------------------------


def correction(after: bool) -> Variant:
    def variant(g: Gen) -> Script:
        a, b = g.intents(2)
        entity = g.entity(a)
        wrong = g.plain(a, entity)
        wrong.answer = g.answer(a, entity, "wrong")
        right = g.facts(a, entity)[0].canon
        fix = Turn(
            g.pick(P.CORRECTIONS).format(right=right),
            g.pick(P.CORRECTION_ACKS) + g.answer(a, entity),
            gap_s=g.gap(),
        )
        return Script([mark(wrong, "user_correction"), fix, *g.fillers([b], 1 if after else 0)])

    variant.__name__ = "then_more" if after else "ends"
    return variant


def declines_offer(g: Gen) -> Script:
    a, b = g.intents(2)
    turn = g.good(a)
    turn.answer = (turn.answer or "") + g.pick(P.OFFERS)
    return Script(
        [*g.fillers([b], g.rng.randint(0, 1)), turn, Turn(g.pick(P.DECLINES), "Have a nice day!")],
        ["user_correction"],
    )


def also_asks(g: Gen) -> Script:
    a, b = g.intents(2)
    entity = g.entity(b)
    follow = g.plain(b, entity, g.pick(P.ALSO_ASK).format(q=g.question(b, entity)))
    return Script([g.good(a), follow], ["user_correction"])


def confirms(g: Gen) -> Script:
    a, b = g.intents(2)
    return Script(
        [g.good(a), Turn(g.pick(P.CONFIRMS), "Great, glad that helps.", gap_s=g.gap()), g.good(b)],
        ["user_correction"],
    )


def corrects_own_question(g: Gen) -> Script:
    (a,) = g.intents(1)
    e1 = g.entity(a)
    e2 = other_entity(g, a, e1)
    follow = g.plain(a, e2, g.pick(P.SELF_CORRECTIONS).format(e1=e1, e2=e2))
    return Script([g.good(a, e1), follow], ["user_correction", "rephrase"])
