"""The ``tracesieve`` command line: run, demo, replay, query, config."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from tracesieve import __version__
from tracesieve.collector.config import Config, ConfigError, load_config
from tracesieve.collector.errors import PermanentError

__all__ = ["main"]

_err = Console(stderr=True)
DEFAULT_DATA_DIR = Path("tracesieve-data")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code: int = args.handler(args)
        return code
    except ConfigError as exc:
        _err.print(f"[red]error:[/red] {exc.reason}", highlight=False)
        return 2
    except PermanentError as exc:
        _err.print(f"[red]error:[/red] {exc.reason}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracesieve", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tracesieve {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the collector (OTLP in, ClickHouse out)")
    _add_service_options(run)
    run.set_defaults(handler=_cmd_run)

    demo = sub.add_parser(
        "demo", help="run a collector in-process, send it a scripted chat, show what was stored"
    )
    demo.add_argument(
        "--data-dir", type=Path, default=Path("tracesieve-demo-data"), help="where the demo keeps its data"
    )
    demo.set_defaults(handler=_cmd_demo)

    replay = sub.add_parser(
        "replay", help="send captured OTLP requests (.pb, .pb.gz, .otlp.json) to a collector"
    )
    replay.add_argument("paths", nargs="+", type=Path, help="files or folders of captures")
    replay.add_argument(
        "--endpoint", default="http://127.0.0.1:4318", help="http://host:4318 or grpc://host:4317"
    )
    replay.add_argument("--signal", choices=["traces", "logs", "metrics"], help="when file names do not say")
    replay.add_argument("--gzip", action="store_true", help="compress request bodies")
    replay.add_argument("--header", action="append", default=[], help="extra header, NAME=VALUE (repeatable)")
    replay.set_defaults(handler=_cmd_replay)

    query = sub.add_parser(
        "query", help="run read-only SQL against the store (also while the collector runs)"
    )
    query.add_argument("sql", help="the SQL; tables live in the `tracesieve` database")
    query.add_argument(
        "--store", help="DSN (chdb:///path or http://host:8123); default: the local data folder"
    )
    query.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="local data folder")
    query.add_argument("--database", default=None, help="database name (default tracesieve)")
    query.add_argument(
        "--param", action="append", default=[], help="query parameter NAME=VALUE ({NAME:Type} in SQL)"
    )
    query.add_argument("--token", default=os.environ.get("TRACESIEVE_ADMIN__TOKEN"), help="admin API token")
    query.add_argument("--format", choices=["table", "json", "jsonl"], default="table")
    query.set_defaults(handler=_cmd_query)

    config = sub.add_parser("config", help="check a config file or print the config schema")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate a config file (with TRACESIEVE_* applied)")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_cmd_config_check)
    schema = config_sub.add_parser("schema", help="print the JSON schema of the config")
    schema.set_defaults(handler=_cmd_config_schema)
    return parser


def _add_service_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML config file")
    p.add_argument("--store", help="ClickHouse DSN: chdb:///path (embedded, default) or http(s)://host:8123")
    p.add_argument("--data-dir", type=Path, help=f"data folder (default ./{DEFAULT_DATA_DIR})")
    p.add_argument("--grpc-port", type=int, help="OTLP/gRPC port (default 4317)")
    p.add_argument("--http-port", type=int, help="OTLP/HTTP port (default 4318)")
    p.add_argument("--admin-port", type=int, help="admin API port (default 4319)")


def _service_config(args: argparse.Namespace) -> Config:
    base = load_config(args.config)
    overrides: dict[str, Any] = {}
    data_dir = args.data_dir
    if data_dir is not None:
        overrides["service.data_dir"] = str(data_dir)
        if args.store is None and "TRACESIEVE_SINKS__CLICKHOUSE__DSN" not in os.environ:
            overrides["sinks.clickhouse.dsn"] = f"chdb://{(data_dir / 'chdb').resolve()}"
    if args.store:
        overrides["sinks.clickhouse.dsn"] = args.store
    protocols = base.receivers.otlp.protocols
    for flag, proto in (("grpc_port", protocols.grpc), ("http_port", protocols.http)):
        port = getattr(args, flag)
        if port is not None:
            name = flag.split("_")[0]
            host = proto.endpoint.rpartition(":")[0] if proto else "0.0.0.0"
            overrides[f"receivers.otlp.protocols.{name}.endpoint"] = f"{host}:{port}"
    if args.admin_port is not None:
        host = (base.admin.endpoint or "127.0.0.1:0").rpartition(":")[0]
        overrides["admin.endpoint"] = f"{host}:{args.admin_port}"
    return load_config(args.config, overrides=overrides) if overrides else base


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


# -- run ---------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    config = _service_config(args)
    _setup_logging(config.service.log_level)
    return asyncio.run(_run(config))


async def _run(config: Config) -> int:
    from tracesieve.collector.service import Service

    service = Service(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    try:
        await stop.wait()
    finally:
        _err.print("shutting down: draining what is in flight")
        await service.aclose()
    return 0


# -- demo --------------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    data_dir: Path = args.data_dir.resolve()
    config = load_config(
        None,
        environ={},
        overrides={
            "service.data_dir": str(data_dir),
            "sinks.clickhouse.dsn": f"chdb://{data_dir / 'chdb'}",
            "receivers.otlp.protocols.grpc.endpoint": "127.0.0.1:0",
            "receivers.otlp.protocols.http.endpoint": "127.0.0.1:0",
            "admin.endpoint": "127.0.0.1:0",
        },
    )
    return asyncio.run(_demo(config, data_dir))


async def _demo(config: Config, data_dir: Path) -> int:
    from tracesieve.collector.demo import DEMO_TURNS, drive_demo_chat
    from tracesieve.collector.service import Service

    out = Console()
    async with Service(config) as service:
        assert service.grpc is not None and service.http is not None
        grpc_endpoint = f"http://127.0.0.1:{service.grpc.port}"
        http_endpoint = f"http://127.0.0.1:{service.http.port}"
        out.print(f"collector up: OTLP gRPC {grpc_endpoint}, HTTP {http_endpoint}, store {data_dir / 'chdb'}")
        out.print(f"sending a {len(DEMO_TURNS)}-turn chat through the OpenTelemetry SDK exporters…")
        await asyncio.to_thread(drive_demo_chat, grpc_endpoint, http_endpoint)
        await service.pipeline.wait_stored()
        columns, rows = await service.sink.query(
            "SELECT SessionId AS Session, UserId AS User, TurnIndex AS Turn, Kind, RequestModel AS Model, "
            "JSONExtractString(arrayElement(JSONExtractArrayRaw(InputMessages), -1), 'content') AS Question, "
            "OutputText AS Answer, arrayStringConcat(FinishReasons, ',') AS Finish, ErrorType AS Error, "
            "concat(toString(InputTokens), '→', toString(OutputTokens)) AS Tokens, "
            "arrayStringConcat(arrayMap(d -> concat(JSONExtractString(d, 'id'), ' ', "
            "toString(JSONExtractFloat(d, 'score'))), JSONExtractArrayRaw(RetrievedDocuments)), ', ') "
            "AS Documents "
            f"FROM {config.sinks.clickhouse.database}.spans ORDER BY Timestamp",
            None,
        )
    sessions = sorted({f"session {row[0]} · user {row[1]}" for row in rows})
    _print_table(
        out, columns[2:], [row[2:] for row in rows], title="tracesieve.spans — " + "; ".join(sessions)
    )
    out.print(
        f"\nStored {len(rows)} spans. Query them with:\n"
        f"  tracesieve query --data-dir {data_dir} "
        "\"SELECT SessionId, OutputText FROM tracesieve.spans WHERE Kind = 'llm'\""
    )
    return 0


# -- replay ------------------------------------------------------------------------------------


def _cmd_replay(args: argparse.Namespace) -> int:
    from tracesieve.collector.replay import discover, replay

    headers = dict(h.split("=", 1) for h in args.header)
    files = discover(args.paths, args.signal)
    if not files:
        _err.print("no .pb, .pb.gz or .otlp.json files found")
        return 1
    with Progress(console=_err, transient=True) as progress:
        task = progress.add_task("replaying", total=len(files))
        result = asyncio.run(
            replay(
                files,
                args.endpoint,
                headers=headers,
                gzip_body=args.gzip,
                on_sent=lambda _item: progress.advance(task),
            )
        )
    print(
        f"sent {result.sent} requests ({result.items} items), {result.rejected} rejected, "
        f"{len(result.failures)} failed"
    )
    for failure in result.failures:
        _err.print(f"  [red]failed[/red] {failure}", highlight=False)
    return 1 if result.failures else 0


# -- query -------------------------------------------------------------------------------------


def _cmd_query(args: argparse.Namespace) -> int:
    from tracesieve.collector.query_client import run_query

    params = dict(p.split("=", 1) for p in args.param)
    columns, rows = run_query(
        args.sql,
        params or None,
        store=args.store,
        data_dir=args.data_dir,
        database=args.database,
        token=args.token,
    )
    if args.format == "table":
        _print_table(Console(), columns, rows)
    else:
        from tracesieve.collector.admin.server import json_default

        records = [dict(zip(columns, row, strict=False)) for row in rows]
        if args.format == "json":
            print(json.dumps(records, default=json_default, ensure_ascii=False, indent=2))
        else:
            for record in records:
                print(json.dumps(record, default=json_default, ensure_ascii=False))
    return 0


def _print_table(
    console: Console, columns: list[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold", max_width=48)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


# -- config ------------------------------------------------------------------------------------


def _cmd_config_check(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    print(f"{args.file}: valid")
    with contextlib.suppress(Exception):
        print(json.dumps(config.model_dump(mode="json"), indent=2))
    return 0


def _cmd_config_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Config.model_json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
