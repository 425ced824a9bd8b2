"""Bearer-token authentication of OTLP requests, as the OTel Collector's ``bearertokenauth`` does it.

::

    receivers:
      otlp:
        auth: {token_file: /run/secrets/otlp-token}   # both protocols (or per protocol: protocols.grpc.auth)

A request must carry ``Authorization: Bearer <token>`` (HTTP header; gRPC metadata
``authorization``); anything else is refused with :class:`UnauthenticatedError`, which the
status table answers with HTTP 401 / gRPC UNAUTHENTICATED, neither of them retryable (OTLP
spec: the same request will fail again). Tokens are compared in constant time. A
``token_file`` is re-read when it changes (checked at most once a second), so a token is rotated
by rewriting the file; the whole file, stripped of surrounding whitespace, is the token.
"""

from __future__ import annotations

import hmac
import os
import time
from pathlib import Path
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from tracesieve.collector.errors import PermanentError, UnauthenticatedError

__all__ = [
    "WWW_AUTHENTICATE",
    "BearerAuthConfig",
    "BearerTokenAuth",
    "UnauthenticatedError",
    "read_token_file",
]

WWW_AUTHENTICATE: Final = 'Bearer realm="tracesieve-otlp"'
"""The challenge sent with every HTTP 401 (RFC 6750 §3)."""
_FILE_CHECK_INTERVAL_S: Final = 1.0


def read_token_file(path: Path, key: str) -> str:
    """The token ``path`` holds (stripped); PermanentError naming ``key`` if it is unreadable or empty."""
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PermanentError(f"`{key}`: cannot read {path}: {reason}") from exc
    if not token:
        raise PermanentError(f"`{key}`: {path} is empty")
    return token


class BearerAuthConfig(BaseModel):
    """The token an OTLP receiver requires: given inline or read from a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str | None = Field(
        None,
        repr=False,
        description="Bearer token clients must send (quote it in YAML; prefer `token_file` or the "
        "TRACESIEVE_RECEIVERS__OTLP__AUTH__TOKEN variable to keeping it in the file).",
    )
    token_file: Path | None = Field(
        None,
        description="File holding the token (surrounding whitespace ignored); re-read when it changes.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("`auth` needs exactly one of `token` and `token_file`")
        if self.token is not None and not self.token.strip():
            raise ValueError("`auth.token` is empty")
        return self


class BearerTokenAuth:
    """Checks ``Authorization`` values against the configured token.

    ``where`` is the YAML path of the ``auth`` section, named in start-up errors.
    """

    def __init__(self, config: BearerAuthConfig, where: str) -> None:
        self._config = config
        self._where = where
        self._expected = b""
        self._file_stamp: tuple[int, int] | None = None
        self._next_file_check = 0.0

    def load(self) -> None:
        """Read the token (file) now; raises PermanentError naming the key if it cannot be used."""
        if self._config.token is not None:
            self._expected = f"Bearer {self._config.token.strip()}".encode()
            return
        path = self._config.token_file
        assert path is not None
        try:
            stamp = _stamp(path)
        except OSError as exc:
            raise PermanentError(f"`{self._where}.token_file`: cannot read {path}: {exc.strerror}") from exc
        token = read_token_file(path, f"{self._where}.token_file")
        self._expected = f"Bearer {token}".encode()
        self._file_stamp = stamp
        self._next_file_check = time.monotonic() + _FILE_CHECK_INTERVAL_S

    def check(self, authorization: str | bytes | None) -> None:
        """Return if ``authorization`` is ``Bearer <the token>``; else raise UnauthenticatedError."""
        if self._config.token_file is not None:
            self._reload_if_changed()
        given = authorization.encode() if isinstance(authorization, str) else (authorization or b"")
        scheme, _, token = given.strip().partition(b" ")
        # RFC 7235 §2.1: the scheme is case-insensitive. compare_digest takes as long for any
        # token of a given length, so the answer's timing tells nothing about the token.
        if not hmac.compare_digest(b"Bearer " + token.strip(), self._expected) or scheme.lower() != b"bearer":
            raise UnauthenticatedError(
                "missing or wrong bearer token" if given else "missing Authorization: Bearer <token>"
            )

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        if now < self._next_file_check:
            return
        self._next_file_check = now + _FILE_CHECK_INTERVAL_S
        path = self._config.token_file
        assert path is not None
        try:
            stamp = _stamp(path)  # before reading: a write after it is seen next time
            if stamp == self._file_stamp:
                return
            token = path.read_text().strip()
        except (OSError, UnicodeDecodeError):
            return  # mid-rotation (or removed): keep the token that worked
        if token:
            self._expected = f"Bearer {token}".encode()
            self._file_stamp = stamp


def _stamp(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size
