"""OTLP/gRPC receiver (``receivers: [otlp_grpc]``), port 4317."""

from __future__ import annotations

from tracesieve.collector.receivers._common import ReceiverFactory
from tracesieve.collector.receivers.otlp_grpc.config import OtlpGrpcConfig
from tracesieve.collector.receivers.otlp_grpc.receiver import OtlpGrpcReceiver

__all__ = ["OtlpGrpcConfig", "OtlpGrpcReceiver", "factory"]

factory: ReceiverFactory[OtlpGrpcConfig] = ReceiverFactory("otlp_grpc", OtlpGrpcConfig, OtlpGrpcReceiver)
