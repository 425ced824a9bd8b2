"""Log output: ``service.log_format: text`` (the human format) or ``json`` (one object a line).

A JSON line holds ``ts`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``, ``component``
(the process's role, or the ``component`` a call passes in ``extra=``), ``msg``, ``exc`` (the
traceback, when there is one) and every other ``extra=`` field::

    {"ts":"2026-11-29T10:31:07.123Z","level":"WARNING","logger":"tracesieve.collector.pipeline",
     "component":"all","msg":"store write failed (attempt 1), retrying in 0.2s: ...","attempt":1}
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any, Final, Literal

import orjson

__all__ = ["TEXT_FORMAT", "JsonFormatter", "LogFormat", "configure_logging"]

LogFormat = Literal["text", "json"]
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"

# What every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module docstring)."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self._component = component

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, Any] = {
            "ts": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "component": self._component,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                line[key] = value  # an extra= "component" replaces the process's
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


def configure_logging(
    level: str, fmt: LogFormat = "text", component: str = "all", *, suffix: str = ""
) -> None:
    """Send the root logger's records to stderr at ``level`` in ``fmt``.

    As ``logging.basicConfig``, it does nothing when the root logger has handlers already (a
    test runner's, an embedding application's). ``suffix`` is added to the logger name in the
    text format (the analysis worker's ``[worker]``).
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(component))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT.replace("%(name)s", "%(name)s" + suffix)))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
