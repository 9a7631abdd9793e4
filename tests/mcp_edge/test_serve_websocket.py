"""The real server over WebSocket: the package's trio-websocket client against ``/ws``."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from bench._server_process import ServerProcess
from mcp import Client

from mcp_edge.ws_client import WebSocketRefusedError, WebSocketTransport

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    """trio-websocket is trio only."""
    return "trio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess.start(tmp_path_factory.mktemp("serve-ws"))
    yield proc
    proc.stop()


def _ws(server: ServerProcess) -> str:
    return server.base.replace("http://", "ws://") + "/ws"


async def test_websocket_with_bearer_header(server: ServerProcess) -> None:
    """A key in the Authorization header: tools listed and called as that agent."""
    headers = {"Authorization": f"Bearer {server.keys['herald']}"}
    with anyio.fail_after(30):
        async with Client(WebSocketTransport(_ws(server), headers=headers)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "send_message" in tools
            result = await client.call_tool("read_messages", {"channel_id": "1"})
            assert result.is_error  # an unknown channel: a tool error, not a broken socket
            assert "Traceback" not in str(result.content)


async def test_websocket_with_query_key(server: ServerProcess) -> None:
    """A key as ?access_token= (how the TypeScript client must send it)."""
    with anyio.fail_after(30):
        transport = WebSocketTransport(_ws(server), access_token=server.keys["scribe"])
        async with Client(transport) as client:
            assert (await client.list_tools()).tools


async def test_websocket_without_key_is_refused(server: ServerProcess) -> None:
    """No key: the upgrade is refused (a non-101 status) before any MCP message."""
    with anyio.fail_after(30), pytest.raises(WebSocketRefusedError):
        async with Client(WebSocketTransport(_ws(server))) as client:
            await client.list_tools()
