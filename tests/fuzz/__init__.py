"""Coverage-guided fuzzers (atheris) for the OTLP receivers and the JSON decoder.

``targets.py`` holds the three targets (``http``, ``grpc``, ``decoder``); ``scripts/fuzz.py``
runs one for a bounded time and reports executions, crashes, hangs and the corpus size;
``test_fuzz_ci.py`` runs each for ``TRACESIEVE_FUZZ_SECONDS`` (default 20) in CI.
"""
