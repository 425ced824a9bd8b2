"""The ``tracesieve`` command line: run, demo, replay, query, flagged, config, and the review loop's
commands (``tracesieve.evals.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from tracesieve import __version__
from tracesieve.collector.config import Config, ConfigError, ServiceConfig, load_config
from tracesieve.collector.errors import PermanentError, RetryableError
from tracesieve.collector.telemetry.logs import configure_logging

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
    except (PermanentError, RetryableError) as exc:
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
    _add_admin_tls_options(query)
    query.add_argument("--format", choices=["table", "json", "jsonl"], default="table")
    query.set_defaults(handler=_cmd_query)

    flagged = sub.add_parser("flagged", help="list flagged turns with the signals that flagged them")
    flagged.add_argument("--since", default="24h", help="24h, 30m, 7d, or an ISO date (default 24h)")
    flagged.add_argument(
        "--signal", action="append", default=[], help="only turns with this signal (repeatable: any of)"
    )
    flagged.add_argument("--session", help="only this session id")
    flagged.add_argument("--min-score", type=float, default=0.0, help="only turns scoring at least this")
    flagged.add_argument("--limit", type=int, default=50, help="at most this many turns (default 50)")
    flagged.add_argument(
        "--store", help="DSN (chdb:///path or http://host:8123); default: the local data folder"
    )
    flagged.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="local data folder")
    flagged.add_argument("--database", default="tracesieve", help="database name (default tracesieve)")
    flagged.add_argument("--token", default=os.environ.get("TRACESIEVE_ADMIN__TOKEN"), help="admin API token")
    _add_admin_tls_options(flagged)
    flagged.add_argument("--format", choices=["table", "json", "jsonl"], default="table")
    flagged.set_defaults(handler=_cmd_flagged)

    config = sub.add_parser("config", help="check a config file or print the config schema")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate a config file (with TRACESIEVE_* applied)")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_cmd_config_check)
    schema = config_sub.add_parser("schema", help="print the JSON schema of the config")
    schema.set_defaults(handler=_cmd_config_schema)

    from tracesieve.evals.cli import add_commands

    add_commands(sub)
    return parser


def _add_admin_tls_options(p: argparse.ArgumentParser) -> None:
    # No TRACESIEVE_* defaults: those names are config keys, and these are not.
    p.add_argument(
        "--ca-file",
        type=Path,
        help="CA bundle that verifies an admin API served over TLS (default: the system's, $SSL_CERT_FILE)",
    )
    p.add_argument("--client-cert", type=Path, help="client certificate (PEM) if the admin API asks for one")
    p.add_argument("--client-key", type=Path, help="private key of --client-cert (PEM)")


def _admin_tls(args: argparse.Namespace) -> dict[str, Any]:
    return {"ca_file": args.ca_file, "client_cert": args.client_cert, "client_key": args.client_key}


def _add_service_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML config file")
    p.add_argument("--store", help="ClickHouse DSN: chdb:///path (embedded, default) or http(s)://host:8123")
    p.add_argument("--data-dir", type=Path, help=f"data folder (default ./{DEFAULT_DATA_DIR})")
    p.add_argument("--grpc-port", type=int, help="OTLP/gRPC port (default 4317)")
    p.add_argument("--http-port", type=int, help="OTLP/HTTP port (default 4318)")
    p.add_argument("--admin-port", type=int, help="admin API port (default 4319)")
    p.add_argument(
        "--role",
        choices=["all", "receiver", "normaliser", "processor"],
        help="the stage(s) this process runs (default all; one stage needs transport.kind: kafka)",
    )


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
    if getattr(args, "role", None):
        overrides["service.role"] = args.role
    return load_config(args.config, overrides=overrides) if overrides else base


def _setup_logging(service: ServiceConfig) -> None:
    configure_logging(service.log_level, service.log_format, service.role)


# -- run ---------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    config = _service_config(args)
    _setup_logging(config.service)
    return asyncio.run(_run(config))


async def _run(config: Config) -> int:
    from tracesieve.collector.service import Service

    service = Service(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    stopping = asyncio.create_task(stop.wait())
    failing = asyncio.create_task(service.failed.wait())
    try:
        await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        failing.cancel()
        _err.print("shutting down: draining what is in flight")
        await service.aclose()
    if service.failure is not None:
        _err.print(f"[red]tracesieve stopped:[/red] {service.failure}")
        return 70  # EX_SOFTWARE: for a supervisor to restart it; the ingest log replays
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
            # A demo cannot wait five minutes for the user to leave: the session counts as
            # abandoned after 2 s of silence, and event time follows the clock after 0.5 s.
            "processors.sessions.allowed_lateness_s": 0.5,
            "processors.sessions.idle_source_s": 0.5,
            "processors.detectors.abandoned_session.idle_s": 2,
        },
    )
    return asyncio.run(_demo(config, data_dir))


async def _demo(config: Config, data_dir: Path) -> int:
    from tracesieve.collector.demo import DEMO_TURNS, drive_demo_chat, new_session_id, send_feedback
    from tracesieve.collector.flagged import flagged_sql, shape_rows
    from tracesieve.collector.service import Service

    out = Console()
    async with Service(config) as service:
        assert service.grpc is not None and service.http is not None
        assert service.pipeline is not None and service.sink is not None  # the embedded transport
        pipeline, sink = service.pipeline, service.sink
        grpc_endpoint = f"http://127.0.0.1:{service.grpc.port}"
        http_endpoint = f"http://127.0.0.1:{service.http.port}"
        out.print(f"collector up: OTLP gRPC {grpc_endpoint}, HTTP {http_endpoint}, store {data_dir / 'chdb'}")
        out.print(f"sending a {len(DEMO_TURNS)}-turn chat through the OpenTelemetry SDK exporters…")
        session = new_session_id()
        trace_ids = await asyncio.to_thread(
            drive_demo_chat, grpc_endpoint, http_endpoint, DEMO_TURNS, session
        )
        sent = await asyncio.to_thread(send_feedback, http_endpoint, DEMO_TURNS, trace_ids, session)
        out.print(f"the app sent {sent} thumbs-down to POST /v1/feedback; waiting for the user to leave…")
        await pipeline.wait_stored()
        database = config.sinks.clickhouse.database
        flagged_query, flagged_params = flagged_sql(
            database, signals=[], session=session, min_score=0.0, limit=100, since_ns=0
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:  # until the abandonment timer has fired on the event-time watermark
            _, abandoned = await sink.query(
                f"SELECT count() FROM {database}.signals WHERE Signal = 'abandoned_session' "
                "AND SessionId = {session:String}",
                {"session": session},
            )
            if abandoned[0][0] or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        await pipeline.wait_stored()
        flag_columns, flag_rows = await sink.query(flagged_query, flagged_params)
        batch = await _demo_batch(service, data_dir)
        columns, rows = await sink.query(
            "SELECT SessionId AS Session, UserId AS User, TurnIndex AS Turn, Kind, RequestModel AS Model, "
            "JSONExtractString(arrayElement(JSONExtractArrayRaw(InputMessages), -1), 'content') AS Question, "
            "OutputText AS Answer, arrayStringConcat(FinishReasons, ',') AS Finish, ErrorType AS Error, "
            "concat(toString(InputTokens), '→', toString(OutputTokens)) AS Tokens, "
            "arrayStringConcat(arrayMap(d -> concat(JSONExtractString(d, 'id'), ' ', "
            "toString(JSONExtractFloat(d, 'score'))), JSONExtractArrayRaw(RetrievedDocuments)), ', ') "
            "AS Documents "
            f"FROM {config.sinks.clickhouse.database}.spans WHERE SessionId = {{session:String}} "
            "ORDER BY Timestamp",
            {"session": session},
        )
    sessions = sorted({f"session {row[0]} · user {row[1]}" for row in rows})
    _print_table(
        out, columns[2:], [row[2:] for row in rows], title="tracesieve.spans — " + "; ".join(sessions)
    )
    print_flagged(
        out, shape_rows(flag_columns, flag_rows), title="tracesieve.flagged_spans — why each turn was flagged"
    )
    if batch is not None:
        from tracesieve.evals.sampling.render import print_batch

        print_batch(out, batch.batch, batch.created, batch.paths)
    out.print(
        f"\nStored {len(rows)} spans and flagged {len(flag_rows)} turns. Look again with:\n"
        f"  tracesieve flagged --data-dir {data_dir} --since 1h --session {session}\n"
        f"  tracesieve query --data-dir {data_dir} "
        '"SELECT Signal, count() FROM tracesieve.signals GROUP BY Signal"\n'
        "Then close the loop: label the batch, export the regression set, audit the coverage:\n"
        f"  tracesieve review --data-dir {data_dir}\n"
        f"  tracesieve regressions export --data-dir {data_dir} --format deepeval\n"
        f"  tracesieve audit --data-dir {data_dir} --since 7d"
    )
    return 0


@dataclass(frozen=True, slots=True)
class _DemoBatch:
    batch: Any
    created: bool
    paths: list[Path]


async def _demo_batch(service: Any, data_dir: Path) -> _DemoBatch | None:
    """This week's review batch of the demo's flagged turns (one more on each demo run)."""
    import time

    from tracesieve.evals.sampling.files import write_batch_files
    from tracesieve.evals.sampling.sampler import NothingToSample, SampleSettings, sample_week
    from tracesieve.evals.sampling.schedule import BATCH_FOLDER
    from tracesieve.evals.sampling.weeks import week_of_ns

    week = week_of_ns(time.time_ns())
    settings = SampleSettings.from_config(service.config.evals.sampling)
    try:
        outcome = await sample_week(service.eval_store, week, settings, new=True, source="demo")
    except NothingToSample:
        return None
    paths = await asyncio.to_thread(write_batch_files, outcome.batch, data_dir / BATCH_FOLDER / week)
    return _DemoBatch(outcome.batch, outcome.created, list(paths))


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
        **_admin_tls(args),
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


def _cmd_flagged(args: argparse.Namespace) -> int:
    from tracesieve.collector.flagged import flagged_sql, parse_since, shape_rows
    from tracesieve.collector.query_client import run_query

    try:
        since_ns = parse_since(args.since)
    except ValueError as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    sql, params = flagged_sql(
        args.database,
        signals=args.signal,
        session=args.session,
        min_score=args.min_score,
        limit=args.limit,
        since_ns=since_ns,
    )
    columns, rows = run_query(
        sql,
        params,
        store=args.store,
        data_dir=args.data_dir,
        database=args.database,
        token=args.token,
        **_admin_tls(args),
    )
    records = shape_rows(columns, rows)
    if args.format == "table":
        print_flagged(Console(), records)
    else:
        from tracesieve.collector.admin.server import json_default

        if args.format == "json":
            print(json.dumps(records, default=json_default, ensure_ascii=False, indent=2))
        else:
            for record in records:
                print(json.dumps(record, default=json_default, ensure_ascii=False))
    return 0


def print_flagged(console: Console, records: Sequence[dict[str, Any]], title: str | None = None) -> None:
    """The flagged turns as a table: when, which turn, how bad, why, and what was said."""
    from tracesieve.collector.flagged import evidence_summary

    table = Table(title=title or f"{len(records)} flagged turn(s), newest first", show_lines=True)
    for column, width in (
        ("When", 19),
        ("Session · turn", 24),
        ("Score", 5),
        ("Why", 60),
        ("Question → answer", 60),
    ):
        table.add_column(column, overflow="fold", max_width=width)
    for r in records:
        question = str(r.get("UserMessage") or "")[:200]
        answer = str(r.get("OutputText") or "")[:200]
        table.add_row(
            str(r.get("Timestamp", ""))[:19].replace("T", " "),
            f"{r.get('SessionId') or '-'} · {r.get('TurnIndex')}\ntrace {str(r.get('TraceId', ''))[:12]}…",
            f"{float(r.get('FlagScore') or 0):.2f}",
            evidence_summary(r.get("Evidence")),
            f"Q: {question}\nA: {answer or '(no answer)'}",
        )
    console.print(table)


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
