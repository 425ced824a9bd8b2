"""Store operations of the sampler (run where the store lives, one at a time: ``EvalStore.call``)."""

from __future__ import annotations

from typing import Any

from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore, store_op

from .batch import BATCH_COLUMNS

__all__ = ["INSERT_BATCH", "insert_batch"]

INSERT_BATCH = "sampling.ops:insert_batch"


@store_op
async def insert_batch(store: EvalStore, payload: dict[str, Any]) -> dict[str, Any]:
    """Store a drawn batch unless a batch with its id is stored already (the same draw twice:
    the scheduler and ``tracesieve sample`` at once). Payload ``{"rows": [...]}``, rows with the
    columns of ``review_batches``; returns ``{"batch_id", "inserted": bool}``."""
    rows = payload.get("rows")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise PermanentError("insert_batch: payload must be {'rows': [row, ...]} with at least one row")
    batch_ids = {r.get("BatchId") for r in rows}
    if len(batch_ids) != 1 or not isinstance(next(iter(batch_ids)), str):
        raise PermanentError("insert_batch: every row must carry the same BatchId")
    for row in rows:
        if set(row) != set(BATCH_COLUMNS):
            missing = sorted(set(BATCH_COLUMNS) - set(row))
            extra = sorted(set(row) - set(BATCH_COLUMNS))
            raise PermanentError(f"insert_batch: row columns differ (missing {missing}, unknown {extra})")
    batch_id = str(rows[0]["BatchId"])
    found = await store.select(
        "SELECT count() AS n FROM review_batches WHERE BatchId = {id:String}", {"id": batch_id}
    )
    if found and int(found[0]["n"]) > 0:
        return {"batch_id": batch_id, "inserted": False}
    await store.insert("review_batches", [{c: row[c] for c in BATCH_COLUMNS} for row in rows])
    return {"batch_id": batch_id, "inserted": True}
