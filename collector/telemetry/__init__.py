"""tracesieve's own telemetry: the metrics (:mod:`.metrics`, :mod:`.state`), detector time
(:mod:`.detector_time`), the health and readiness checks (:mod:`.health`, :mod:`.service_checks`)
and the log format (:mod:`.logs`). Import the submodule you need; this package imports nothing,
so that any stage can import :mod:`.metrics` without cycles."""
