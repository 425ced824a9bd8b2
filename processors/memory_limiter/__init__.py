"""The memory limiter: refuse work, with the retryable OTLP status, before memory runs out."""

from tracesieve.processors.memory_limiter.config import MemoryLimiterConfig
from tracesieve.processors.memory_limiter.limiter import MemoryLimitedConsumer, MemoryLimiter, resident_bytes

__all__ = ["MemoryLimitedConsumer", "MemoryLimiter", "MemoryLimiterConfig", "resident_bytes"]
