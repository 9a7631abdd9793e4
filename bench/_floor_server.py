"""The floor: a bare ``MCPServer`` with one ``echo`` tool, the SDK's own cost per call.

``python -m bench._floor_server`` serves it on a free loopback port with uvicorn (on uvloop when
installed and with wsproto, as ``mcp-discord serve`` runs) over the same transports as ours:
streamable HTTP at ``/mcp`` (both protocol eras), legacy SSE at ``/sse`` + ``/messages/``, and
WebSocket at ``/ws`` (our thin adapter, :func:`mcp_edge.websocket.websocket_route`: the SDK has
no WebSocket server). No auth, no policy, no actors, no Discord. It prints
``MCP endpoint: <url>`` then ``Serving until SIGTERM`` on stdout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
from collections.abc import AsyncIterator

import uvicorn
from mcp.server import MCPServer
from starlette.applications import Starlette

from mcp_edge.websocket import websocket_route


def build_app() -> Starlette:
    """The floor's ASGI app: ``echo`` over /mcp, /sse and /ws."""
    server = MCPServer(name="floor", log_level="WARNING")

    @server.tool()
    async def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    http = server.streamable_http_app()
    sse = server.sse_app(sse_path="/sse", message_path="/messages/")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    routes = [*http.routes, *sse.routes, websocket_route(server, "/ws")]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> int:
    app = build_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections made before uvicorn accepts wait instead of failing
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        ws="wsproto",
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    )
    sys.stdout.write(f"MCP endpoint: http://127.0.0.1:{port}/mcp\nServing until SIGTERM\n")
    sys.stdout.flush()
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
