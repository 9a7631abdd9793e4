"""Keys on a running server: created, rotated and revoked with the CLI, no restart needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from bench._server_process import ServerProcess

pytestmark = [pytest.mark.anyio]

LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _keys(config: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "mcp_edge", "keys", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


async def _status(server: ServerProcess, key: str) -> int:
    async with httpx2.AsyncClient(timeout=10) as http:
        answer = await http.post(
            server.url, json=LIST, headers={**HEADERS, "Authorization": f"Bearer {key}"}
        )
        return answer.status_code


async def _until(server: ServerProcess, key: str, *, accepted: bool) -> None:
    """Wait until the server accepts the key (anything but 401) or refuses it (401)."""
    with anyio.fail_after(10, reason=f"the key never became {'valid' if accepted else 'invalid'}"):
        while (await _status(server, key) != 401) != accepted:  # noqa: ASYNC110 - polls a process
            await anyio.sleep(0.1)


async def test_keys_cli_takes_effect_on_a_running_server(tmp_path: Path) -> None:
    """keys create works within seconds; rotate keeps both alive; revoke locks a key out."""
    config = tmp_path / "mcp-discord.yaml"
    config.write_text(
        f"sandbox: on\ndata_dir: {tmp_path / 'data'}\n"
        "agents:\n  - name: alpha\n    sandbox_bot: scribe\n"
    )
    server = ServerProcess.start(tmp_path / "data", "--config", str(config))
    try:
        first = _keys(config, "create", "--agent", "alpha")
        assert first.startswith("mcpd_")
        await _until(server, first, accepted=True)
        second = _keys(config, "rotate", "--agent", "alpha", "--grace", "1h")
        await _until(server, second, accepted=True)
        assert await _status(server, first) != 401  # still live during the grace
        listed = _keys(config, "list", "--agent", "alpha")
        assert first not in listed
        assert second not in listed
        _keys(config, "revoke", "--agent", "alpha", "--all")
        await _until(server, first, accepted=False)
        await _until(server, second, accepted=False)
    finally:
        server.stop()
