"""``evals.review``: the review of weekly batches, on the admin port (``/review``, :mod:`.routes`)
and in the terminal (``tracesieve review``, :mod:`.terminal`); labels are read and saved by
:mod:`.batches` and :mod:`.labels`. See README.md beside this file.
"""
