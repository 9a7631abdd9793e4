"""Fixtures for the tools: a sandbox Discord, a running swarm on it, and a real MCP client.

``edge`` starts the sandbox with the default seed, a swarm of the seed's four bots (READY), the
MCP server built by :func:`mcp_edge.server.build_server`, and the SDK's in-process ``Client``
connected to it. In-process calls carry no API key, so they act as the runtime's
``default_agent`` (``scribe`` unless a test asks for another with :meth:`Edge.as_agent`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from mcp import Client
from mcp.types import CallToolResult

from actors import AgentOptions
from actors.discord_port import AgentCapabilities
from discord_io.sandbox import Sandbox, sandbox_server
from discord_io.swarm import AgentConfig, Swarm, open_swarm
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.server import build_server

GRANTED: dict[str, AgentCapabilities] = {
    "scribe": AgentCapabilities(message_content=True, members=True, presences=True),
    "herald": AgentCapabilities(message_content=True),
    "sentinel": AgentCapabilities(),
    "courier": AgentCapabilities(members=True),
}
OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)
STORE = {"synchronous": "NORMAL", "prune_interval": None}


@pytest.fixture
def anyio_backend() -> str:
    """discord.py runs on asyncio only."""
    return "asyncio"


@attrs.define
class Edge:
    """A running server on the sandbox, and a client of it."""

    sandbox: Sandbox
    swarm: Swarm
    runtime: EdgeRuntime
    client: Client

    def channel(self, name: str) -> str:
        return str(self.sandbox.channel_id(name))

    def user_id(self, name: str) -> int:
        """A seeded user's (or bot's) id by name."""
        for user in self.sandbox.state.users.values():
            if user.username == name:
                return int(user.id)
        raise KeyError(name)

    async def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> CallToolResult:
        with anyio.fail_after(30, reason=f"{tool} did not answer"):
            return await self.client.call_tool(tool, dict(arguments or {}))

    async def ok(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call ``tool`` and return its structured result; fail the test on an error result."""
        result = await self.call(tool, arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return dict(result.structured_content)

    async def error(self, tool: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Call ``tool`` expecting an error result; return its text."""
        result = await self.call(tool, arguments)
        assert result.is_error, result.structured_content
        return " ".join(getattr(c, "text", "") for c in result.content)

    @asynccontextmanager
    async def as_agent(self, name: str) -> AsyncIterator[Edge]:
        """The same server, but unauthenticated calls act as ``name``."""
        before = self.runtime.default_agent
        self.runtime.default_agent = name
        try:
            yield self
        finally:
            self.runtime.default_agent = before


async def assert_hints(edge: Edge, expected: Mapping[str, tuple[bool, bool, bool, bool]]) -> None:
    """Each tool's (read_only, destructive, idempotent, open_world) hints are as ``expected``,
    and it has a title, a description and an output schema."""
    listed = await edge.client.list_tools()
    tools = {t.name: t for t in listed.tools}
    for name, want in expected.items():
        hints = tools[name].annotations
        assert hints is not None, name
        got = (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        )
        assert got == want, name
        assert hints.title, name
        assert tools[name].description, name
        assert tools[name].output_schema, name


@asynccontextmanager
async def running_edge(data_dir: Path, **runtime: Any) -> AsyncIterator[Edge]:
    async with sandbox_server() as sandbox:
        configs = [
            AgentConfig(name, sandbox.bot(name).token, capabilities=caps, options=OPTIONS)
            for name, caps in GRANTED.items()
        ]
        async with open_swarm(
            configs, data_dir, sandbox_url=sandbox.base_url, store_options=STORE
        ) as swarm:
            await swarm.ready(10)
            rt = EdgeRuntime(swarm, default_agent="scribe", allow_private_urls=True, **runtime)
            server = build_server(rt)
            async with Client(server) as client:
                yield Edge(sandbox, swarm, rt, client)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with running_edge(tmp_path) as e:
        yield e
