"""``refusal`` — the model refused or deflected instead of answering.

Checked on every LLM span that produced an answer (``on_span``; once per span, on that span).

**Triggers**

- ``span.refusal`` is non-empty (the provider's structured refusal, e.g. OpenAI
  ``message.refusal``): score 1.0, ``kind = "refusal_field"``.
- The answer *opens* with a refusal (a sentence starting within the first ``window_chars``,
  after optional openers such as "I'm sorry, but", "Unfortunately,", "As an AI language
  model,"):

  ============  ====  ==================================================================
  kind          base  phrases (the clause must start the sentence)
  ============  ====  ==================================================================
  refuse        0.9   "I can't / cannot / won't / am unable to / am not able to / am not
                      allowed to / must decline to" + help, assist, provide, answer,
                      comply, share, discuss, give, access, process, book, change…;
                      "that's not something I can help with"; "I must decline"
  as_ai         0.9   "As an AI (language model), I can't / don't / am not…"
  no_access     0.8   "I don't have access to…", "I don't have (real-time) information
                      about…", "I don't have the ability to…"
  dont_know     0.8   "I don't know", "I'm not sure", "I have no idea", "I couldn't find
                      any information" — only as (nearly) the whole answer, and not
                      hedged ("I'm not sure, but I think…" is an answer)
  deflect       0.7   "Please contact customer support / your doctor / our team…", "I can
                      only help with…", "that's outside the scope of…" — only in an
                      answer of at most ``deflection_max_chars``
  ============  ====  ==================================================================

**Score** ``base × f(substance)``: *substance* is the length of the answer outside the refusal
(other sentences, the rest of the refusal sentence after "but"/"however"; pleasantries such as
"Is there anything else I can help with?" do not count; a list of two or more items or a code
block counts as ``substantial_chars``). ``f`` is 1 up to 60 characters of substance, falls
linearly to 0.3 at ``substantial_chars`` and stays there. A signal is emitted when the score is
at least ``min_score``; so a long helpful answer that mentions a limitation in passing ("I don't
have access to your account, but here is how to reset it: 1. … 2. …") is not a refusal.

**Not a refusal** (hard negatives): "I can't wait to help!"; "Sorry for the confusion — here is
the corrected answer: …"; "I can't see your screen, but here are the steps: …"; a quoted
refusal ("If the bot says 'I cannot help', restart it": quoted text is ignored and the phrase
must open a sentence); "I'm unable to reproduce the bug with version 2.1; try …" (the verb is
not one of refusing); a clarifying question ("I'm not sure what you mean — which order?").

**Evidence**: ``span_id``, ``trace_id``, ``kind``, ``phrase`` (the matched text),
``substance_chars``, ``answer_chars``, ``refusal`` (the provider field, when set).

**Config** (:class:`RefusalConfig`): ``min_score``, ``window_chars``, ``substantial_chars``,
``deflection_max_chars``; all overridable per service/model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import Field
from tracesieve.collector.contracts import KIND_LLM, CanonicalSpan, Signal

from ._text import fold
from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = ["RefusalConfig", "RefusalDetector", "RefusalMatch", "classify_refusal", "factory"]


class RefusalConfig(DetectorConfig):
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="Emit a signal at or above this score.")
    window_chars: int = Field(
        300, ge=20, description="A refusal sentence must start within this many characters of the answer."
    )
    substantial_chars: int = Field(
        300,
        ge=60,
        description="Characters of other content at which an answer counts as helpful despite a refusal "
        "phrase (score × 0.3).",
    )
    deflection_max_chars: int = Field(
        400,
        ge=0,
        description="A deflection ('please contact support') counts only in answers up to this long.",
    )


class RefusalMatch(NamedTuple):
    kind: str
    phrase: str
    score: float
    substance_chars: int


_OPENER = re.compile(
    r"^(?:(?:(?:(?:i'm |i am )?(?:so |very |really |truly )?sorry|unfortunately|regrettably|apologies|"
    r"i apologi[sz]e|i'm afraid|i am afraid|however|but|sadly)"
    r"(?: to hear (?:that|this)| for (?:the|any) (?:confusion|inconvenience|trouble))?|"
    r"(?:while )?i (?:understand|appreciate)[^,.;]{0,80}|thanks for (?:asking|reaching out)|"
    r"thank you for (?:asking|reaching out|your question))"
    r"[,.!;:]?\s+(?:but\s+|however,?\s+)?)+"
)
_CANT = (
    r"i(?: can(?:no|')?t| can not| won't| will not| must decline to| have to decline to|"
    r" do not have the ability to|"
    r" don't have the ability to| won't be able to| will not be able to| wouldn't be able to|"
    r"(?:'m| am) (?:unable to|not able to|not allowed to|not permitted to|not in a position to|"
    r"not authori[sz]ed to|not going to))"
)
_VERBS = (
    r"(?:really |directly |currently |personally |actually |legally )?"
    r"(?:help|assist|provide|answer|comply|fulfil|fulfill|share|give|discuss|offer|advise|recommend|"
    r"do that|do this|do so|complete|process|perform|support|engage|generate|create|write|access|browse|"
    r"look up|look into|check|retrieve|book|make|change|cancel|modify|issue|disclose|reveal|diagnose|"
    r"prescribe|handle|respond|speak|comment|continue|go into|get into|confirm|verify|"
    r"locate|find|update|reset|approve|grant|override|waive|refund|search|open|see that|see or)\b"
)
_PATTERNS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    ("refuse", 0.9, re.compile(rf"{_CANT} {_VERBS}")),
    ("refuse", 0.9, re.compile(rf"{_CANT}[.!]?$")),
    ("refuse", 0.9, re.compile(r"i (?:must|have to|need to) (?:respectfully )?decline")),
    (
        "refuse",
        0.9,
        re.compile(
            r"(?:that|this|it)(?:'s| is) not something (?:that )?i (?:can|am able to|'m able to|"
            r"am allowed to)"
        ),
    ),
    (
        "as_ai",
        0.9,
        re.compile(
            r"as an? (?:ai|artificial intelligence|(?:large )?language model|llm|virtual assistant|chatbot|"
            r"bot)"
            r"(?: language model| assistant| model)?,? i (?:don't|do not|can't|cannot|am not|'m not|won't|"
            r"will not)"
        ),
    ),
    (
        "no_access",
        0.8,
        re.compile(
            r"i (?:don't|do not|currently don't|currently do not) have (?:direct |any )?(?:access to|"
            r"the ability to|"
            r"real-?time|live|current|up-to-date|(?:any |the |that |this |enough |specific )?(?:information|"
            r"details|data|records?)\b|visibility into|a way to)"
        ),
    ),
    (
        "deflect",
        0.7,
        re.compile(
            r"(?:i can only (?:help|assist|answer|discuss|provide|talk)|"
            r"(?:that|this|your)(?: request| question| topic)?(?:'s| is) (?:outside|beyond) (?:of )?(?:my|"
            r"the|what)|"
            r"(?:that|this)(?:'s| is) (?:not )?(?:something )?(?:outside|beyond) (?:my|the) )"
        ),
    ),
    (
        "deflect",
        0.7,
        re.compile(
            r"(?:for (?:help|assistance|support|questions)[^,]{0,40}, )?"
            r"(?:please |kindly |you(?: should| can| could| may| might want to| will need to|'ll need to|"
            r" need to|"
            r" must|'ll have to| will have to| have to) |"
            r"i(?:'d| would) (?:recommend|suggest)(?: that you| you)? |i (?:recommend|suggest)(?: that you|"
            r" you)? |"
            r"it(?:'s| is|'d be| would be) best to |your best (?:bet|option) is to )?"
            r"(?:contact(?:ing)?|reach(?:ing)? out to|call(?:ing)?|email(?:ing)?|get(?:ting)? in touch with|"
            r"speak(?:ing)? (?:to|with)|talk(?:ing)? to|consult(?:ing)?(?: with)?|"
            r"ask|check with|visit) (?:our |the |a |an |your |with )?(?:local |nearest |official |"
            r"qualified |licensed )?"
            r"(?:customer |technical |tech |it )?(?:support|service|care|help ?desk|team|agent|"
            r"representative|"
            r"administrator|admin|it department|it team|it support|hr|human resources|doctor|physician|"
            r"pharmacist|healthcare|health care|medical professional|lawyer|attorney|professional|specialist|"
            r"bank|branch|provider|airline|hotel|manager|supervisor|store|carrier|account manager|sales|"
            r"payroll|benefits|travel agent|agency|service desk|official website|website)"
        ),
    ),
)
_DONT_KNOW = re.compile(
    r"(?:i (?:really )?(?:don't|do not) know|i'm not (?:sure|certain)|i am not (?:sure|certain)|"
    r"i have no idea|no idea|i (?:couldn't|could not|wasn't able to|was unable to|can't|cannot) find "
    r"(?:any |the |that |this )?(?:information|details|anything|an answer|a record|records|data)|"
    r"i (?:don't|do not) have an answer|i'm unable to answer|i am unable to answer)"
)
_HEDGE = re.compile(
    r"\b(?:but|however|i think|i believe|probably|likely|it seems|might be|may be|what|which|whether)\b"
)
_PLEASANTRY = re.compile(
    r"^(?:is there (?:anything|something) else|(?:can|may) i help (?:you )?with (?:anything|something) else|"
    r"let me know|feel free|i hope (?:this|that)|hope (?:this|that)|thank you|thanks|i understand|"
    r"i apologi[sz]e|sorry (?:about|for)|i'm sorry (?:about|for)|i'm here to help|happy to help|"
    r"i(?:'d| would) be happy to help|have a (?:great|nice|good)|if you have (?:any )?other questions)"
)
# Every refusal pattern contains one of these (deflections one of the second set, and only in a
# short answer): a few substring tests rule out most answers before any regex runs.
_KEYWORDS = (
    "can't", "cannot", "can not", "won't", "will not", "unable", "not able", "n't have", "not have",
    "n't know", "not know", "not sure", "not certain", "no idea", "decline", "not allowed", "not permitted",
    "as an ai", "as a language", "as an artificial", "as a large", "as an llm", "as a virtual",
    "as a chatbot", "as a bot", "can only", "outside", "beyond", "not something", "not in a position",
    "not author", "not going", "couldn't", "could not", "wasn't able", "was unable",
)  # fmt: skip
_DEFLECT_KEYWORDS = (
    "contact", "reach", "consult", "touch with", "speak", "talk", "check with", "ask", "visit", "call",
    "email",
)  # fmt: skip
# A cheaper superset of the keyword test, for ASCII heads (where fold only lower-cases and
# collapses spaces): every match of a refusal pattern contains one of these (none of them has a
# space to collapse); the deflection patterns also need one of the second set, and only count in
# a short answer. Most answers contain none of them, and six ``in`` tests cost a third of the 47.
_NEEDLES = ("n't", "not", "cant", "unable", "decline", "idea")
_DEFLECT_NEEDLES = (
    "only", "outside", "beyond", "contact", "reach", "call", "email", "touch", "speak", "talk", "consult",
    "ask", "check", "visit",
)  # fmt: skip
_QUOTED = re.compile(r"\"[^\"\n]{1,160}\"|(?<!\w)'[^'\n]{1,160}'(?!\w)")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)|\n")
_LIST_ITEM = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•])\s+\S|(?<=[.:;!?] )\d{1,2}[.)] +[A-Z]")
_AFTER_BUT = re.compile(r"[,;:-]\s*(?:but|however|though|instead|that said)\b|;\s")


def _substance_factor(substance: int, substantial_chars: int) -> float:
    if substance <= 60:
        return 1.0
    if substance >= substantial_chars:
        return 0.3
    return 1.0 - 0.7 * (substance - 60) / (substantial_chars - 60)


def _sentences(folded: str) -> list[tuple[int, str]]:
    return [(m.start(), stripped) for m in _SENTENCE.finditer(folded) if (stripped := m.group().strip())]


def classify_refusal(
    text: str, *, window_chars: int = 300, substantial_chars: int = 300, deflection_max_chars: int = 400
) -> RefusalMatch | None:
    """The strongest refusal the answer ``text`` opens with, scored (see the module docstring),
    or ``None``. Cheap whatever the answer's length: only its head (the sentences starting in the
    first ``window_chars``) is read closely, after a keyword test; the rest counts as substance."""
    if not text:
        return None
    head = text[: window_chars + 400]
    short = len(text) <= deflection_max_chars
    if head.isascii():
        low = head.lower()
        if not any(k in low for k in _NEEDLES) and not (short and any(k in low for k in _DEFLECT_NEEDLES)):
            return None  # no refusal can start here: most answers stop at this test
    else:
        low = head.lower().replace("\u2019", "'")  # (str.translate costs more than all the tests below)
    # The keyword test the patterns were tuned with (it also rules out what the needles let through).
    if not any(k in low for k in _KEYWORDS) and (not short or not any(k in low for k in _DEFLECT_KEYWORDS)):
        return None
    sentences = _sentences(_QUOTED.sub(" ", fold(head)))
    best: RefusalMatch | None = None
    matched: set[int] = set()
    rest_of_matched = 0
    for i, (start, sentence) in enumerate(sentences):
        if start >= window_chars:
            break
        body = _OPENER.sub("", sentence, count=1)
        hit: tuple[str, float, str] | None = None
        for kind, base, pattern in _PATTERNS:
            pm = pattern.match(body)
            if pm is not None:
                if kind == "deflect" and len(text) > deflection_max_chars:
                    continue
                hit = (kind, base, pm.group())
                break
        if hit is None:
            dm = _DONT_KNOW.match(body)
            if dm is not None and not _HEDGE.search(body, dm.end()):
                hit = ("dont_know", 0.8, dm.group())
        if hit is None:
            continue
        matched.add(i)
        tail = _AFTER_BUT.search(body)
        if tail is not None:
            rest_of_matched += 2 * (len(body) - tail.end())  # the caveat before an answer: the answer counts
        if best is None or hit[1] > best.score:
            best = RefusalMatch(hit[0], hit[2], hit[1], 0)
    if best is None:
        return None
    lists = len(_LIST_ITEM.findall(text[:4000])) >= 2 or "```" in text
    substance = rest_of_matched + (substantial_chars if lists else 0) + max(0, len(text) - len(head))
    for i, (_start, sentence) in enumerate(sentences):
        if i not in matched and not _PLEASANTRY.match(_OPENER.sub("", sentence, count=1)):
            substance += len(sentence)
    if best.kind == "dont_know" and substance > 40:
        return None  # "I'm not sure about X. Here is what I know: …" answers
    score = best.score * _substance_factor(substance, substantial_chars)
    return RefusalMatch(best.kind, best.phrase, round(score, 3), substance)


class RefusalDetector(Detector):
    name = "refusal"
    category = "refusal"

    def __init__(self, config: RefusalConfig) -> None:
        self._resolve = scoped(config)

    def on_span(self, span: CanonicalSpan, session_id: str) -> Sequence[Signal]:
        if span.kind != KIND_LLM:
            return ()
        if span.refusal:
            evidence: dict[str, Any] = {
                "span_id": span.span_id,
                "trace_id": span.trace_id,
                "kind": "refusal_field",
                "refusal": span.refusal[:500],
                "answer_chars": len(span.output_text),
            }
            return (make_signal(self, span_ref(span, session_id), 1.0, evidence),)
        text = span.output_text
        if not text:
            return ()
        config = self._resolve(span.service_name, span.response_model or span.request_model, "")
        match = classify_refusal(
            text,
            window_chars=config.window_chars,
            substantial_chars=config.substantial_chars,
            deflection_max_chars=config.deflection_max_chars,
        )
        if match is None or match.score < config.min_score:
            return ()
        evidence = {
            "span_id": span.span_id,
            "trace_id": span.trace_id,
            "kind": match.kind,
            "phrase": match.phrase,
            "substance_chars": match.substance_chars,
            "answer_chars": len(text),
        }
        return (make_signal(self, span_ref(span, session_id), match.score, evidence),)


factory = DetectorFactory(name="refusal", config_model=RefusalConfig, create=RefusalDetector)
