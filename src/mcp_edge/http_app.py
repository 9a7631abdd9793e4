"""The HTTP server: every MCP transport and the ops endpoints on one port.

=================  ==========================================================================
``/mcp``           streamable HTTP, both protocol eras on one endpoint: 2025-11-25 (initialize
                   handshake, ``Mcp-Session-Id``) and 2026-07-28 (no session; each request
                   self-contained). Responses stream (SSE) so progress notifications reach
                   the client during a call.
``/sse``           legacy HTTP+SSE (2024-11-05): the event stream; it announces its message
``/messages/``     endpoint, where the client POSTs.
``/ws``            WebSocket, subprotocol ``mcp``, one JSON-RPC message per text frame
                   (:mod:`mcp_edge.websocket`).
``/healthz``       200 while the process serves.
``/readyz``        200 when every agent is READY, else 503 with each agent's state.
``/metrics``       Prometheus text.
=================  ==========================================================================

Auth (``auth: api_key``, the default): ``Authorization: Bearer <api key>`` on every MCP
endpoint, checked by Starlette's ``AuthenticationMiddleware`` with the SDK's
``BearerAuthBackend`` over :class:`~mcp_edge.auth.ApiKeyVerifier`; none or a bad one gets 401
with ``WWW-Authenticate: Bearer`` (the SDK's ``RequireAuthMiddleware``). A session (2025-11-25
or SSE) belongs to the identity that opened it: the SDK refuses it to another key. The
WebSocket route also takes ``?access_token=`` (the TypeScript client cannot send headers).
``auth: none`` is allowed on loopback only (config check): calls act as the default agent. The
ops endpoints are open: they carry no secrets, and probes need them.

Host/Origin (DNS-rebinding protection, the SDK's ``TransportSecuritySettings``): loopback names
are always allowed; ``allowed_hosts``/``allowed_origins`` add the names clients really use;
``allowed_hosts: ["*"]`` turns the check off (behind a proxy that checks them). A wrong Host gets
421, a foreign Origin 403.

Lifespan: the streamable HTTP session manager runs for the app's lifetime (its task group holds
the 2025-11-25 sessions); everything else (the swarm, metrics refresh) is run by ``serve``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from mcp_edge.auth import ApiKeyVerifier
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.ops import Health, ops_routes
from mcp_edge.websocket import websocket_route

LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


def transport_security(
    allowed_hosts: Sequence[str], allowed_origins: Sequence[str]
) -> TransportSecuritySettings:
    """Loopback plus the configured names; ``"*"`` in ``allowed_hosts`` disables the check."""
    if "*" in allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = [*LOOPBACK_HOSTS]
    for host in allowed_hosts:
        hosts += [host] if ":" in host else [host, f"{host}:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[*LOOPBACK_ORIGINS, *allowed_origins],
    )


def build_http_app(
    server: MCPServer[Any],
    *,
    verifier: ApiKeyVerifier | None,
    metrics: EdgeMetrics,
    health: Callable[[], Health],
    security: TransportSecuritySettings,
    max_request_body: int = 4 * 1024 * 1024,
    json_response: bool = False,
) -> Starlette:
    """The Starlette app of the module docstring. ``verifier`` None: ``auth: none``."""
    server.streamable_http_app(  # creates server.session_manager, which the lifespan runs
        json_response=json_response,
        transport_security=security,
        max_request_body_size=max_request_body,
    )
    sse = server.sse_app(
        sse_path="/sse",
        message_path="/messages/",
        transport_security=security,
        max_request_body_size=max_request_body,
    )

    def guard(app: ASGIApp) -> ASGIApp:
        return app if verifier is None else RequireAuthMiddleware(app, [], None)

    routes: list[BaseRoute] = [
        Route("/mcp", endpoint=guard(StreamableHTTPASGIApp(server.session_manager))),
    ]
    for route in sse.routes:
        if isinstance(route, Mount):
            routes.append(Mount(route.path + "/", app=guard(route.app)))
        elif isinstance(route, Route):
            routes.append(Route(route.path, endpoint=guard(route.app), methods=["GET"]))
    routes.append(
        websocket_route(
            server,
            "/ws",
            authenticate=None if verifier is None else verifier.authenticate,
            require_auth=verifier is not None,
            security=security,
            max_message_size=max_request_body,
        )
    )
    routes += ops_routes(metrics, health)
    middleware = []
    if verifier is not None:
        middleware = [
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
            Middleware(AuthContextMiddleware),
        ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


__all__ = ["build_http_app", "transport_security"]
