"""``evals.report``: the self-contained HTML reports of ``tracesieve audit`` and ``calibrate``.

Imports jinja2: load it from a command's handler, not at the top of a CLI module.
"""

from .render import render_audit, render_calibration, write_report

__all__ = ["render_audit", "render_calibration", "write_report"]
