"""tracesieve.processors."""
