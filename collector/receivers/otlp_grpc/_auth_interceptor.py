"""The gRPC side of bearer-token auth: a server interceptor that runs before any method handler.

Calls without ``authorization: Bearer <token>`` metadata, or with another token, end with
UNAUTHENTICATED (not retryable; a ``google.rpc.Status`` in ``grpc-status-details-bin``) and their
message is never decoded or handed on. Every method is covered, known or not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from tracesieve.collector.receivers._auth import BearerTokenAuth, UnauthenticatedError
from tracesieve.collector.receivers.status import translate

__all__ = ["BearerAuthInterceptor"]


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Lets a call through only when its metadata carries the token ``auth`` expects."""

    def __init__(self, auth: BearerTokenAuth) -> None:
        self._auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        # gRPC lower-cases metadata keys; a client may send the key more than once.
        given = [
            value for key, value in handler_call_details.invocation_metadata or () if key == "authorization"
        ]
        try:
            if len(given) != 1:
                raise UnauthenticatedError(
                    "missing authorization: Bearer <token> metadata" if not given else "more than one token"
                )
            self._auth.check(given[0])
        except UnauthenticatedError as exc:
            return _refusal(exc)
        return await continuation(handler_call_details)


def _refusal(exc: UnauthenticatedError) -> grpc.RpcMethodHandler:
    status = translate(exc, retry_after_s=0.0).grpc_status()

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort_with_status(status)

    # No deserializer: the refused message stays undecoded bytes.
    return grpc.unary_unary_rpc_method_handler(refuse)
