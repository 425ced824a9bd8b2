"""``evals.audit``: the coverage audit (``tracesieve audit``): failure categories seen in
production against the categories the regression set covers. See ``coverage`` for the
definitions and ``query`` for what is read."""
