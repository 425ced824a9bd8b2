"""tracesieve.sinks."""
