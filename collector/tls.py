"""TLS for tracesieve's listeners (OTLP/gRPC, OTLP/HTTP, admin) and for the CLI talking to the admin port.

One model, the OTel Collector's ``configtls`` server settings::

    tls:
      cert_file: /etc/tracesieve/tls/server.crt   # PEM; may hold the chain after the leaf
      key_file: /etc/tracesieve/tls/server.key
      client_ca_file: /etc/tracesieve/tls/ca.crt  # optional: client certificates are then required
      min_version: "1.2"                          # or "1.3"

The model checks the shape (``cert_file`` and ``key_file`` go together); the files are read when
the listener starts, and an unreadable or invalid file stops the start with a
:class:`~tracesieve.collector.errors.PermanentError` naming the key and the file. Files are read
once: replacing a certificate takes a restart.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from tracesieve.collector.errors import PermanentError

__all__ = ["TlsServerConfig", "client_ssl_context", "grpc_server_credentials", "server_ssl_context"]

_MIN_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TlsServerConfig(BaseModel):
    """A listener's certificate, key and (for mutual TLS) the CA its clients' certificates chain to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cert_file: Path | None = Field(
        None, description="PEM certificate the listener presents (leaf first, then any intermediates)."
    )
    key_file: Path | None = Field(None, description="PEM private key of `cert_file` (unencrypted).")
    client_ca_file: Path | None = Field(
        None,
        description="PEM CA bundle; when set, clients must present a certificate that chains to it "
        "(mutual TLS), and connections without one are refused in the handshake.",
    )
    min_version: Literal["1.2", "1.3"] = Field("1.2", description="Oldest TLS version accepted.")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> Self:
        if self.cert_file is None and self.key_file is None:
            raise ValueError("`tls` needs `cert_file` and `key_file` (remove `tls` to serve without TLS)")
        if self.cert_file is None:
            raise ValueError("`tls.key_file` is set but `tls.cert_file` is not: set both")
        if self.key_file is None:
            raise ValueError("`tls.cert_file` is set but `tls.key_file` is not: set both")
        return self


def server_ssl_context(tls: TlsServerConfig, where: str) -> ssl.SSLContext:
    """The context an aiohttp site serves with; ``where`` is the YAML path of ``tls`` for errors.

    Raises PermanentError naming the key when a file cannot be read or is not valid PEM, or
    when the key does not belong to the certificate.
    """
    assert tls.cert_file is not None and tls.key_file is not None  # the model guarantees it
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MIN_VERSIONS[tls.min_version]
    _read(tls.cert_file, f"{where}.cert_file")
    _read(tls.key_file, f"{where}.key_file")
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except ssl.SSLError as exc:
        raise PermanentError(
            f"`{where}`: cannot load `cert_file` {tls.cert_file} with `key_file` {tls.key_file} "
            f"(not PEM, or the key does not match the certificate): {exc.reason or exc}"
        ) from exc
    if tls.client_ca_file is not None:
        _read(tls.client_ca_file, f"{where}.client_ca_file")
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except ssl.SSLError as exc:
            raise PermanentError(
                f"`{where}.client_ca_file`: {tls.client_ca_file} holds no PEM certificate: "
                f"{exc.reason or exc}"
            ) from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def grpc_server_credentials(tls: TlsServerConfig, where: str) -> Any:
    """``grpc.ServerCredentials`` for ``add_secure_port``; errors as :func:`server_ssl_context`.

    gRPC has no setting for the oldest TLS version: it accepts 1.2 and 1.3, so the gRPC config
    refuses ``min_version: "1.3"`` instead of ignoring it.
    """
    import grpc

    # Loading the files into an SSLContext first turns a bad PEM or a mismatched key into a
    # start-up error; gRPC would only fail each handshake.
    server_ssl_context(tls, where)
    assert tls.cert_file is not None and tls.key_file is not None
    chain = _read(tls.cert_file, f"{where}.cert_file")
    key = _read(tls.key_file, f"{where}.key_file")
    roots = _read(tls.client_ca_file, f"{where}.client_ca_file") if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=roots, require_client_auth=roots is not None
    )


def client_ssl_context(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A verifying client context: trusts ``ca_file`` (else the system's CAs and
    ``$SSL_CERT_FILE``), and presents ``cert_file``/``key_file`` for mutual TLS when given."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
        if cert_file is not None:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise PermanentError(f"cannot load the TLS files for the admin API: {exc}") from exc
    return context


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PermanentError(f"`{key}`: cannot read {path}: {exc.strerror or exc}") from exc
