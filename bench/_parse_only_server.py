"""Parse-only OTLP server: the baseline the ingest benchmark divides by.

Receives OTLP/gRPC and OTLP/HTTP trace exports on one asyncio loop, parses each body with the
same protobuf runtime, counts the spans and answers success. Nothing is normalised or stored.
Usage: python bench/_parse_only_server.py GRPC_PORT HTTP_PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_EMPTY = ExportTraceServiceResponse().SerializeToString()
spans_seen = 0


def _parse(body: bytes) -> None:
    global spans_seen
    request = ExportTraceServiceRequest.FromString(body)
    spans_seen += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


async def _grpc_export(body: bytes, context: grpc.aio.ServicerContext) -> bytes:  # type: ignore[type-arg]
    _parse(body)
    return _EMPTY


async def _http_export(request: web.Request) -> web.Response:
    _parse(await request.read())
    return web.Response(body=_EMPTY, content_type="application/x-protobuf")


async def main(grpc_port: int, http_port: int) -> None:
    options = [("grpc.max_receive_message_length", 64 << 20)]
    server = grpc.aio.server(options=options)
    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(_grpc_export)},
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()
    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/v1/traces", _http_export)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
