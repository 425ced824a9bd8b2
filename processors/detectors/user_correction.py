"""``user_correction`` — the next user turn says the previous answer was wrong.

Checked on each pair of *consecutive* turns (``on_pair`` with distance 1) whose earlier turn has
an answer (``earlier.answer_span_id``). The signal goes on ``earlier``'s answer span.

**Triggers** (on the later user message, folded to lower case; quoted text is ignored):

==========  =====  ===========================================================================
kind        score  phrases
==========  =====  ===========================================================================
wrong       0.9    "that's wrong", "this is incorrect", "not right", "not true", "false",
                   "you're wrong / mistaken", "you made a mistake", "wrong answer / number /
                   date / link…", "you gave me the wrong…", "that's inaccurate", "that can't
                   be right", "that's not how it works", "you're confusing X with Y", "I don't
                   think that's right", "that doesn't seem right"
failed      0.85   "that didn't work", "it still doesn't work", "still not working", "I tried
                   that and…", "that gave me an error", "that doesn't exist", "there is no
                   such option", "that link is broken"
outdated    0.8    "this is outdated", "that's out of date", "that's no longer true", "that
                   changed", "that's the old…"
contradict  0.8    "that's not what the docs say", "according to the docs/website it's…",
                   "the docs say…", "actually, it's X" / "actually the limit is…", "no — the
                   limit is 10, not 5" (a "no" that opens a factual claim, or "X, not Y")
doubt       0.6    "are you sure?", "I thought it was…", "that doesn't sound right"?, "is that
                   correct?" after an answer
off_target  0.6    "that's not what I asked", "that doesn't answer my question"
==========  =====  ===========================================================================

**Not a correction** (hard negatives): "No, thanks", "no worries", "no problem", "that's right,
thanks", "not wrong", "nothing wrong"; "actually, can you also…" and other requests after
"actually"; "what's wrong with my code?", "is it wrong to …?" (questions about wrongness);
"I got the wrong size, how do I return it?" (the user's own mistake or situation: "I", "my"
before "wrong"); "Sorry, I meant Rome" (the user corrects themselves); "No, I don't have an
account yet" and any "no, …" that answers a question the assistant asked; a message that negates
words of the user's own question the answer did not use ("Correction on my side: adoptive
parents, not secondary caregivers"); a later turn that does not continue ``earlier``'s
conversation (its history is shorter than ``earlier``'s ≥ 3 messages, or as long without
``earlier``'s answer at its end: a regenerate or an edit of an earlier turn).

Cost: the trigger-word check runs first and is cached per message text (bounded).

**Evidence**: ``earlier_trace_id``, ``later_trace_id``, ``earlier_span_id``,
``later_user_message``, ``kind``, ``phrase`` (the matched text), ``earlier_answer`` (its first
300 characters).

**Config** (:class:`UserCorrectionConfig`): ``min_score`` (signals below are not emitted; raise
it to 0.7 to drop doubts and off-target remarks), ``max_message_chars``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from pydantic import Field
from tracesieve.collector.contracts import Signal
from tracesieve.processors.sessions.model import TurnRecord

from ._text import fold, tokens, tokens_of
from ._text_answers import asks_user, corrects_own_question, resent_elsewhere
from ._text_lexicon import words
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped

__all__ = [
    "CorrectionMatch",
    "UserCorrectionConfig",
    "UserCorrectionDetector",
    "classify_correction",
    "factory",
]


class UserCorrectionConfig(DetectorConfig):
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="Emit a signal at or above this score.")
    max_message_chars: int = Field(
        1000, ge=20, description="Characters of the later user message searched for a correction."
    )


class CorrectionMatch(NamedTuple):
    kind: str
    phrase: str
    score: float


# What the user says is wrong: the answer, or a part of it.
_THAT = (
    r"(?:that|this|it|(?:that|this|your|the) (?:answer|info(?:rmation)?|response|command|code|link|step|"
    r"suggestion|fix|solution|number|price|date|one)|(?:these|those) steps)"
)
_IS = r"(?:'s|s| is| was|'re| are| were)"
_ISNT = r"(?:'s not|s not| is not| isn't| isnt| was not| wasn't| wasnt|'re not| are not| aren't)"
_PATTERNS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "wrong",
        0.9,
        re.compile(
            rf"\b(?:{_THAT}{_IS} (?:(?:just|totally|completely|simply|all|so|clearly|definitely|still|also|"
            rf"actually|"
            rf"partly|partially) )?(?:wrong|incorrect|false|inaccurate|untrue|a mistake|a hallucination|"
            rf"made up|"
            rf"mistaken|bogus|nonsense|misleading)\b"
            rf"|{_THAT}{_ISNT} (?:quite |exactly |entirely |really )?(?:right|correct|true|accurate|it|"
            rf"how it works|"
            rf"how (?:this|that) works|the case)\b"
            r"|you(?:'re| are|re) (?:wrong|mistaken|incorrect|confusing|confused|mixing)"
            r"|you (?:made|have made|'ve made) (?:a |an )?(?:mistake|error|typo)"
            r"|you (?:got|have|'ve got) (?:it|that|this|the \w+) (?:wrong|backwards|mixed up)"
            r"|you gave me (?:the )?(?:wrong|incorrect|bad|outdated)"
            r"|(?:^|that(?:'s| is) |this is |it's |you (?:gave|sent|showed|told|quoted) me )(?:the |a |an )?"
            r"(?:wrong|incorrect|bad) (?:answer|info(?:rmation)?|number|date|price|amount|link|url|address|"
            r"command|"
            r"code|formula|figure|result|response|instructions|steps)\b(?![^.!,;]*\?)"
            r"|(?:that|this|it) (?:can't|cannot|couldn't) be (?:right|correct|true)"
            r"|i don't think (?:that|this|it)(?:'s| is) (?:right|correct|true|accurate)"
            r"|(?:that|this|it) (?:doesn't|does not) (?:seem|look|sound) (?:right|correct)"
            r"|there(?:'s| is) (?:a |an )?(?:mistake|error) in (?:your|that|the) (?:answer|response|code)"
            r"|^(?:wrong|incorrect|false|not true|not correct|not right|nope,? (?:that's|"
            r"wrong))\b(?![^.!,;]*\?))"
        ),
    ),
    (
        "failed",
        0.85,
        re.compile(
            r"\b(?:(?:that|this|it|(?:your|the|those|these) (?:suggestion|fix|solution|code|command|steps|"
            r"instructions|advice|method|workaround|answer|link)(?: you (?:gave|sent|suggested|provided|"
            r"recommended|"
            r"posted)(?: me)?)?) (?:still )?(?:didn't|did not|doesn't|does not|won't|isn't) (?:work|help|"
            r"fix|solve|"
            r"change anything|do anything)(?! (?:on|with|in|for) my\b)"
            r"|(?:still|it's still|it is still|its still) (?:not working|doesn't work|does not work|broken|"
            r"failing|"
            r"the same|happening|getting the same)"
            r"|i (?:tried|did) (?:that|this|it|what you said|those steps|your suggestion)(?:,| and| but)"
            r"|(?:that|this|it|(?:that|this|the|your) (?:command|code|script|query|fix|solution|step|link|"
            r"formula|"
            r"function|snippet))(?: you (?:gave|sent|suggested)(?: me)?)? (?:gave|gives|throws|threw|"
            r"returns|returned|"
            r"raises|raised) (?:me )?(?:an? |the same )?(?:error|exception)"
            r"|(?:that|this) (?:option|setting|button|menu|function|method|command|endpoint|page|field|"
            r"feature) "
            r"(?:doesn't|does not|didn't) exist"
            r"|there(?:'s| is) no (?:such|\w+ (?:option|setting|button|menu|tab|field|function|method|"
            r"page)\b)"
            r"|(?:that|this|the) link(?: you (?:gave|sent)(?: me)?)? (?:is|was) (?:broken|dead)"
            r"|(?:that|this|the) link(?: you (?:gave|sent)(?: me)?)? (?:doesn't|does not|didn't) work"
            r"|doesn't exist in (?:the|my|version))"
        ),
    ),
    (
        "outdated",
        0.8,
        re.compile(
            rf"\b(?:{_THAT}{_IS} (?:out ?dated|out of date|old information|obsolete|deprecated|"
            rf"no longer (?:true|valid|"
            r"correct|the case|accurate))|(?:that|this|it) (?:changed|has changed) (?:in|since|last|a while)"
            r"|(?:that|this|it)(?:'s| is) the old (?:price|policy|version|process|way|rule|limit))"
        ),
    ),
    (
        "contradict",
        0.8,
        re.compile(
            r"\b(?:(?:that|this|it)(?:'s| is) not what (?:the|your|our) (?:docs|documentation|website|site|"
            r"policy|"
            r"manual|handbook|faq|terms|contract|label|page) (?:says?|states?)"
            r"|(?:but |however,? )?(?:the|your|our) (?:docs|documentation|website|site|policy|manual|"
            r"handbook|faq|"
            r"terms|contract|label|app|page|receipt|invoice|statement) (?:says?|states?|shows?|"
            r"clearly says|lists?)"
            r"|according to (?:the|your|our) (?:docs|documentation|website|site|policy|manual|handbook|faq|"
            r"terms))"
        ),
    ),
    (
        "off_target",
        0.6,
        re.compile(
            r"\b(?:that(?:'s| is|s) not what i (?:asked|meant|was asking)|(?:that|this|it|you) (?:doesn't|"
            r"does not|"
            r"didn't|did not) answer (?:my|the) question|you didn't answer)"
        ),
    ),
    (
        "doubt",
        0.6,
        re.compile(
            r"^(?:hmm+,? |wait,? |really\?? )?(?:are you (?:sure|certain)|is that (?:right|correct|true|"
            r"accurate)"
            r"|i (?:thought|was told|read|heard) (?:it|that|the)\b)"
            r"|\bi(?:'m| am) pretty sure (?:it|that|the)\b"
        ),
    ),
)
# "Actually, it's X" / "Actually the limit is 10": a counter-claim, not a request ("actually, can you…").
_ACTUALLY = re.compile(
    r"^(?:no,? |nope,? )?actually,? (?!(?:can|could|would|will|do|does|please|i\b|i'd|i'm|i'll|i've|let|"
    r"let's|what|how|why|where|when|which|who|is there|are there|one more|also|never mind|nevermind|forget|"
    r"thanks|thank|that's (?:right|correct|great|perfect|fine|ok))\b)(?:it|that|this|the|there|you|they|its|"
    r"it's|that's|there's|[a-z]+ (?:is|are|was|were))"
)
# "No — the limit is 10, not 5" / "No, it's 30 days": a "no" that opens a factual claim.
_NO_CLAIM = re.compile(
    r"^(?:no|nope)\b[\s,.!—–-]*(?!thanks|thank|worries|problem|need|i\b|i'm|i'd|i've|i'll|it's (?:fine|ok|"
    r"okay|"
    r"alright|all good|good)|that's (?:all|it|fine|ok|okay|good|everything|great|perfect|right|correct|clear|"
    r"helpful|enough)|we\b|my\b|not (?:yet|now|really)|one\b|just\b|please)"
    r"(?:it|that|the|this|there|you|its|it's|that's|there's)\b"
)
_X_NOT_Y = re.compile(r"\b(?:is|are|was|were|it's|its|costs?|takes?) ([\w$€£.,%-]+)[,;]? not ([\w$€£.,%-]+)")
_SELF = re.compile(r"^(?:sorry|oops|my bad|my mistake|my fault|i meant|i mean|typo)\b")
_NEGATED = re.compile(
    r"\b(?:not|nothing|isn't|wasn't|never) (?:wrong|incorrect)|\bwhat's wrong|what is wrong|is it wrong"
)
# Every pattern above needs one of these words: messages without any (most follow-ups) stop here.
_TRIGGERS = words(
    "wrong incorrect false inaccurate untrue mistake hallucination made mistaken bogus nonsense misleading"
    " not isn't isnt wasn't wasnt aren't weren't right correct true accurate case works confusing confused"
    " mixing error typo backwards mixed bad outdated nope no didn't doesn't won't still tried did exception"
    " exist broken dead link out obsolete deprecated longer old changed says say states state shows show"
    " lists list according answer sure certain thought told read heard actually can't cannot couldn't wrongly"
)
_HYPOTHETICAL = re.compile(r"\b(?:if|in case|suppose|unless|whether)\s*$")
_QUOTED = re.compile(r"\"[^\"\n]{1,160}\"|(?<!\w)'[^'\n]{1,160}'(?!\w)")


def classify_correction(
    message: str, *, assistant_asked: bool | Callable[[], bool] = False
) -> CorrectionMatch | None:
    """The strongest correction ``message`` makes of the answer before it, or ``None``.
    ``assistant_asked``: that answer asked the user a question (a bare "No, …" then answers it);
    a callable is only called when it matters."""
    if _TRIGGERS.isdisjoint(tokens(message)):
        return None
    text = _QUOTED.sub(" ", fold(message))
    if not text or _SELF.match(text):
        return None
    best: CorrectionMatch | None = None
    for kind, score, pattern in _PATTERNS:
        m = pattern.search(text)
        if m is None or (best is not None and best.score >= score):
            continue
        if (
            kind == "wrong"
            and _NEGATED.search(text)
            and not re.search(r"\bnot (?:right|correct|true)\b", m.group())
        ):
            continue
        if _HYPOTHETICAL.search(text[max(0, m.start() - 12) : m.start()]):
            continue  # "what if that doesn't work?"
        best = CorrectionMatch(kind, m.group().strip(), score)
    if best is None or best.score < 0.8:
        claim = _ACTUALLY.match(text)
        if claim is None and (no_claim := _NO_CLAIM.match(text)) is not None:
            asked = assistant_asked() if callable(assistant_asked) else assistant_asked
            claim = None if asked else no_claim
        x_not_y = _X_NOT_Y.search(text)
        if x_not_y is not None and x_not_y.group(1) != x_not_y.group(2):
            best = CorrectionMatch("contradict", x_not_y.group().strip(), 0.8)
        elif claim is not None:
            best = CorrectionMatch("contradict", claim.group().strip(), 0.8)
    return best


class UserCorrectionDetector(Detector):
    name = "user_correction"
    category = "unhelpful_answer"

    def __init__(self, config: UserCorrectionConfig) -> None:
        self._resolve = scoped(config)

    @staticmethod
    def _may_correct(text: str) -> bool:
        """The message holds a trigger word (most follow-ups do not, and stop there). Not memoised:
        a message is the later one of a single distance-1 pair, and its tokens are in the shared
        cache already (a memo of its own measured a miss, a store and an eviction per message)."""
        return not _TRIGGERS.isdisjoint(tokens_of(text))

    def on_pair(self, earlier: TurnRecord, later: TurnRecord, distance: int) -> Sequence[Signal]:
        if distance != 1 or not earlier.answer_span_id or not later.user_message:
            return ()
        config = self._resolve(earlier.service_name, earlier.model, "")
        message = later.user_message[: config.max_message_chars]
        if not self._may_correct(message) or resent_elsewhere(earlier, later):
            return ()
        asked = later.previous_assistant or earlier.answer_text
        match = classify_correction(message, assistant_asked=lambda: bool(asked) and asks_user(asked))
        if match is None or match.score < config.min_score:
            return ()
        if corrects_own_question(message, earlier.user_message, earlier.answer_text):
            return ()  # the user changes their question, not the answer
        evidence: dict[str, Any] = {
            "earlier_trace_id": earlier.trace_id,
            "later_trace_id": later.trace_id,
            "earlier_span_id": earlier.answer_span_id,
            "later_user_message": later.user_message[:500],
            "kind": match.kind,
            "phrase": match.phrase,
            "earlier_answer": earlier.answer_text[:300],
        }
        return (make_signal(self, earlier.ref(), match.score, evidence),)


factory = DetectorFactory(
    name="user_correction", config_model=UserCorrectionConfig, create=UserCorrectionDetector
)
