"""The seeded store of ``_seed.py`` for the audit tests."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from tracesieve.evals.store import DirectEvalStore

SEED_PATH = Path(__file__).with_name("_seed.py")


def _load_seed() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_seed", SEED_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_data = _load_seed()


@pytest.fixture
async def audit_store(chdb_dsn: str, database_name: str) -> AsyncIterator[DirectEvalStore]:
    await seed_data.seed(chdb_dsn, database_name)
    store = DirectEvalStore(chdb_dsn, database_name)
    await store.open()
    yield store
    await store.aclose()


@pytest.fixture
def seed() -> ModuleType:
    """The ``_seed`` module: its constants describe the seeded store."""
    return seed_data
