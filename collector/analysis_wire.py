"""The pipe protocol between the collector and its analysis worker (:mod:`.analysis_worker`).

Frames both ways are ``>IB`` (payload length, op or status) and the payload. Requests are
answered in the order they were sent, one reply per request whose op is in :data:`REPLIES`;
the others are one-way. Replies are ``OK`` with a pickled value or ``FAILED`` with a message.

Spans go as :mod:`marshal` data: a list of rows, each row :class:`CanonicalSpan`'s leading
fields in declaration order (everything but ``log_join`` and ``seq``, which the processor does
not read). Both ends are the same interpreter, and the fields are built-in types, which
marshal keeps as they are (tuples stay tuples). Measured per span of the benchmarks' load,
encode + decode: marshal 7 + 8 µs, orjson 4 + 16 µs, pickle 12 + 9 µs; on two cores the sum
is what detection costs ingest. Everything else is small and pickled.
"""

from __future__ import annotations

import dataclasses
import marshal
import operator
import struct
from typing import Any

from tracesieve.collector.contracts import CanonicalSpan

__all__ = [
    "FAILED",
    "GONE",
    "HEADER",
    "OK",
    "REPLIES",
    "TOTALS",
    "decode_spans",
    "encode_spans",
    "frame",
]

HEADER = struct.Struct(">IB")

# Requests.
OP_INIT = 1  # JSON of the processors config; replies with the restored (sessions, seq) or None
OP_OBSERVE = 2  # 8-byte event time
OP_PROCESS = 3  # spans; replies Findings
OP_ADVANCE = 4  # replies Findings
OP_ADD_FEEDBACK = 5  # pickled list[Feedback]; replies (Findings, missing feedback)
OP_APPLY_FEEDBACK = 6  # pickled (feedback, ref, prior, base); replies Findings
OP_JOIN_OR_WAIT = 7  # pickled list[Feedback]; replies Findings
OP_WAIT_FOR_TARGET = 8  # pickled list[Feedback]
OP_SNAPSHOT = 9  # pickled (seq, path); replies the pid of the child writing the snapshot there
OP_CLOSE = 10

REPLIES = frozenset(
    {OP_INIT, OP_PROCESS, OP_ADVANCE, OP_ADD_FEEDBACK, OP_APPLY_FEEDBACK, OP_JOIN_OR_WAIT, OP_SNAPSHOT}
)

# Reply statuses.
OK = 0
FAILED = 1
GONE = 2  # never sent: what the collector answers itself for a worker that died
# Not a reply (it answers no request): the worker's cumulative detector time, pickled
# {detector: (seconds, calls)}, sent before a PROCESS or ADVANCE reply about once a second
# (tracesieve.collector.telemetry.detector_time).
TOTALS = 3

_FIELDS = [f.name for f in dataclasses.fields(CanonicalSpan)]
_SENT = _FIELDS[: _FIELDS.index("log_join")]
assert _FIELDS[len(_SENT) :] == ["log_join", "seq"], "CanonicalSpan's trailing fields moved"
_row = operator.attrgetter(*_SENT)


def frame(op: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(payload), op) + payload


def encode_spans(spans: list[CanonicalSpan]) -> bytes:
    return marshal.dumps([_row(span) for span in spans])


def decode_spans(payload: bytes) -> list[CanonicalSpan]:
    rows: list[tuple[Any, ...]] = marshal.loads(payload)
    return [CanonicalSpan(*row) for row in rows]
