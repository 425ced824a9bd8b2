"""A week of flagged traffic for the sampler's tests.

:func:`make_week` builds ten failure categories of very different frequency (2000 … 1 flagged
turns), several turns per session, planted near-duplicate question clusters, and for some turns
an earlier, weaker version of their row (a turn flagged again when it gets another signal).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from tracesieve.collector.contracts import FlaggedSpan, Signal
from tracesieve.evals.sampling.weeks import week_bounds_ns

CATEGORY_SIZES = {
    "negative_feedback": 2000,
    "unhelpful_answer": 600,
    "retrieval": 200,
    "hallucination": 80,
    "refusal": 30,
    "truncation": 12,
    "error": 5,
    "latency": 3,
    "tone": 2,
    "policy": 1,
}
SIGNAL_OF = {
    "negative_feedback": "negative_feedback",
    "unhelpful_answer": "rephrase",
    "retrieval": "low_retrieval_confidence",
    "hallucination": "ungrounded_answer",
    "refusal": "refusal",
    "truncation": "truncated",
    "error": "error",
    "latency": "latency_outlier",
    "tone": "rude_tone",
    "policy": "policy_violation",
}
# (category, number of turns, wordings): the wordings of a cluster differ only in case,
# punctuation, word order, function words and plurals. The password cluster spans two categories.
PASSWORD = ["How do I reset my password?", "how can I reset my password please", "Password reset?"]
CLUSTERS = [
    (
        "negative_feedback",
        40,
        ["What is your refund policy?", "what's the refund policy", "Refund policy please!"],
    ),
    ("unhelpful_answer", 25, PASSWORD),
    ("retrieval", 10, PASSWORD),
    (
        "hallucination",
        6,
        ["Which plans include SSO?", "which plan includes sso", "SSO: which plans include it?"],
    ),
    ("refusal", 9, ["Can you delete my account?", "please delete my account", "Delete account"]),
    ("latency", 3, ["Export all invoices as CSV", "export invoices csv", "Invoices CSV export?"]),
]


@dataclass
class Week:
    week: str
    flagged: list[FlaggedSpan]  # the latest row of every turn
    earlier: list[FlaggedSpan]  # earlier, weaker rows of some turns
    signals: list[Signal] = field(default_factory=list)

    def versions(self) -> list[FlaggedSpan]:
        return self.flagged + self.earlier


def make_week(week: str = "2026-W40", seed: int = 7, sizes: dict[str, int] | None = None) -> Week:
    rng = random.Random(seed)
    sizes = CATEGORY_SIZES if sizes is None else sizes
    start, end = week_bounds_ns(week)
    questions: dict[str, list[str]] = {c: [] for c in sizes}
    for category, n, wordings in CLUSTERS:
        if category in sizes:
            questions[category] += [wordings[i % len(wordings)] for i in range(min(n, sizes[category]))]
    turns: list[tuple[str, str]] = []  # (category, question)
    for category, n in sizes.items():
        planted = questions[category]
        unique = [
            f"{category} question number {i} about topic {rng.randrange(10**9)}"
            for i in range(n - len(planted))
        ]
        turns += [(category, q) for q in planted + unique]
    rng.shuffle(turns)
    # Sessions of three turns; a category with few turns never shares a session with another
    # rare one (otherwise "every category once, one case per session" could be impossible).
    common = [t for t in turns if sizes[t[0]] > 30]
    rare = [t for t in turns if sizes[t[0]] <= 30]
    sessions: list[list[tuple[str, str]]] = [[t] for t in rare]
    for i, t in enumerate(common):
        if i < 2 * len(sessions):
            sessions[i // 2].append(t)
        elif not sessions or len(sessions[-1]) >= 3 or sessions[-1][0] in rare:
            sessions.append([t])
        else:
            sessions[-1].append(t)
    flagged: list[FlaggedSpan] = []
    earlier: list[FlaggedSpan] = []
    signals: list[Signal] = []
    n = 0
    for s, members in enumerate(sessions):
        session_id = f"sess-{week}-{s:05d}"
        for index, (category, question) in enumerate(members):
            n += 1
            trace_id = f"{rng.getrandbits(128):032x}"
            span_id = f"{rng.getrandbits(64):016x}"
            time_ns = start + rng.randrange(end - start - 10**9)
            score = round(rng.uniform(0.5, 1.0), 3)
            cats = [category]
            if category == "negative_feedback" and n % 40 == 0:
                cats.append("unhelpful_answer")  # some turns carry two categories
            names = [SIGNAL_OF[c] for c in cats]
            evidence = {
                SIGNAL_OF[c]: {"detail": f"{c} evidence for turn {n}", "score": score, "span_id": span_id}
                for c in cats
            }
            row = FlaggedSpan(
                time_ns=time_ns,
                session_id=session_id,
                trace_id=trace_id,
                span_id=span_id,
                flag_score=score,
                signals=sorted(names),
                categories=sorted(cats),
                evidence=evidence,
                service_name="support-bot",
                user_id=f"user-{s % 97}",
                turn_index=index,
                model="gpt-4o-mini",
                user_message=question,
                output_text=f"Answer to: {question}",
                input_messages=[
                    {"role": "system", "content": "You are a support assistant."},
                    {"role": "user", "content": question},
                ],
                retrieved_documents=[
                    {"id": f"doc-{n % 50}", "score": 0.31, "content": f"Document about {category}."}
                ],
                session_context=[
                    {
                        "trace_id": f"{k:032x}",
                        "user": f"earlier question {k}",
                        "assistant": f"earlier answer {k}",
                    }
                    for k in range(index)
                ],
                updated_ns=time.time_ns(),
            )
            flagged.append(row)
            for c in cats:
                signals.append(
                    Signal(
                        signal=SIGNAL_OF[c],
                        category=c,
                        score=score,
                        evidence={"detail": f"{c} evidence for turn {n}"},
                        session_id=session_id,
                        trace_id=trace_id,
                        span_id=span_id,
                        time_ns=time_ns,
                        service_name="support-bot",
                    )
                )
            if n % 7 == 0:  # an earlier row of this turn: weaker, and (sometimes) fewer categories
                earlier.append(_weaker(row))
    return Week(week, flagged, earlier, signals)


def _weaker(row: FlaggedSpan) -> FlaggedSpan:
    return FlaggedSpan(
        time_ns=row.time_ns,
        session_id=row.session_id,
        trace_id=row.trace_id,
        span_id=row.span_id,
        flag_score=round(row.flag_score * 0.8, 3),
        signals=row.signals[:1],
        categories=row.categories[:1],
        evidence=dict(list(row.evidence.items())[:1]),
        service_name=row.service_name,
        user_id=row.user_id,
        turn_index=row.turn_index,
        model=row.model,
        user_message=row.user_message,
        output_text=row.output_text,
        input_messages=row.input_messages,
        retrieved_documents=row.retrieved_documents,
        session_context=row.session_context,
        updated_ns=row.updated_ns - 10**9,
    )
