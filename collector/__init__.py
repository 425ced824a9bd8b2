"""tracesieve.collector."""
