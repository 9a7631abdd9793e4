"""serve against an external sandbox (``discord_api_url``): agents log in with their tokens."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from discord_io.sandbox import sandbox_server
from mcp_edge.config import ConfigError, load_config
from mcp_edge.serve import Edge, serve

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_agents_use_the_external_sandbox(tmp_path: Path) -> None:
    """Two agents with token files reach the configured sandbox; the send lands there."""
    async with sandbox_server() as sandbox:
        for bot in ("herald", "courier"):
            (tmp_path / f"{bot}.token").write_text(sandbox.bot(bot).token)
            (tmp_path / f"{bot}.token").chmod(0o600)
        config_file = tmp_path / "mcp-discord.yaml"
        config_file.write_text(
            f"transport: http\nport: 0\nauth: none\ndata_dir: {tmp_path / 'data'}\n"
            f"discord_api_url: {sandbox.base_url}\n"
            "agents:\n"
            "  - {name: herald, token_file: herald.token, default: true}\n"
            "  - {name: courier, token_file: courier.token,\n"
            "     capabilities: {message_content: false, members: true}}\n"
        )
        config = load_config(config_file, environ={})
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                edge: Edge = await tg.start(
                    lambda task_status: serve(config, signals=False, task_status=task_status)
                )
                await edge.swarm.ready(10)
                general = sandbox.channel_id("general")
                receipt = await edge.swarm.agent("herald").send_message(general, "external")
                edge.stop()
        assert edge.sandbox is None
        held = [m for m in sandbox.delivered(general) if m.content == "external"]
        assert [m.id for m in held] == [receipt.message_id]
        assert held[0].author_id == sandbox.bot("herald").id


def test_the_embedded_sandbox_and_an_external_one_conflict(tmp_path: Path) -> None:
    """discord_api_url with the embedded sandbox on is refused, saying what to change."""
    with pytest.raises(ConfigError, match="discord_api_url"):
        load_config(
            None,
            environ={
                "MCP_DISCORD_DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
                "MCP_DISCORD_SANDBOX": "on",
                "MCP_DISCORD_DATA_DIR": str(tmp_path),
            },
        )
