"""Fixtures shared by every test folder.

chDB (the embedded ClickHouse engine) lets a process open ONE data folder at a time, so all
tests in a pytest process share the session's folder (``chdb_dsn``) and isolate themselves by
database name (``database_name``). A test that needs a folder of its own runs in a subprocess.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's one chDB data folder (absolute)."""
    return tmp_path_factory.mktemp("chdb-session") / "chdb"


@pytest.fixture(scope="session")
def chdb_dsn(chdb_path: Path) -> str:
    """``chdb:///<tmp>/chdb``: the DSN of the session's shared embedded ClickHouse."""
    return f"chdb://{chdb_path}"


@pytest.fixture
def database_name() -> str:
    """A database name no other test uses (``t_`` + 12 hex digits)."""
    return f"t_{uuid.uuid4().hex[:12]}"


CAPTURES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "captures"


def pytest_configure(config: pytest.Config) -> None:
    # Capture-driven tests parametrize over files: a missing folder must fail, not collect nothing.
    if not CAPTURES.is_dir() or len(list(CAPTURES.glob("*/*.pb"))) < 4:
        raise pytest.UsageError(
            f"the reference captures are missing: {CAPTURES} (shared/ must sit beside the repo)"
        )
