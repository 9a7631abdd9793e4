"""A tiny MCP server on WebSocket, run as a subprocess by test_websocket.py.

``python tests/mcp_edge/ws_server.py`` binds 127.0.0.1 on a free port, prints the port on
stdout (one line, the only thing it prints), then serves under uvicorn (wsproto) until killed.
Logs go to stderr at INFO (``mcp_edge.websocket`` at DEBUG) so the tests can read them.

Routes: ``/ws`` (identity optional), ``/ws-private`` (identity required), ``/ws-small`` (64-byte
frame limit) and ``GET /stats`` (how many WebSocket connections are being served right now).
API keys: ``key-alice`` → client ``alice``, ``key-bob`` → ``bob``; the SDK's
``AuthenticationMiddleware`` + ``BearerAuthBackend`` identifies ``Authorization: Bearer`` callers,
the route checks ``?access_token=`` keys.
"""

from __future__ import annotations

import logging
import socket
import sys

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import AccessToken
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_edge.websocket import websocket_route

KEYS = {"key-alice": "alice", "key-bob": "bob"}


async def verify(key: str) -> AccessToken | None:
    """The test's API key table."""
    client = KEYS.get(key)
    return AccessToken(token=key, client_id=client, scopes=[]) if client else None


class Verifier:
    """The same table as the SDK's TokenVerifier, for BearerAuthBackend."""

    async def verify_token(self, token: str) -> AccessToken | None:
        return await verify(token)


def build_server() -> MCPServer:
    server = MCPServer("ws-test", log_level="INFO")

    @server.tool()
    async def echo(text: str) -> str:
        """Return the text."""
        return text

    @server.tool()
    async def slow_echo(text: str, delay: float) -> str:
        """Return the text after a delay in seconds."""
        await anyio.sleep(delay)
        return text

    @server.tool()
    async def whoami() -> str:
        """The caller's client id, or 'anonymous'."""
        token = get_access_token()
        return token.client_id if token is not None else "anonymous"

    return server


class Counter:
    active = 0


def counted(route: WebSocketRoute) -> WebSocketRoute:
    """Count the connections ``route`` is serving (its handler has not returned yet)."""
    inner: ASGIApp = route.app

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        Counter.active += 1
        try:
            await inner(scope, receive, send)
        finally:
            Counter.active -= 1

    route.app = app
    return route


async def stats(_: Request) -> JSONResponse:
    return JSONResponse({"active": Counter.active})


def build_app() -> Starlette:
    server = build_server()
    routes = [
        counted(websocket_route(server, "/ws", authenticate=verify)),
        counted(websocket_route(server, "/ws-private", authenticate=verify, require_auth=True)),
        counted(websocket_route(server, "/ws-small", max_message_size=64)),
        Route("/stats", stats),
    ]
    middleware = [Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(Verifier()))]
    return Starlette(routes=routes, middleware=middleware)


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("mcp_edge.websocket").setLevel(logging.DEBUG)
    app = build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        app, ws="wsproto", log_level="info", access_log=False, lifespan="off", log_config=None
    )
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
