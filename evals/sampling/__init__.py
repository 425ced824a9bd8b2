"""``tracesieve.evals.sampling``: the weekly review batch.

Drawing (:mod:`.draw`), reading a week from the store (:mod:`.scan`), storing and reading
batches (:mod:`.batch`, :mod:`.ops`), the files (:mod:`.files`), the path ``tracesieve sample``
and the schedule share (:mod:`.sampler`), the schedule inside ``tracesieve run``
(:mod:`.schedule`), ISO weeks (:mod:`.weeks`) and the command (:mod:`.cli`). The streaming
reservoirs are in ``tracesieve.processors.sampling``. Kept free of imports: the config and the
command line import this package on every run.
"""
