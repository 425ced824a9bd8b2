"""How an assistant message relates to the user message it answers: did it ask the user something
(a clarifying question), was it weak (a refusal, "I don't know", "could you rephrase?"), and did it
*answer* — give the kind of reply the question calls for. Used by ``rephrase`` (and
``user_correction`` for clarifying questions). Cheap: a few regex searches on bounded text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._text import CONCEPT_NAMES, concepts, fold, sense_match, sense_providers, similar_words
from ._text_lexicon import GENERIC_CONCEPTS, words
from .refusal import classify_refusal

if TYPE_CHECKING:
    from tracesieve.processors.sessions.model import TurnRecord

__all__ = [
    "answered",
    "asks_user",
    "corrects_own_question",
    "fits",
    "matched",
    "resent_elsewhere",
    "weak_answer",
]

_CLOSER = re.compile(
    r"\b(?:anything else|any other questions?|something else|what else|how else|does (?:that|this) help|"
    r"did (?:that|this) help|(?:does|did) (?:that|this) (?:answer|make sense|work)|would you like (?:me to|"
    r"to know more|more|any(?:thing| other| further| more)|help|further)|do you want me|want me to|shall i|"
    r"should i|can i help|may i help|how can i (?:help|assist)|let me know|is there (?:anything|something)|"
    r"need (?:any )?(?:more|further) help|have (?:any )?(?:other|more) questions|can i assist)\b"
)
_ASKS_REPHRASE = re.compile(
    r"\b(?:rephrase|reword|didn't (?:understand|catch|get)|did not (?:understand|catch|get)|don't understand|"
    r"do not understand|not sure what you(?:'re| are)? (?:mean|asking)|not sure i (?:understand|follow)|"
    r"unclear what you)"
)
# A question to the user: about "you", a "which…", or a choice between options ("Is it about a
# refill or about how to take it?").
_USER_QUESTION = re.compile(
    r"\b(?:you|your|yours|you're|you've)\b|^(?:which|what kind|what type)\b|^(?:is|are|was|do|does) (?:it|"
    r"this|that)"
    r"\b.*\bor\b|\bor\b.*\?$"
)
_QUESTION = re.compile(r"[^.!?\n]*\?")
_INFORMATIVE = re.compile(r"\d|[^.!?\s]\s+[A-Z][a-z]")  # a digit, or a capitalised word inside a sentence

_HOWTO_Q = re.compile(
    r"^(?:how (?:do|can|could|should|would|to)\b|what(?:'s| is| are) the (?:(?:best|fastest|easiest|quickest|"
    r"right) )?(?:way|steps|process|procedure)|where (?:do|can|should) i|what (?:do|should) i do|"
    r"is there a way|(?:can|could) you (?:show|tell) me how)"
)
_YESNO_Q = re.compile(r"^(?:can|could|is|are|do|does|did|will|would|should|am|may|have|has|was|were)\b")
_QTY_Q = re.compile(
    r"\b(?:how (?:much|many|long|often|early|late|soon|far|old)|when\b|what time|what date|what day|"
    r"which day|"
    r"what(?:'s| is| are) (?:the|my|your) (?:price|cost|fee|fees|rate|limit|deadline|minimum|maximum|number|"
    r"amount|balance|interest|hours|dosage|dose))"
)
_WHY_Q = re.compile(r"\bwhy\b|^how come\b|what(?:'s| is) (?:the reason|causing|wrong)")
_INSTRUCTION = re.compile(
    r"(?:^|[.!:;]\s+|\n\s*(?:[-*•]|\d+[.)])?\s*)(?:first,? |then,? |simply |just |please )?(?:go to|click|"
    r"tap|"
    r"open|select|choose|use|run|call|visit|navigate|enter|submit|press|download|install|type|log in|sign in|"
    r"start|restart|try|fill|contact|email|set|add|remove|delete|check|make sure|follow|head to|pick|scroll|"
    r"update|change|edit|create|apply|request|book|upload|send|reply|write|import|pip|npm|toggle|turn|"
    r"disable|enable|rest|take|drink|avoid|keep|ask|build|practice|read|learn|study|watch|look|find|"
    r"consider|focus|join|wait|bring|pack|print|save|copy|paste|clear|reset|log|sign|register|enroll|"
    r"attach|review|compare|schedule)\b(?![-'])(?!\s+(?:is|are|was|were|has|have|can|will|must|should)\b)"
    r"|\byou (?:can|could|should|need to|will need to|'ll need to|must|may)\b|\bhere(?:'s| is| are) "
    r"(?:how|the steps)|`|\bsteps?:",
    re.I,
)
_YESNO_A = re.compile(
    r"^(?:yes|no|yep|nope|sure|absolutely|certainly|definitely|unfortunately|of course|not\b|you can|"
    r"you can't|you cannot|it is|it's|it isn't|there is|there are|there's|we do|we don't|we can|"
    r"we can't|we cannot|we offer|we accept|they are|that's|only)\b",
    re.I,
)
_REASON_A = re.compile(
    r"\b(?:because|due to|caused by|this (?:happens|usually|is because|means|can|may)|the reason|likely|"
    r"probably|usually means|often|may be|might be|could be|when)\b",
    re.I,
)
_NUMBERISH = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|sixty|ninety|"
    r"hundred|half|free|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekends?|weekdays?|daily|"
    r"weekly|monthly|yearly|annually|immediately|instantly|tomorrow|today|never|always|anytime|any time)\b",
    re.I,
)
_NAME_INSIDE = re.compile(r"[^.!?\s]\s+[A-Z][a-z]")
_FIRST_WORD = re.compile(r"\W*([A-Za-z][A-Za-z']*)")
_DIRECT_OPENERS = words(
    "yes no yep nope sure absolutely certainly definitely of about around approximately roughly up only just"
    " it it's its you you're your we we're they there there's that that's this these those here i i'm not"
    " never always all none both either neither one two three four five six seven eight nine ten"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*(?:[-*•]|\d+[.)])?\s*)([A-Za-z']+)[ ,]+([A-Za-z']+)")
# Words that open a statement, not an instruction ("The app…", "Our team…", "Thanks for…").
_NOT_IMPERATIVE = words(
    "the a an our we it its it's this that these those there here thank thanks great sure hello hi i"
    " i'm i've i'd you you're your my as based according unfortunately yes no certainly absolutely of"
    " if when while for in on at to with by from all most many some each every both"
)
# What follows a verb in an instruction: its object or a particle ("Cool it…", "Rest the ankle").
_OBJECT_START = words(
    "it the a an your them this that these those to on in for with up out off down over yourself any"
    " some all one both each my our"
)


# Units of time and money: a follow-up that repeats one ("…days…") has not picked up the answer.
_UNIT_CONCEPTS = frozenset(
    c
    for w in words("minute hour day week month year night percent dollar euro pound cent business working")
    for c in concepts(w)
)


def _imperative(answer: str) -> bool:
    """A sentence or list item opens with a bare verb ("Cool it under running water…")."""
    for m in _SENTENCE_START.finditer(answer[:1500]):
        first, second = m[1].lower(), m[2].lower()
        if first in _NOT_IMPERATIVE or second not in _OBJECT_START:
            continue
        if first.endswith("s") and not first.endswith("ss"):
            continue  # "Refunds take…", "Printers are…": a plural subject
        if first.endswith(("ly", "ing", "ed")):
            continue
        return True
    return False


def matched(mine: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """The concepts of ``mine`` found in ``theirs``, also as word variants ("subscrib"/"subscript");
    synonym concepts (``checkin``, ``refund``…) only match themselves, two-sense ones (``payment``)
    also either of their senses."""
    their_set, mine_set = set(theirs), set(mine)
    providers = sense_providers(theirs)
    loose = [t for t in theirs if t not in CONCEPT_NAMES]
    return [
        c
        for c in mine
        if c in their_set
        or sense_match(c, mine_set, their_set, providers)
        or (c not in CONCEPT_NAMES and any(similar_words(c, t) for t in loose))
    ]


def asks_user(text: str) -> bool:
    """The assistant message asks the user a (clarifying) question: a question to "you", or a
    "which…?"; generic closers ("Anything else?", "Does that help?") and requests to rephrase
    do not count."""
    if "?" not in text:
        return False
    folded = fold(text[:3000])
    if _ASKS_REPHRASE.search(folded):
        return False
    for m in _QUESTION.finditer(folded):
        q = m.group().strip(" -*•:")
        if not _CLOSER.search(q) and _USER_QUESTION.search(q):
            return True
    return False


def weak_answer(answer: str, failed: bool, short_chars: int) -> bool:
    """The turn failed, or its answer is a refusal, an "I don't know", a request to rephrase, or
    a short reply with no number or name in it ("OK.", "Sure!")."""
    if failed:
        return True
    stripped = answer.strip()
    if not stripped:
        return False  # no answer text known: no evidence either way
    if len(stripped) < short_chars and not _INFORMATIVE.search(stripped):
        return True
    if _ASKS_REPHRASE.search(fold(stripped[:300])):
        return True
    match = classify_refusal(stripped)
    return match is not None and match.score >= 0.5


def fits(question: str, answer: str) -> bool:
    """The answer is the kind of reply the question calls for: instructions for a how-to, a
    yes/no for a yes/no question, a number or a time for "how much / how long / when", a reason
    or a status for a why; otherwise anything specific (a number, a name) or of some length."""
    q = fold(question)
    a = answer.strip()[:2000]
    if _HOWTO_Q.search(q):
        return _INSTRUCTION.search(a) is not None or _imperative(a)
    if _QTY_Q.search(q):
        return _NUMBERISH.search(a) is not None
    if _WHY_Q.search(q):
        return any(p.search(a) is not None for p in (_REASON_A, _INSTRUCTION, _NUMBERISH))
    if _YESNO_Q.search(q):
        return any(p.search(a) is not None for p in (_YESNO_A, _INSTRUCTION, _NUMBERISH))
    return _NUMBERISH.search(a) is not None or _NAME_INSIDE.search(a) is not None or len(a) >= 80


def answered(
    question: str, answer: str, question_concepts: Sequence[str], follow_up: Sequence[str] = ()
) -> bool:
    """The answer really answered: it :func:`fits` the question and talks about what was asked
    (half of the question's concepts or more). A short reply that does not repeat the question
    ("Yes, with your manager's approval.", "Business casual, casual Fridays.") counts when the
    ``follow_up`` concepts (of the user's next message) pick up something it said: a specific
    word, not a number, a unit or a generic concept ("…14 days of paid leave." → "how many
    vacation days…", "…how long are they paid…")."""
    if not answer or not question_concepts or not fits(question, answer):
        return False
    answer_concepts = concepts(answer[:800])  # its opening says whether it addresses the question
    if 2 * len(matched(question_concepts, answer_concepts)) >= len(question_concepts):
        return True
    if len(answer) >= 60:
        return False
    if not _opens_with_a_subject(answer):
        return True  # "Yes, with your manager's approval.", "Usually 7 to 10 days.", "Cool it under…"
    taken = set(matched(follow_up, question_concepts))
    new = [
        c
        for c in follow_up
        if c not in taken and c not in _UNIT_CONCEPTS and c not in GENERIC_CONCEPTS and not c.isdigit()
    ]
    return bool(matched(new, answer_concepts))


def _opens_with_a_subject(answer: str) -> bool:
    """The reply opens with a subject of its own ("Access tokens expire…", "Refunds are…") rather
    than with a direct answer (yes/no, a number, an adverb, an instruction, a pronoun)."""
    m = _FIRST_WORD.match(answer)
    if m is None:
        return False
    first = m.group(1).lower()
    direct = first in _DIRECT_OPENERS or first.endswith("ly")
    return not (direct or _INSTRUCTION.match(answer) or _imperative(answer))


def resent_elsewhere(earlier: TurnRecord, later: TurnRecord) -> bool:
    """``later`` does not continue ``earlier``'s conversation: its history is shorter (a
    regenerate or an edit of an earlier turn, re-sent with that turn's history), or as long but
    ending with another assistant message. With a history (≥ 3 messages) only: an app that
    sends none, or a window of fixed length, keeps the count constant — then the assistant
    message before ``later`` decides when it is known."""
    if earlier.message_count < 3:
        return False
    if later.message_count < earlier.message_count:
        return True
    if later.message_count > earlier.message_count:
        return False
    before, answer = later.previous_assistant.strip(), earlier.answer_text.strip()
    if not before or not answer:
        return True
    n = min(len(before), len(answer), 200)
    return before[:n] != answer[:n]


_SELF_OPENER = re.compile(
    r"^(?:sorry|oops|whoops|my (?:bad|mistake|fault)|typo|to correct myself|"
    r"i (?:meant|mean)\b(?!,? (?:what|how|why|when|where|which|who|can|could|is|are|do|does)\b))"
    r"|\b(?:correction (?:on|from) my (?:side|part|end)|let me correct (?:myself|that|my question)|"
    r"i should have (?:said|written|asked|mentioned)|i (?:meant|mean) to (?:say|ask|write)|"
    r"i made a (?:typo|mistake) in my question)\b"
)
_NEGATED_TERM = re.compile(
    r"\b(?:not|rather than|instead of)\s+((?:the |a |an |my |our )?[\w'-]+(?: [\w'-]+)?)"
)


def corrects_own_question(message: str, question: str, answer: str) -> bool:
    """The user changes their own question ("Sorry, I meant business class", "Correction on my
    side: adoptive parents, not secondary caregivers"): an opener that says so, or a "not X" /
    "instead of X" whose X comes from the user's question and not from the answer."""
    text = fold(message[:600])
    if _SELF_OPENER.search(text):
        return True
    if text.endswith("?"):
        return False
    own = set(concepts(question))
    if not own:
        return False
    said = set(concepts(answer[:2000])) if answer else set()
    for m in _NEGATED_TERM.finditer(text):
        negated = concepts(m.group(1))
        if negated and all(c in own for c in negated) and not all(c in said for c in negated):
            return True
    return False


# What a question asks for, from the question word that opens it or one of its clauses ("…, why?",
# "can you tell me when…"); a question word inside a clause ("…compensation when my flight…")
# does not count. Yes/no and "what/which" questions are left open (""): their form changes
# freely between two wordings of one question, except "what's the fee / the deadline…", which
# asks an amount or a time as "how much" and "until when" do. An amount of time off ("how much
# parental leave", "how many vacation days") asks a time, as "how long is parental leave" does;
# "how big / how expensive…" asks an amount (a measure); "how" asks a method only before a verb
# or a subject ("how do I…", "how to…"), otherwise ("how fast…") it is left open.
_FOCUS_WORD = re.compile(
    r"(?:^|[.,;:!?(]\s*|\b(?:and|but|so|then|ok|okay|well|hi|hello|again|rephrase|words|mean|meant|"
    r"tell me|know|wondering|wonder|ask|asking|asked|sure|idea|clarify|is)\s+)"
    r"(?:(?P<reason>why|how come|what(?:'s| is)? (?:the reason|causing|causes))|"
    r"(?P<time>how long|how much time|how many (?:days|weeks|hours|months|years|minutes|nights)|"
    r"how (?:much|many) (?:(?!is|are|does|do|did|will|would|can|could|should|per)[\w'-]+ ){0,2}?"
    r"(?:leave|vacation|pto|holidays?|notice|time off|(?:days|weeks|months|hours|nights)(?: off)?)|"
    r"what(?:'s| is| are)(?: the| my| your)? (?:[\w'-]+ ){0,2}?(?:deadline|timeframe|period|duration)|"
    r"until when|till when|by when|when|what time|what date|which day|how soon|how early|how late|"
    r"how often|how frequently|how quickly)|"
    r"(?P<amount>how much|how many|how (?:big|large|small|heavy|far|tall|wide|deep|high|old|expensive|"
    r"costly|pricey|cheap)|"
    r"what(?:'s| is| are)(?: the| my| your)? (?:[\w'-]+ ){0,2}?(?:price|prices|cost|costs|fee|fees|charge|"
    r"charges))|"
    r"(?P<place>where)|(?P<person>who|whom)|"
    r"(?P<method>how(?= (?:do|does|did|can|could|should|would|will|to|is|are|am|may|might|must|i|we|you)"
    r"\b)))\b"
)
# Foci that ask the same thing in other words ("where can I download…" = "how do I download…").
_COMPATIBLE = frozenset((frozenset(("method", "place")), frozenset(("method", "person"))))


def focus(question: str) -> str:
    """What the question asks for: ``reason``, ``time``, ``amount``, ``place``, ``person``,
    ``method`` or ``""`` (open: a yes/no or what/which question, or no question word)."""
    m = _FOCUS_WORD.search(fold(question[:300]))
    return "" if m is None else m.lastgroup or ""


def focus_conflict(a: str, b: str) -> bool:
    """Two foci that ask different things ("why…?" / "until when…?")."""
    return bool(a) and bool(b) and a != b and frozenset((a, b)) not in _COMPATIBLE
