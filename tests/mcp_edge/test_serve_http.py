"""The real server over HTTP: both streamable-HTTP eras, legacy SSE, auth, isolation, stop.

One ``mcp-discord serve --transport http`` subprocess (embedded sandbox) per module; real SDK
clients connect to it over loopback sockets with the demo agents' API keys from its banner.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from bench._server_process import ServerProcess
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from discord_io.sandbox.control_client import SandboxControl

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess.start(tmp_path_factory.mktemp("serve"))
    yield proc
    proc.stop()


def _http(key: str | None) -> httpx2.AsyncClient:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx2.AsyncClient(headers=headers, timeout=30)


@asynccontextmanager
async def connect(server: ServerProcess, agent: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with _http(server.keys[agent]) as http:
        transport = streamable_http_client(server.url, http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            yield client


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(result.structured_content)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_both_eras(server: ServerProcess, mode: str) -> None:
    """2026-07-28 (stateless) and 2025-11-25 (session) clients list tools and send."""
    with anyio.fail_after(30):
        async with connect(server, "scribe", mode) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"send_message", "read_messages", "list_guilds"} <= tools
            status = structured(await client.call_tool("server_status", {}))
            channels = structured(
                await client.call_tool(
                    "list_channels",
                    {
                        "guild_id": structured(await client.call_tool("list_guilds", {}))["guilds"][
                            0
                        ]["id"]
                    },
                )
            )
            general = next(c["id"] for c in channels["channels"] if c["name"] == "general")
            sent = structured(
                await client.call_tool(
                    "send_message", {"channel_id": general, "content": f"hello over {mode}"}
                )
            )
            assert sent["state"] == "delivered"
            assert status


async def test_legacy_sse(server: ServerProcess) -> None:
    """The 2024-11-05 HTTP+SSE transport works with a key."""
    headers = {"Authorization": f"Bearer {server.keys['herald']}"}
    with anyio.fail_after(30):
        async with Client(sse_client(server.base + "/sse", headers=headers), mode="legacy") as c:  # type: ignore[arg-type]
            guilds = structured(await c.call_tool("list_guilds", {}))
            assert guilds["guilds"]


async def test_no_key_is_401_with_www_authenticate(server: ServerProcess) -> None:
    """No key, or a wrong one, gets 401 and a WWW-Authenticate challenge on every endpoint."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with _http(None) as http:
        for key in (None, "mcpd_wrong"):
            headers = {"Accept": "application/json, text/event-stream"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            answer = await http.post(server.url, json=body, headers=headers)
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "mcpd_wrong" not in answer.text
        sse = await http.get(server.base + "/sse")
        assert sse.status_code == 401


async def test_each_key_acts_as_its_own_agent(server: ServerProcess) -> None:
    """server_status reports the caller's agent: the key decides, nothing else."""
    for agent in ("scribe", "courier"):
        async with connect(server, agent) as client:
            status = structured(await client.call_tool("server_status", {}))
            assert status["agent"] == agent


async def test_a_session_cannot_be_used_with_another_key(server: ServerProcess) -> None:
    """A 2025-11-25 session opened by one agent is refused to another agent's key."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    async with _http(server.keys["scribe"]) as scribe, _http(server.keys["herald"]) as herald:
        opened = await scribe.post(server.url, json=init, headers=accept)
        assert opened.status_code == 200
        session = opened.headers["mcp-session-id"]
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        hijack = await herald.post(
            server.url,
            json=call,
            headers={**accept, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
        )
        assert hijack.status_code in (403, 404)


async def test_foreign_host_header_is_refused(server: ServerProcess) -> None:
    """DNS-rebinding protection: a Host that is not loopback or configured gets 421."""
    async with _http(server.keys["scribe"]) as http:
        answer = await http.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
        )
        assert answer.status_code == 421


async def test_ops_endpoints(server: ServerProcess) -> None:
    """healthz, readyz and metrics answer without a key."""
    async with _http(None) as http:
        assert (await http.get(server.base + "/healthz")).json() == {"status": "ok"}
        with anyio.fail_after(20):
            while (ready := await http.get(server.base + "/readyz")).status_code != 200:  # noqa: ASYNC110 - polls another process
                await anyio.sleep(0.1)
        assert {a["agent"] for a in ready.json()["agents"]} == set(server.keys)
        metrics = await http.get(server.base + "/metrics")
        assert "mcp_discord_tool_calls_total" in metrics.text


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """SIGTERM: exit 0, the stop is logged, stdout held only the banner, no key in the log."""
    proc = ServerProcess.start(tmp_path)
    assert proc.stop() == 0
    log = proc.log()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any("stopped" in line["msg"] for line in lines)
    for key in proc.keys.values():
        assert key not in log


async def test_progress_notifications_stream_during_a_call(server: ServerProcess) -> None:
    """A filtered read over many pages reports progress while it runs (streamed responses)."""
    async with SandboxControl(server.sandbox_url) as control:
        info = await control.info()
        lab = next(c for c in info["channels"] if c["name"] == "bot-lab")
        for i in range(230):
            await control.inject_message(lab["id"], f"filler {i}", author="alice")
    seen: list[float] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(value)

    with anyio.fail_after(30):
        async with connect(server, "scribe") as client:
            result = await client.call_tool(
                "read_messages",
                {"channel_id": str(lab["id"]), "contains": "no such text", "limit": 5},
                progress_callback=progress,
            )
    assert structured(result)["scanned"] >= 230
    assert seen
    assert seen == sorted(seen)
