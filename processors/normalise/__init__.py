"""Normalisation: OTLP spans and GenAI log records → :class:`~tracesieve.collector.contracts.CanonicalSpan`.

Pure functions, no state between calls:

- :func:`normalise_traces` turns every valid span of a trace request into a canonical span
  (LLM or not: the trace assembler uses the others as context), whatever convention produced it;
- :func:`normalise_logs` keeps the GenAI event log records that belong to a span, and reads the
  ``gen_ai.evaluation.result`` ones as :class:`~tracesieve.collector.contracts.Feedback`;
- :func:`apply_log_event` merges such an event into its span (content sent as events only);
- :func:`extract_feedback` reads the feedback carried by canonical spans (evaluation span events,
  OpenInference annotations and post-hoc EVALUATOR carrier spans).
"""

from __future__ import annotations

from .config import NormaliseConfig
from .feedback import extract_feedback, feedback_from_log_event
from .join import apply_log_event
from .logs import normalise_logs
from .traces import normalise_traces

__all__ = [
    "NormaliseConfig",
    "apply_log_event",
    "extract_feedback",
    "feedback_from_log_event",
    "normalise_logs",
    "normalise_traces",
]
