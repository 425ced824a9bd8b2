"""The admin API: health probes and read-only SQL over the store, on its own port."""

from tracesieve.collector.admin.server import AdminServer, QueryRunner

__all__ = ["AdminServer", "QueryRunner"]
