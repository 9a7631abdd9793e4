"""The real server over stdio: the SDK's stdio client launches ``mcp-discord serve``.

stdout is the protocol's wire: any stray byte on it would break the client, so a working
session is itself the proof that logs stay on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _params(data_dir: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_DISCORD_")}
    env["MCP_DISCORD_DATA_DIR"] = str(data_dir)
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_edge", "serve", "--transport", "stdio"], env=env
    )


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(result.structured_content)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_session_sends_as_the_default_agent(tmp_path: Path, mode: str) -> None:
    """Over stdio the default agent (the seed's first bot) finds a channel, sends, reads back."""
    with anyio.fail_after(60):
        async with Client(_params(tmp_path), mode=mode) as client:
            with anyio.fail_after(20):  # the agent may still be connecting
                while (guilds := await client.call_tool("list_guilds", {})).is_error:  # noqa: ASYNC110 - polls another process
                    await anyio.sleep(0.1)
            guild = _data(guilds)["guilds"][0]["id"]
            channels = _data(await client.call_tool("list_channels", {"guild_id": guild}))
            general = next(c["id"] for c in channels["channels"] if c["name"] == "general")
            sent = _data(
                await client.call_tool("send_message", {"channel_id": general, "content": "hi"})
            )
            page = _data(await client.call_tool("read_messages", {"channel_id": general}))
            assert page["messages"][-1]["id"] == sent["message_id"]
            status = _data(await client.call_tool("server_status", {}))
            assert status["agent"] == "scribe"
