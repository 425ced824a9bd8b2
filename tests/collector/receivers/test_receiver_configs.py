"""Receiver configs and factories: defaults, validation, the shape every component shares."""

from __future__ import annotations

import re
import time

import pytest
from pydantic import BaseModel, ValidationError
from tracesieve.collector.contracts import Component
from tracesieve.collector.receivers import otlp_grpc, otlp_http
from tracesieve.collector.receivers.otlp_grpc import OtlpGrpcConfig, OtlpGrpcReceiver
from tracesieve.collector.receivers.otlp_http import OtlpHttpConfig, OtlpHttpReceiver
from tracesieve.collector.testing import MemoryConsumer

CONFIGS: list[type[BaseModel]] = [OtlpHttpConfig, OtlpGrpcConfig]


def test_defaults_follow_the_otlp_spec() -> None:
    http, grpc_ = OtlpHttpConfig(), OtlpGrpcConfig()
    assert (http.host, http.port) == ("0.0.0.0", 4318)
    assert (grpc_.host, grpc_.port) == ("0.0.0.0", 4317)
    assert http.max_request_body_bytes == grpc_.max_recv_msg_size_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize("config", CONFIGS)
def test_every_field_has_a_default_and_a_description(config: type[BaseModel]) -> None:
    for name, field in config.model_fields.items():
        assert not field.is_required(), name
        assert field.description, name


@pytest.mark.parametrize("config", CONFIGS)
def test_unknown_keys_are_refused_and_configs_are_frozen(config: type[BaseModel]) -> None:
    with pytest.raises(ValidationError, match="max_body"):
        config(max_body=1)
    instance = config()
    with pytest.raises(ValidationError):
        instance.endpoint = "127.0.0.1:1"  # type: ignore[attr-defined]


@pytest.mark.parametrize("endpoint", ["localhost", "localhost:http", ":4318", "::1:4318", "host:70000"])
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValidationError, match=r"endpoint|port"):
        OtlpHttpConfig(endpoint=endpoint)


def test_ipv6_endpoints_in_brackets() -> None:
    config = OtlpGrpcConfig(endpoint="[::1]:0")
    assert (config.host, config.port) == ("::1", 0)


def test_inflight_bytes_must_hold_one_whole_request() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("`receivers.otlp.protocols.http.max_inflight_bytes` must be ≥")
    ):
        OtlpHttpConfig(max_request_body_bytes=1000, max_inflight_bytes=999)
    with pytest.raises(
        ValidationError, match=re.escape("`receivers.otlp.protocols.grpc.max_inflight_bytes` must be ≥")
    ):
        OtlpGrpcConfig(max_recv_msg_size_bytes=1000, max_inflight_bytes=999)


def test_factories_build_components() -> None:
    assert (otlp_http.factory.name, otlp_grpc.factory.name) == ("otlp_http", "otlp_grpc")
    http = otlp_http.factory.create(otlp_http.factory.config_type(), MemoryConsumer())
    grpc_ = otlp_grpc.factory.create(otlp_grpc.factory.config_type(), MemoryConsumer())
    assert isinstance(http, OtlpHttpReceiver) and isinstance(http, Component)
    assert isinstance(grpc_, OtlpGrpcReceiver) and isinstance(grpc_, Component)


async def test_receivers_on_ipv6_loopback() -> None:
    # This machine (and CI, which runs on it) has IPv6 loopback: no skip, a failure is real.
    consumer = MemoryConsumer()
    http = OtlpHttpReceiver(OtlpHttpConfig(endpoint="[::1]:0"), consumer)
    grpc_ = OtlpGrpcReceiver(OtlpGrpcConfig(endpoint="[::1]:0"), consumer)
    try:
        await http.start()
        await grpc_.start()
        assert http.port > 0 and grpc_.port > 0
    finally:
        await http.aclose(time.monotonic() + 5)
        await grpc_.aclose(time.monotonic() + 5)
