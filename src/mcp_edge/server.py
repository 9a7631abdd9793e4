"""The MCP server factory: :func:`build_server` gives a configured ``MCPServer``.

The server holds no state of its own: its tools reach the running swarm through the
:class:`~mcp_edge.runtime.EdgeRuntime` they were registered with. Transports (stdio,
streamable HTTP, SSE, WebSocket) are added by :mod:`mcp_edge.http_app` and
:mod:`mcp_edge.serve`; the same server object serves all of them. With a policy in the runtime,
``tools/list`` shows each caller (its API key's agent, else the default agent) only the tools
its policy grants, and a call of any other tool is refused naming the grant it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from mcp.shared.inbound import X_MCP_HEADER_KEY

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
    _skip_header_checks_that_cannot_fail(server)
    return server


def _skip_header_checks_that_cannot_fail(server: MCPServer) -> None:
    """Spare every 2026-07-28 ``tools/call`` a walk of its tool's whole input schema.

    Before dispatch the SDK checks the request's ``Mcp-Param-*`` headers against the tool's
    ``x-mcp-header`` annotations, walking the input schema each time to find them (130-185 µs
    for send_message's schema, measured: a tenth of the SDK's whole per-call cost). None of our
    schemas has such an annotation, so that check can never reject anything; the SDK skips it
    when the schema lookup says None. The lookup now says None for a schema that mentions no
    ``x-mcp-header`` anywhere (decided once per schema object), and passes the others on.
    """
    lowlevel = getattr(server, "_lowlevel_server", None)  # the SDK has no public accessor
    lookup: Callable[[str], Any] | None = getattr(lowlevel, "get_tool_input_schema", None)
    if lookup is None:
        return
    annotated: dict[str, tuple[Any, bool]] = {}

    def schema_worth_checking(name: str) -> Any:
        schema = lookup(name)
        if schema is None:
            return None
        known = annotated.get(name)
        if known is None or known[0] is not schema:
            known = (schema, _mentions(schema, X_MCP_HEADER_KEY))
            annotated[name] = known
        return schema if known[1] else None

    lowlevel.get_tool_input_schema = schema_worth_checking  # type: ignore[union-attr]


def _mentions(value: Any, key: str) -> bool:
    """Whether ``key`` is a key of any object anywhere in the JSON value."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if key in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


__all__ = ["INSTRUCTIONS", "build_server"]
