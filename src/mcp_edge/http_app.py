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

Profiles: with a ``compat`` server (the deprecated prototype tools, :mod:`mcp_edge.compat`),
every MCP request and connection is served by the compat server or the main one by its caller's
agent (``compat_for(agent)``; agent None: no identity, the default agent's case). The paths stay
the same; a session (streamable HTTP, SSE) lives in the server that opened it, which the same
key always reaches again.

Lifespan: the streamable HTTP session managers (one per server) run for the app's lifetime
(their task groups hold the 2025-11-25 sessions); everything else (the swarm, metrics refresh)
is run by ``serve``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import (
    AuthenticatedUser,
    BearerAuthBackend,
    RequireAuthMiddleware,
)
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_edge.auth import ApiKeyVerifier
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.ops import Health, ops_routes
from mcp_edge.websocket import ACCESS_TOKEN_PARAM, websocket_route

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
    compat: MCPServer[Any] | None = None,
    compat_for: Callable[[str | None], bool] = lambda _agent: False,
) -> Starlette:
    """The Starlette app of the module docstring. ``verifier`` None: ``auth: none``.
    ``compat``: the compat profile's server, for the agents ``compat_for`` picks."""

    def guard(app: ASGIApp) -> ASGIApp:
        return app if verifier is None else RequireAuthMiddleware(app, [], None)

    def endpoints(mcp: MCPServer[Any]) -> dict[str, ASGIApp]:
        mcp.streamable_http_app(  # creates mcp.session_manager, which the lifespan runs
            json_response=json_response,
            transport_security=security,
            max_request_body_size=max_request_body,
        )
        sse = mcp.sse_app(
            sse_path="/sse",
            message_path="/messages/",
            transport_security=security,
            max_request_body_size=max_request_body,
        )
        apps: dict[str, ASGIApp] = {"/mcp": StreamableHTTPASGIApp(mcp.session_manager)}
        for route in sse.routes:
            if isinstance(route, Mount):  # /messages/ (Mount keeps the path without its "/")
                apps[route.path + "/"] = _Asgi(route.app)
            elif isinstance(route, Route):  # /sse
                apps[route.path] = _Asgi(route.app)
        apps["/ws"] = _Asgi(
            websocket_route(
                mcp,
                "/ws",
                authenticate=None if verifier is None else verifier.authenticate,
                require_auth=verifier is not None,
                security=security,
                max_message_size=max_request_body,
            ).app
        )
        return apps

    main = endpoints(server)
    if compat is not None:
        alternative = endpoints(compat)
        chooser = _ProfileChooser(verifier, compat_for)
        main = {path: _ByProfile(app, alternative[path], chooser) for path, app in main.items()}
    routes: list[BaseRoute] = [Route("/mcp", endpoint=guard(main["/mcp"]))]
    for path, app in main.items():
        if path in ("/mcp", "/ws"):
            continue
        if path.endswith("/"):  # the SSE message endpoint, mounted
            routes.append(Mount(path, app=guard(app)))
        else:
            routes.append(Route(path, endpoint=guard(app), methods=["GET"]))
    routes.append(WebSocketRoute("/ws", endpoint=main["/ws"], name="mcp_websocket"))
    routes += ops_routes(metrics, health)
    middleware = []
    if verifier is not None:
        middleware = [
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
            Middleware(AuthContextMiddleware),
        ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as managers:
            for mcp in (server, compat):
                if mcp is not None:
                    await managers.enter_async_context(mcp.session_manager.run())
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


class _Asgi:
    """A route's ASGI callable as an app object: Starlette would take a bare function given as
    an endpoint for a request (or WebSocket) handler and wrap it a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


class _ProfileChooser:
    """Whether a request's caller is served the compat server: its agent, by ``compat_for``."""

    def __init__(
        self, verifier: ApiKeyVerifier | None, compat_for: Callable[[str | None], bool]
    ) -> None:
        self._verifier = verifier
        self._compat_for = compat_for

    async def __call__(self, scope: Scope) -> bool:
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser):
            return self._compat_for(user.access_token.client_id)
        if scope["type"] == "websocket" and self._verifier is not None:
            # A WebSocket key may come as ?access_token= (no middleware saw it): the route
            # verifies it again, this only picks the server.
            raw: bytes = scope.get("query_string", b"")
            pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
            key = next((v for name, v in pairs if name == ACCESS_TOKEN_PARAM), "")
            token = await self._verifier.authenticate(key) if key else None
            if token is not None:
                return self._compat_for(token.client_id)
        return self._compat_for(None)


class _ByProfile:
    """An ASGI app that hands each request to the main or the compat server's app."""

    def __init__(self, main: ASGIApp, compat: ASGIApp, choose: _ProfileChooser) -> None:
        self._main = main
        self._compat = compat
        self._choose = choose

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._compat if await self._choose(scope) else self._main
        await app(scope, receive, send)


__all__ = ["build_http_app", "transport_security"]
