"""Deterministic random keys for the weighted reservoir (Efraimidis–Spirakis, A-Res).

A-Res gives each item the key ``u^(1/w)`` with ``u`` uniform in (0, 1) and keeps the items
with the largest keys: a weighted sample without replacement, and the keys' order is the order
of a weighted draw. Here ``u`` is not drawn from a random generator but derived from the item's
identity, ``u = H(seed, trace_id, span_id)`` mapped into (0, 1), so the key of a turn depends
on the seed and the turn only: the sample is the same whatever order the turns arrive in, and
a reservoir rebuilt from the store after a restart equals the one fed live. Keys are kept as
``log(u) / w`` (same order, no underflow for small weights).

Weights are rounded to float32 first, because the store keeps ``FlagScore`` as Float32: a
turn's key must not depend on whether its score came from the stream or from the table.
"""

from __future__ import annotations

import hashlib
import math
import struct

__all__ = ["MIN_WEIGHT", "SKETCH_SEED", "as_float32", "item_hash", "reservoir_key", "unit_interval"]

MIN_WEIGHT = 1e-6
"""A flag score of 0 still gets a (very low) key rather than none."""

SKETCH_SEED = 0x7472616365736965  # "tracesie": the counting sketch's hash, independent of the draw's seed

_F32 = struct.Struct("<f")
_TWO_52 = float(1 << 52)


def as_float32(value: float) -> float:
    """``value`` as the store's Float32 column returns it."""
    result: float = _F32.unpack(_F32.pack(value))[0]
    return result


def item_hash(seed: int, trace_id: str, span_id: str) -> int:
    """A 64-bit hash of the turn ``(trace_id, span_id)`` under ``seed`` (ids compared lower-case)."""
    digest = hashlib.blake2b(
        f"{trace_id.lower()}/{span_id.lower()}".encode(), digest_size=8, key=seed.to_bytes(8, "big")
    ).digest()
    return int.from_bytes(digest, "big")


def unit_interval(h: int) -> float:
    """The 64-bit hash ``h`` as a number strictly between 0 and 1 (its top 52 bits, centred:
    with 53, the largest would round to 1.0)."""
    return ((h >> 12) + 0.5) / _TWO_52


def reservoir_key(h: int, weight: float) -> float:
    """``log(u) / w``: larger keys are kept first; ``weight`` is clamped to MIN_WEIGHT."""
    return math.log(unit_interval(h)) / max(weight, MIN_WEIGHT)
