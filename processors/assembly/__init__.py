"""Trace assembly: session, user and log-record content joined onto LLM spans."""

from tracesieve.processors.assembly.assembler import Released, TraceAssembler
from tracesieve.processors.assembly.config import AssemblyConfig

__all__ = ["AssemblyConfig", "Released", "TraceAssembler"]
