"""tracesieve.evals: the eval-case life cycle (review batches, labels, the append-only regression
set, exports, coverage audit, judge calibration). Built by the review-loop issue; empty so far.
"""
