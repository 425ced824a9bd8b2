"""The anchor outside the table: a ledger file of every appended row's (seq, case id, chain hash).

A hash chain alone cannot show that its *last* rows were removed: what is left is still a valid
chain. So every append also writes its rows' ``seq  case_id  chain_hash`` lines to a ledger file
beside the data, and ``verify`` checks the table against it: each ledger line must still be in
the table, unchanged, which names a removed row by its id and catches a removed tail. Rows
appended elsewhere (another machine writing to the same ClickHouse server) are not in this
ledger; they are checked by the chain alone, and the next append here adds them.

Where: ``<data dir>/regressions/<database>.ledger.tsv`` for an embedded store
(``chdb:///<data dir>/chdb``: the folder above the chDB folder), and
``$XDG_STATE_HOME/tracesieve/regressions/<host>_<port>_<database>.ledger.tsv`` (default
``~/.local/state``) for a ClickHouse server. Lines are only ever appended; the rows are written
to the table first, so a crash in between leaves the ledger behind the table, never ahead.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore
from tracesieve.sinks.clickhouse.store import chdb_path

__all__ = ["Ledger", "LedgerEntry", "ledger_for"]

_HEADER = "# tracesieve regression-set ledger: seq, case id, chain hash (appended at every append)\n"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    seq: int
    case_id: str
    chain_hash: str


class Ledger:
    """The ledger file at ``path`` (created on the first append)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[LedgerEntry]:
        """Entries in file order; a malformed line raises PermanentError naming it."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries: list[LedgerEntry] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not parts[0].isdigit():
                raise PermanentError(f"{self.path}:{number}: not a ledger line: {line[:80]!r}")
            entries.append(LedgerEntry(int(parts[0]), parts[1], parts[2]))
        return entries

    def exists(self) -> bool:
        return self.path.exists()

    def append(self, entries: list[LedgerEntry]) -> None:
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with self.path.open("a", encoding="utf-8") as f:
            if new:
                f.write(_HEADER)
            f.writelines(f"{e.seq}\t{e.case_id}\t{e.chain_hash}\n" for e in entries)
            f.flush()
            os.fsync(f.fileno())


def ledger_for(store: EvalStore) -> Ledger:
    """The ledger of the store an operation runs on (see the module docstring)."""
    dsn = store.dsn
    if dsn is None:
        raise PermanentError("the regression ledger is kept where the store lives: run this as a store op")
    folder = chdb_path(dsn)
    if folder is not None:
        return Ledger(Path(folder).parent / "regressions" / f"{store.database}.ledger.tsv")
    if dsn.lower().startswith("chdb://"):  # in-memory chDB: the ledger lives as long as the data
        return Ledger(
            Path(tempfile.gettempdir()) / f"tracesieve-{os.getpid()}" / f"{store.database}.ledger.tsv"
        )
    parsed = urlparse(dsn)
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    name = f"{parsed.hostname}_{parsed.port or 8123}_{store.database}.ledger.tsv"
    return Ledger(state / "tracesieve" / "regressions" / name)
