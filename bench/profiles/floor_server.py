"""A bare MCPServer with one ``echo`` tool over streamable HTTP: the SDK's own overhead.

``python -m bench.profiles.floor_server [--json-response]`` serves on a free loopback port
(uvicorn, uvloop when installed, like ``mcp-discord serve``) and prints ``MCP endpoint: <url>``
then ``Serving until ...`` on stdout; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import socket
import sys

import uvicorn
from mcp.server import MCPServer


def build(json_response: bool) -> tuple[MCPServer, object]:
    server = MCPServer(name="floor", log_level="WARNING")

    @server.tool()
    async def echo(text: str) -> str:
        """Return ``text``."""
        return text

    app = server.streamable_http_app(json_response=json_response)
    return server, app


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json-response", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    _server, app = build(args.json_response)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_config=None,
        access_log=False,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    )
    sys.stdout.write(f"MCP endpoint:  http://127.0.0.1:{port}/mcp\nServing until SIGTERM\n")
    sys.stdout.flush()
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
