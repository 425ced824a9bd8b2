"""The corpus's knowledge: seven domains, three intents each, and the user's phrasings.

Every intent has one slot (``{e}``, the entity asked about), one or two facts (``{f1}``,
``{f2}``, kinds from :mod:`_facts`), a knowledge-base document and a grounded answer. The
user's question templates come in two disjoint pools, ``dev`` and ``heldout``: a session of
one split never uses the other split's wording. ``{E}`` is the entity with a capital initial.
"""

from __future__ import annotations

from _domains_consumer import BANKING, HEALTH, SHOPPING, TRAVEL
from _domains_work import CODING, HR, IT
from _kb import Clarify, Domain, Intent

__all__ = ["DOMAINS", "Clarify", "Domain", "Intent"]

DOMAINS: tuple[Domain, ...] = (SHOPPING, BANKING, TRAVEL, CODING, HR, IT, HEALTH)
