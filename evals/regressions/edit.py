"""Cases added by hand (post-mortems), tag changes and retirement: each appends, none removes.

Store operations (``store.call("regressions.edit:<op>", payload)``):

- ``add``: ``{"cases": [NewCase, ...], "by": name}`` appends a first version per case (source
  ``incident`` when it names an incident, else ``manual``); a case whose content address is
  already in the set is skipped and reported.
- ``tag``: ``{"case_id": id or prefix, "add_categories", "remove_categories", "severity",
  "incident_id", "add_tags", "remove_tags", "by"}`` appends a version of the case's lineage with
  the tags changed, superseding its current version (the old version stays).
- ``set_status``: ``{"case_id", "status": "retired" | "active", "reason", "by"}``: a retired
  case leaves the current set (exports, suites) but not the table; ``active`` brings it back.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from tracesieve.collector.errors import PermanentError
from tracesieve.evals.store import EvalStore, store_op

from .chain import append
from .current import resolve_case
from .record import ACTIVE, RETIRED, CaseRecord, EvalCase, names

__all__ = ["NewCase", "add", "set_status", "tag"]


class NewCase(BaseModel):
    """A case added directly (``regressions add``, one object per case in ``--from-json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: str = Field(min_length=1, description="The user's message the app must answer.")
    expected: str = Field("", description="The expected answer.")
    criteria: str = Field("", description="A property a correct answer must have.")
    output: str = Field("", description="The answer that failed, if known.")
    context: list[dict[str, Any]] = Field(
        default_factory=list,
        description='The conversation before: [{"user": .., "assistant": ..}] or [{"role", "content"}].',
    )
    retrieved_documents: list[Any] = Field(
        default_factory=list, description='Retrieved documents: strings or {"id", "score", "content"}.'
    )
    categories: list[str] = Field(default_factory=list, description="Failure categories.")
    severity: str = Field("", description="critical, high, medium or low.")
    incident_id: str = Field("", description="The incident this case comes from.")
    tags: list[str] = Field(default_factory=list, description="Free tags.")
    signals: list[str] = Field(default_factory=list, description="Failure signals seen, if any.")
    session_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    notes: str = ""

    @field_validator("context")
    @classmethod
    def _turns(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return turns_from(value)

    @model_validator(mode="after")
    def _checkable(self) -> NewCase:
        if not (self.expected.strip() or self.criteria.strip()):
            raise ValueError("a regression case needs an expected answer or a criterion (or both)")
        return self


def turns_from(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{"user", "assistant"}]`` turns from turns or from chat messages (system ones dropped)."""
    if all("role" in item for item in items):
        turns: list[dict[str, Any]] = []
        for item in items:
            role, content = str(item["role"]), str(item.get("content") or "")
            if role == "user":
                turns.append({"user": content, "assistant": ""})
            elif role == "assistant":
                if turns and not turns[-1]["assistant"]:
                    turns[-1]["assistant"] = content
                else:
                    turns.append({"user": "", "assistant": content})
        return turns
    for item in items:
        if not ({"user", "assistant"} & set(item)):
            raise ValueError('each context turn needs "user"/"assistant" (or "role"/"content")')
    return [dict(item) for item in items]


@store_op
async def add(store: EvalStore, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        cases = [NewCase.model_validate(c) for c in payload.get("cases") or []]
    except ValidationError as exc:
        raise PermanentError(f"invalid case: {_first_error(exc)}") from exc
    if not cases:
        raise PermanentError("nothing to add: no cases")
    by = str(payload.get("by") or "")
    records = [_record(c, by) for c in cases]
    result = await append(store, records)
    return {
        "appended": [{"case_id": c.case_id, "seq": c.seq} for c in result.cases],
        "already_present": result.skipped,
    }


def _record(case: NewCase, by: str) -> CaseRecord:
    documents = [d if isinstance(d, dict) else {"content": str(d)} for d in case.retrieved_documents]
    provenance: dict[str, Any] = {"added_by": by}
    if case.notes:
        provenance["notes"] = case.notes
    return CaseRecord(
        source="incident" if case.incident_id else "manual",
        input=case.input,
        context=case.context,
        retrieved_documents=documents,
        output=case.output,
        expected=case.expected,
        criteria=case.criteria,
        categories=case.categories,
        severity=case.severity,
        incident_id=case.incident_id,
        tags=case.tags,
        signals=case.signals,
        session_id=case.session_id,
        trace_id=case.trace_id,
        span_id=case.span_id,
        reviewer=by,
        provenance=provenance,
    )


@store_op
async def tag(store: EvalStore, payload: dict[str, Any]) -> dict[str, Any]:
    named, head = await resolve_case(store, str(payload.get("case_id") or ""))
    r = head.record
    categories = names([*r.categories, *_strings(payload, "add_categories")])
    categories = [c for c in categories if c not in set(_strings(payload, "remove_categories"))]
    tags = names([*r.tags, *_strings(payload, "add_tags")])
    tags = [t for t in tags if t not in set(_strings(payload, "remove_tags"))]
    severity = r.severity if payload.get("severity") is None else str(payload["severity"])
    incident = r.incident_id if payload.get("incident_id") is None else str(payload["incident_id"])
    changed = r.replace(categories=categories, tags=tags, severity=severity, incident_id=incident)
    return await _new_version(store, named, head, changed, {"op": "tag", "by": str(payload.get("by") or "")})


@store_op
async def set_status(store: EvalStore, payload: dict[str, Any]) -> dict[str, Any]:
    status = str(payload.get("status") or "")
    if status not in (ACTIVE, RETIRED):
        raise PermanentError(f"status must be {ACTIVE!r} or {RETIRED!r}")
    named, head = await resolve_case(store, str(payload.get("case_id") or ""))
    revision = {"op": "retire" if status == RETIRED else "restore", "by": str(payload.get("by") or "")}
    if payload.get("reason"):
        revision["reason"] = str(payload["reason"])
    return await _new_version(store, named, head, head.record.replace(status=status), revision)


async def _new_version(
    store: EvalStore, named: EvalCase, head: EvalCase, changed: CaseRecord, revision: dict[str, str]
) -> dict[str, Any]:
    result: dict[str, Any] = {"named": named.case_id, "current": head.case_id, "changed": False}
    if changed == head.record:
        return result
    provenance = {**head.record.provenance, "revision": revision}
    record = changed.replace(supersedes=head.case_id, provenance=provenance)
    appended = await append(store, [record])
    if appended.cases:
        case = appended.cases[0]
        result.update(changed=True, case_id=case.case_id, seq=case.seq, status=record.status)
    return result


def _strings(payload: dict[str, Any], key: str) -> list[str]:
    value = payload.get(key) or []
    if not isinstance(value, list):
        raise PermanentError(f"{key} must be a list of strings")
    return [str(v) for v in value]


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
