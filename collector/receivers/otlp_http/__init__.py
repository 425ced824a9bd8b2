"""OTLP/HTTP receiver (``receivers: [otlp_http]``), port 4318."""

from __future__ import annotations

from tracesieve.collector.receivers._common import ReceiverFactory
from tracesieve.collector.receivers.otlp_http.config import OtlpHttpConfig
from tracesieve.collector.receivers.otlp_http.receiver import OtlpHttpReceiver

__all__ = ["OtlpHttpConfig", "OtlpHttpReceiver", "factory"]

factory: ReceiverFactory[OtlpHttpConfig] = ReceiverFactory("otlp_http", OtlpHttpConfig, OtlpHttpReceiver)
