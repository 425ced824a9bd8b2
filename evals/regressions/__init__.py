"""``evals.regressions``: the append-only regression set and its exports.

Labelled failures become eval cases (``promote``), incidents add their own (``edit.add``), tags
and retirement are new versions (``edit``); every row is content-addressed and hash-chained
(``record``), appended only through ``chain.append`` and anchored by a ledger outside the table
(``ledger``), so ``verify`` finds any row that went missing or changed, in the store or in an
export (``exports``). ``suite`` picks a CI suite that fits a budget. README.md beside this file
documents the formats.
"""
