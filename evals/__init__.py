"""tracesieve.evals."""
