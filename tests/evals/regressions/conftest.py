"""Fixtures of the regression-set tests: a store of their own, review rows, and a rogue client.

Rows of ``review_batches`` and ``labels`` are written here with ``store.insert`` (those tables
belong to the sampler and the review page). The rogue client is a plain clickhouse-connect client
on the same data folder, as a user with SQL access would hold one: it can run what tracesieve
never does (``ALTER TABLE … DELETE``, ``DELETE FROM``, ``ALTER TABLE … UPDATE``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from clickhouse_connect.driver.client import Client
from tracesieve.evals.store import DirectEvalStore
from tracesieve.sinks.clickhouse.store import connect


@pytest.fixture
async def store(chdb_dsn: str, database_name: str) -> AsyncIterator[DirectEvalStore]:
    s = DirectEvalStore(chdb_dsn, database_name)
    await s.open()
    yield s
    await s.aclose()


@pytest.fixture
def rogue(chdb_dsn: str, store: DirectEvalStore) -> Iterator[Client]:
    client = connect(chdb_dsn)
    yield client
    client.close()
