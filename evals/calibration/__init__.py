"""``evals.calibration``: how far an LLM judge can be trusted (``tracesieve calibrate``).

``verdicts`` reads a judge's verdict file and stores it in ``judge_verdicts``; ``data`` matches
the stored verdicts with the current human labels; ``agreement`` and ``bias`` hold the
statistics; ``report`` puts them together per category and names where to keep human review.
"""
