"""tracesieve: mines production LLM failures into a regression eval set.

The code lives in ``tracesieve.collector`` (the service), ``tracesieve.processors``
(normalisation, session state, detectors), ``tracesieve.sinks`` (ClickHouse) and
``tracesieve.evals`` (the eval-case life cycle).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
