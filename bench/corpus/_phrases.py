"""Phrasing pools shared across domains, each in two disjoint halves: ``dev`` and ``heldout``.

These are the words the detectors read: rephrase markers, corrections, thanks, refusals and the
sentences that look like refusals or corrections but are not. The ``heldout`` half exists so
that a corpus can be built with wording the detectors' authors have not tuned on.
"""

from __future__ import annotations

Pool = dict[str, tuple[str, ...]]

# Put before a paraphrase (the empty marker: a plain paraphrase).
REPHRASE_MARKERS: Pool = {
    "dev": ("Let me rephrase: ", "In other words, ", "What I'm asking is: ", "", ""),
    "heldout": ("Let me put it another way: ", "To be clearer: ", "My question is: ", "", ""),
}

# The user says the previous answer was wrong. {right} is the correct value.
CORRECTIONS: Pool = {
    "dev": (
        "No, that's wrong. The website says {right}.",
        "That's not correct, it's {right}.",
        "That's incorrect, I was told {right} last week.",
        "Wrong answer, the policy says {right}.",
        "No, you got that wrong: it's {right}.",
    ),
    "heldout": (
        "Hmm, no, that isn't right; it should be {right}.",
        "That can't be right. It's {right} according to the FAQ.",
        "Nope, that's not true, my contract says {right}.",
        "I don't think that's accurate, the page I saw said {right}.",
        "That answer is mistaken, it's actually {right}.",
    ),
}

# Assistant after a correction: apology, then substance.
CORRECTION_ACKS: Pool = {
    "dev": ("You're right, my apologies. ", "Sorry about that, you are correct. "),
    "heldout": ("Thanks for catching that, you're right. ", "My mistake, apologies. "),
}

# Not corrections of the answer.
DECLINES: Pool = {
    "dev": ("No, thanks.", "No thanks, that's all I needed.", "No, that's everything, thanks."),
    "heldout": ("Nope, all good, thanks!", "No need, thank you.", "No, I'm fine for now. Thanks!"),
}
OFFERS: Pool = {
    "dev": (" Is there anything else I can help with?", " Can I help with anything else?"),
    "heldout": (" Anything else you'd like to know?", " Do you need help with something else?"),
}
ALSO_ASK: Pool = {
    "dev": ("Actually, can you also tell me this: {q}", "Actually, one more question. {q}"),
    "heldout": ("Oh, and while I'm here: {q}", "Also, something else. {q}"),
}
CONFIRMS: Pool = {
    "dev": ("That's right, thanks.", "Correct, that matches what I saw.", "Yes, that's what I thought."),
    "heldout": ("Yes, exactly, thank you.", "Makes sense, that's what I expected.", "Perfect, that fits."),
}
SELF_CORRECTIONS: Pool = {
    "dev": ("Sorry, my mistake, I meant {e2}, not {e1}.", "Oops, I meant {e2}."),
    "heldout": ("Oh wait, I typed the wrong one: it's about {e2}.", "Correction on my side: {e2}, not {e1}."),
}
# Follow-ups on another entity: not rephrases.
ELLIPTICAL: Pool = {
    "dev": ("And what about {e2}?", "Same question for {e2}."),
    "heldout": ("How about {e2}?", "And for {e2}?"),
}
# Openers of a regenerated answer (the facts stay the same).
REGEN_OPENERS = ("Sure! ", "Of course. ", "Here you go: ", "")

THANKS: Pool = {
    "dev": ("thanks!", "Thanks.", "thank you", "great, thanks"),
    "heldout": ("cheers", "Thanks a lot!", "ty", "perfect, thank you"),
}
WELCOMES = ("You're welcome!", "Glad I could help.", "Happy to help!", "Anytime!")

REFUSALS: Pool = {
    "dev": (
        "I'm sorry, but I can't help with that request.",
        "I can't assist with that.",
        "Sorry, I'm not able to provide that information.",
        "I'm unable to help with this request.",
        "I won't be able to help with that, sorry.",
    ),
    "heldout": (
        "Unfortunately I cannot help you with this.",
        "I'm afraid I can't do that.",
        "Apologies, but that's not something I can assist with.",
        "That's outside what I'm allowed to help with.",
        "I must decline to answer that question.",
    ),
}

# Answers that open like a refusal, or apologise, and then answer.
REFUSAL_LOOKALIKES: Pool = {
    "dev": (
        "I can't wait to help with this! {a}",
        "Sorry for the wait. {a}",
        "I'm sorry to hear about the trouble. {a}",
        "I cannot stress enough how common this question is. {a}",
        "No problem at all. {a}",
    ),
    "heldout": (
        "I can't tell you how glad I am you asked! {a}",
        "Apologies for the delay in getting back to you. {a}",
        "Sorry you had to look for this. {a}",
        "Unfortunately the website doesn't make this easy to find, so here it is: {a}",
        "I'm not surprised you asked. {a}",
    ),
}
# User messages that contain refusal words.
USER_CANT: Pool = {
    "dev": ("I can't find this anywhere. {q}", "I couldn't figure it out myself. {q}"),
    "heldout": ("I'm unable to find this on the website. {q}", "I cannot work this out alone. {q}"),
}

# Sentences that bring in names, ids or dates the context does not have.
UNSUPPORTED: Pool = {
    "dev": (
        " {person} from our team can confirm this.",
        " Your reference number is {ref}.",
        " This rule has applied since {date}.",
    ),
    "heldout": (
        " Ask for {person} if you need more help.",
        " Quote case {ref} when you get in touch.",
        " The policy was updated on {date}.",
    ),
}
PERSONS: Pool = {
    "dev": ("Laura Becker", "Tom Alvarez", "Priya Nair", "Jonas Weber"),
    "heldout": ("Marcus Olsen", "Elena Petrova", "Kenji Watanabe", "Fatima Rahman"),
}

# Answers when the retrieval found nothing: generic, with no names or numbers, and no refusal.
GENERIC_ANSWERS: Pool = {
    "dev": (
        "In most cases the standard option applies, and it is set up automatically for every account.",
        "Usually this is handled automatically, so there is nothing you need to do for it.",
    ),
    "heldout": (
        "Typically the default setting covers this, and most customers never need to change it.",
        "For most accounts this works the same way, with the standard settings applied.",
    ),
}

# Extra sentence that makes an answer long enough to be cut by max_tokens.
ELABORATIONS = (
    " Here are the detailed steps you should follow so that everything goes smoothly: first, open your "
    "account page and select the item you want, then check the details shown there carefully and",
    " To give you the full picture, there are a few more things worth knowing about this, starting with "
    "the conditions that apply in special cases and the documents you may be asked to show when",
)
# Sentences that make an answer long, and complete it.
COMPLETE_EXTRAS = (
    " If anything about this changes, we will let you know by email, and the details will also be shown "
    "in your account overview together with the conditions that apply.",
    " Keep the confirmation you received, since it lists every condition in full and you may be asked "
    "to show it later; the help pages describe the rest of the process step by step.",
)
# Complete answers that look unfinished.
TRAILING: Pool = {
    "dev": (" More details are on the help page...", " You can also check the FAQ, etc."),
    "heldout": (" See the help centre for the rest...", " And so on."),
}

# Questions about errors, answered successfully (not an error of the turn).
ERROR_TALK: dict[str, tuple[tuple[str, str], ...]] = {
    "dev": (
        (
            "What does a 500 Internal Server Error mean?",
            "A 500 status means the server hit an unexpected condition; the server logs show the exception.",
        ),
        (
            "My script fails with a timeout exception, what should I check?",
            "A timeout exception usually means the remote side is slow; raise the timeout or add retries.",
        ),
    ),
    "heldout": (
        (
            "Why would a request return 503 Service Unavailable?",
            "A 503 means the service is overloaded or down for maintenance; retry after a short wait.",
        ),
        (
            "I got a NullPointerException in my Java code. What causes it?",
            "It is thrown when code uses a reference that is null; check which variable was never set.",
        ),
    ),
}

FEEDBACK_COMMENTS_BAD: Pool = {
    "dev": ("wrong answer", "this didn't help at all", "the number is wrong", "not what I asked"),
    "heldout": ("not accurate", "useless reply", "that's outdated info", "answer was misleading"),
}
FEEDBACK_COMMENTS_GOOD: Pool = {
    "dev": ("great, thanks", "very helpful", "exactly right"),
    "heldout": ("spot on", "exactly what I needed", "clear and correct"),
}
