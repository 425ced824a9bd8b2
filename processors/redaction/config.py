"""Configuration of the redaction processor (``processors.redaction`` in the YAML file)."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["PatternsConfig", "RedactionConfig"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class PatternsConfig(BaseModel):
    """The built-in patterns, each switchable (``processors.redaction.patterns``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: bool = Field(True, description="E-mail addresses (`[REDACTED:email]`).")
    phone: bool = Field(
        True,
        description="Phone numbers: international (`+44 20 7946 0958`), North American "
        "(`(415) 555-2671`, `415-555-2671`) and trunk-prefixed national ones with separators "
        "(`020 7946 0958`, `06 12 34 56 78`); dates, versions, ids and bare digit runs stay.",
    )
    card: bool = Field(
        True,
        description="Payment card numbers: 13-19 digits (single spaces or dashes between them allowed) "
        "starting 2-6 and passing the Luhn check; any other digit run stays.",
    )
    secret: bool = Field(
        True,
        description="API keys and tokens: OpenAI `sk-…`/`sk-proj-…`, Anthropic `sk-ant-…`, AWS `AKIA…`, "
        "GitHub `ghp_…`/`github_pat_…`, Slack `xox?-…`, Google `AIza…`, JWTs, `Bearer …`, and the "
        "value of `api_key=…`, `password: …` and the like (the key name is kept).",
    )
    iban: bool = Field(
        False, description="IBANs (2 letters, 2 check digits, up to 30 more), checked with ISO 7064 mod 97."
    )


class RedactionConfig(BaseModel):
    """What is redacted before anything is stored or published, and how it is marked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description="Redact every received request before it is logged, stored or published. Off by "
        "default (as the OTel Collector's redaction processor); when off the processor is not installed.",
    )
    patterns: PatternsConfig = Field(default_factory=PatternsConfig, description=PatternsConfig.__doc__)
    custom: dict[str, str] = Field(
        default_factory=dict,
        description="More patterns, by name: `{employee_id: 'EMP-[0-9]{6}'}`. Python regular expressions "
        "(use `(?i:…)` for a case-insensitive part); the name is the kind written in the replacement "
        "and counted (lower-case letters, digits, `_`).",
    )
    replacement: str = Field(
        "[REDACTED:{kind}]",
        description="What a match is replaced with. `{kind}` is the pattern's name; `{hash}` is 12 hex "
        "digits of a keyed BLAKE2b of the matched text (with `hash_key`), for telling values apart "
        'without keeping them. Must not contain `"` or `\\`, so JSON text stays JSON.',
    )
    hash_key: str = Field(
        "",
        description="Key of the `{hash}` BLAKE2b. Set a secret one: without it a short list of guesses "
        "(e-mails of a known domain, say) can be hashed and compared.",
    )
    blocked_keys: tuple[str, ...] = Field(
        (),
        description="Attribute keys (regular expressions, matched against the whole key) whose values "
        "are never kept, whatever they hold; see `blocked_key_action`.",
    )
    blocked_key_action: Literal["mask", "remove"] = Field(
        "mask",
        description="`mask`: the value becomes the replacement (kind `blocked_key`), the key stays; "
        "`remove`: the attribute is dropped.",
    )
    allowed_keys: tuple[str, ...] | None = Field(
        None,
        description="When set, attributes whose key matches none of these regular expressions are "
        "dropped (kind `unlisted_key`), except the keys tracesieve's normalisation reads (see the README), "
        "which are always kept and still pattern-redacted. Null keeps every key.",
    )
    ignored_keys: tuple[str, ...] = Field(
        (),
        description="Attribute keys (regular expressions) whose values are never redacted, e.g. an id "
        "that looks like a phone number. Blocked keys win over ignored ones.",
    )
    summary: bool = Field(
        True,
        description="Mark each changed span, log record, resource and feedback item with "
        "`tracesieve.redaction.count` and `tracesieve.redaction.kinds` attributes.",
    )

    @field_validator("custom")
    @classmethod
    def _check_custom(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            if not _NAME.match(name):
                raise ValueError(f"pattern name {name!r} must be lower-case letters, digits and _")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {name!r} is not a valid regular expression: {exc}") from exc
            if compiled.groupindex:
                raise ValueError(f"pattern {name!r} must not use named groups (?P<…>)")
            if compiled.match(""):
                raise ValueError(f"pattern {name!r} matches the empty string")
        return value

    @field_validator("blocked_keys", "allowed_keys", "ignored_keys")
    @classmethod
    def _check_key_patterns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for pattern in value or ():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return value

    @field_validator("replacement")
    @classmethod
    def _check_replacement(cls, value: str) -> str:
        if '"' in value or "\\" in value:
            raise ValueError('must not contain " or \\ (replacements land inside JSON text)')
        try:
            value.format(kind="k", hash="h")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"may use only the {{kind}} and {{hash}} placeholders ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _check_custom_names(self) -> Self:
        builtin = set(PatternsConfig.model_fields) | {"blocked_key", "unlisted_key"}
        clash = sorted(builtin & set(self.custom))
        if clash:
            raise ValueError(
                f"`processors.redaction.custom` names {clash} are taken by built-in kinds; choose others"
            )
        return self
