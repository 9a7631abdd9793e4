"""The MCP server factory: :func:`build_server` gives a configured ``MCPServer``.

The server holds no state of its own: its tools reach the running swarm through the
:class:`~mcp_edge.runtime.EdgeRuntime` they were registered with. Transports (stdio,
streamable HTTP, SSE, WebSocket) are added by :mod:`mcp_edge.http_app` and
:mod:`mcp_edge.serve`; the same server object serves all of them. With a policy in the runtime,
``tools/list`` shows each caller (its API key's agent, else the default agent) only the tools
its policy grants, and a call of any other tool is refused naming the grant it needs.
"""

from __future__ import annotations

from mcp.server import MCPServer

from mcp_edge.runtime import EdgeRuntime
from mcp_edge.tools import ToolKit, register_all

INSTRUCTIONS = """\
This server gives you access to Discord as your own bot. Ids (guilds, channels, messages, users)
are strings of digits. Start with list_guilds and list_channels to find where to talk;
read_messages reads history; send_message posts (exactly once, in order; a "queued" result
will still be delivered -- never resend it); wait_for_events long-polls for new messages,
reactions and other events (keep passing next_cursor). Errors tell you what to do next.
"""


def build_server(runtime: EdgeRuntime, *, name: str = "mcp-discord") -> MCPServer:
    """An MCPServer with every tool registered against ``runtime``.

    Configure logging before calling this (``mcp_edge.logs.configure_logging``): MCPServer
    calls ``logging.basicConfig``, which does nothing once the root logger has a handler.
    """
    server = MCPServer(
        name=name,
        title="Discord for AI agents",
        instructions=INSTRUCTIONS,
        version=runtime.version,
        website_url="https://github.com/mcp-discord/mcp-discord",
        log_level="WARNING",
    )
    kit = ToolKit(server, runtime)
    register_all(kit)
    server.middleware.append(kit.middleware)
    server.middleware.append(kit.list_middleware)  # tools/list: only the caller's granted tools
    return server


__all__ = ["INSTRUCTIONS", "build_server"]
