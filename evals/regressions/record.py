"""An eval case, its content address and its link in the hash chain.

The content address (``CaseId``) is the SHA-256, in lower-case hex, of the canonical JSON of
:meth:`CaseRecord.hashed`: every field of the case except its place in the table (``Seq``,
``PrevHash``, ``ChainHash``, ``Lineage``, which are derived) and ``CreatedAt`` (when it was
written says nothing about what it is; the same content appended twice has the same id, which is
what promotion's "already in the set" check looks up). Canonical JSON: UTF-8, keys sorted, no
whitespace (``separators=(",", ":")``), no NaN; lists of names (categories, tags, signals) are
sorted and de-duplicated before hashing, lists of turns and documents keep their order.

The chain: ``ChainHash = SHA-256(bytes.fromhex(PrevHash) + bytes.fromhex(CaseId))``, PrevHash of
``Seq`` 1 is :data:`GENESIS` (64 zeros) and PrevHash of ``Seq`` n is the ChainHash of ``Seq`` n-1.

>>> r = CaseRecord(source="manual", input="How long is the refund window?", expected="30 days")
>>> len(r.case_id()), chain_hash(GENESIS, r.case_id()) != r.case_id()
(64, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracesieve.collector.errors import PermanentError

__all__ = [
    "ACTIVE",
    "GENESIS",
    "RETIRED",
    "CaseRecord",
    "EvalCase",
    "canonical_json",
    "chain_hash",
    "names",
]

GENESIS = "0" * 64
ACTIVE = "active"
RETIRED = "retired"
_FORMAT_VERSION = 1

JSON = Any


def canonical_json(value: JSON) -> str:
    """The one JSON text of ``value`` that hashes are computed over."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def names(values: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated, without empty strings: how name lists are kept and hashed."""
    return sorted({str(v).strip() for v in values if str(v).strip()})


def chain_hash(prev_hash: str, case_id: str) -> str:
    """SHA-256(prev ‖ id) over the raw 32-byte digests, in hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + bytes.fromhex(case_id)).hexdigest()


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """What a version of an eval case says: the hashed content (see the module docstring).

    ``context`` is the conversation before the input (``[{"user": .., "assistant": ..}, ...]``),
    ``retrieved_documents`` what retrieval returned for it (``[{"id", "score", "content"}]``),
    ``output`` the answer that failed, ``expected`` / ``criteria`` what a correct answer is or
    must have. ``supersedes`` is the CaseId of the version this one replaces ("" for a first
    version), ``status`` is ``active`` or ``retired``.
    """

    source: str
    input: str
    context: list[JSON] = field(default_factory=list)
    retrieved_documents: list[JSON] = field(default_factory=list)
    output: str = ""
    expected: str = ""
    criteria: str = ""
    categories: list[str] = field(default_factory=list)
    severity: str = ""
    incident_id: str = ""
    tags: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    session_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    review_case_id: str = ""
    batch_id: str = ""
    label_id: str = ""
    reviewer: str = ""
    provenance: dict[str, JSON] = field(default_factory=dict)
    supersedes: str = ""
    status: str = ACTIVE

    def __post_init__(self) -> None:
        for name in ("categories", "tags", "signals"):
            object.__setattr__(self, name, names(getattr(self, name)))
        if self.status not in (ACTIVE, RETIRED):
            raise PermanentError(f"case status must be {ACTIVE!r} or {RETIRED!r}, got {self.status!r}")

    def hashed(self) -> dict[str, JSON]:
        """The object whose canonical JSON is hashed into the case id."""
        return {"v": _FORMAT_VERSION, **dataclasses.asdict(self)}

    def case_id(self) -> str:
        return hashlib.sha256(canonical_json(self.hashed()).encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> CaseRecord:
        return dataclasses.replace(self, **changes)

    def same_content(self, other: CaseRecord) -> bool:
        """Equal but for where the version sits (``supersedes``)."""
        return self.replace(supersedes="") == other.replace(supersedes="")

    @classmethod
    def from_hashed(cls, data: Mapping[str, JSON]) -> CaseRecord:
        """The record of :meth:`hashed` output (as kept in export manifests)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields - {"v"}
        if data.get("v") != _FORMAT_VERSION or unknown:
            raise PermanentError(f"not a v{_FORMAT_VERSION} case record (unknown keys {sorted(unknown)})")
        return cls(**{k: v for k, v in data.items() if k != "v"})


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One row of ``eval_cases``: a record and its place in the chain."""

    seq: int
    case_id: str
    prev_hash: str
    chain_hash: str
    lineage: str
    created_at_ms: int
    record: CaseRecord

    @classmethod
    def from_row(cls, row: Mapping[str, JSON]) -> EvalCase:
        """From a row selected with :data:`tracesieve.evals.regressions.chain.COLUMNS`.

        JSON columns that no longer parse raise ValueError (verify reports the row as changed).
        """
        record = CaseRecord(
            source=row["Source"],
            input=row["Input"],
            context=_json_list(row["Context"]),
            retrieved_documents=_json_list(row["RetrievedDocuments"]),
            output=row["Output"],
            expected=row["Expected"],
            criteria=row["Criteria"],
            categories=list(row["Categories"]),
            severity=row["Severity"],
            incident_id=row["IncidentId"],
            tags=list(row["Tags"]),
            signals=list(row["Signals"]),
            session_id=row["SessionId"],
            trace_id=row["TraceId"],
            span_id=row["SpanId"],
            review_case_id=row["ReviewCaseId"],
            batch_id=row["BatchId"],
            label_id=row["LabelId"],
            reviewer=row["Reviewer"],
            provenance=_json_object(row["Provenance"]),
            supersedes=row["Supersedes"],
            status=row["Status"],
        )
        return cls(
            seq=int(row["Seq"]),
            case_id=row["CaseId"],
            prev_hash=row["PrevHash"],
            chain_hash=row["ChainHash"],
            lineage=row["Lineage"],
            created_at_ms=int(row["CreatedAt"]),
            record=record,
        )

    def to_row(self) -> dict[str, JSON]:
        """The row to insert (DateTime64(3) as int milliseconds)."""
        r = self.record
        return {
            "Seq": self.seq,
            "CaseId": self.case_id,
            "PrevHash": self.prev_hash,
            "ChainHash": self.chain_hash,
            "Lineage": self.lineage,
            "Supersedes": r.supersedes,
            "Status": r.status,
            "CreatedAt": self.created_at_ms,
            "Source": r.source,
            "Input": r.input,
            "Context": canonical_json(r.context),
            "RetrievedDocuments": canonical_json(r.retrieved_documents),
            "Output": r.output,
            "Expected": r.expected,
            "Criteria": r.criteria,
            "Categories": r.categories,
            "Severity": r.severity,
            "IncidentId": r.incident_id,
            "Tags": r.tags,
            "Signals": r.signals,
            "SessionId": r.session_id,
            "TraceId": r.trace_id,
            "SpanId": r.span_id,
            "ReviewCaseId": r.review_case_id,
            "BatchId": r.batch_id,
            "LabelId": r.label_id,
            "Reviewer": r.reviewer,
            "Provenance": canonical_json(r.provenance),
        }

    def to_json(self) -> dict[str, JSON]:
        """Chain position and record, as the plain JSONL export and the manifests keep it."""
        return {
            "seq": self.seq,
            "case_id": self.case_id,
            "prev_hash": self.prev_hash,
            "chain_hash": self.chain_hash,
            "lineage": self.lineage,
            "created_at_ms": self.created_at_ms,
            "record": self.record.hashed(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> EvalCase:
        return cls(
            seq=int(data["seq"]),
            case_id=str(data["case_id"]),
            prev_hash=str(data["prev_hash"]),
            chain_hash=str(data["chain_hash"]),
            lineage=str(data["lineage"]),
            created_at_ms=int(data["created_at_ms"]),
            record=CaseRecord.from_hashed(data["record"]),
        )


def _json_list(text: str) -> list[JSON]:
    value = json.loads(text) if text else []
    if not isinstance(value, list):
        raise ValueError("expected a JSON list")
    return value


def _json_object(text: str) -> dict[str, JSON]:
    value = json.loads(text) if text else {}
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value
