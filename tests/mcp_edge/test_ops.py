"""/healthz, /readyz and /metrics over real HTTP (uvicorn on port 0, aiohttp), on a real swarm."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route
from tests.discord_io.agent_helpers import GRANTED
from tests.discord_io.conftest import (  # autouse: every sandbox body held to the spec
    _openapi_validation,  # noqa: F401
)

from actors.agent import AgentOptions
from actors.discord_port import ConnectionState
from actors.egress import EgressBudget
from discord_io.agent_client import AgentStatistics
from discord_io.sandbox import Sandbox
from discord_io.sandbox.control_client import SandboxControl
from discord_io.swarm import AgentConfig, SwarmState, SwarmStatistics, open_swarm
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.ops import Health, ops_routes

pytestmark = [pytest.mark.anyio]

OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)
STORE = {"synchronous": "NORMAL", "prune_interval": None}
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"
"""Shaped like a Discord bot token (not a real one)."""


@pytest.fixture
def anyio_backend() -> str:
    """discord.py (the swarm) and uvicorn run on asyncio here."""
    return "asyncio"


@asynccontextmanager
async def serving(routes: list[Route]) -> AsyncIterator[str]:
    """Serve ``routes`` with uvicorn on a free loopback port; yield the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=routes), log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    with sock:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(5, reason="uvicorn did not start"):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
                    await anyio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any, str]:
    """Status, JSON body (or text) and content type of ``GET url``."""
    async with session.get(url) as response:
        text = await response.text()
        content_type = response.headers["Content-Type"]
        body = await response.json() if content_type.startswith("application/json") else text
        return response.status, body, content_type


def agent_stats(agent: str, state: ConnectionState, error: str | None = None) -> AgentStatistics:
    return AgentStatistics(agent, state, 0, 1, 0, 0, 0, error)


# ------------------------------------------------------------------------------- Health


async def test_health_is_ready_only_when_running_with_every_agent_ready() -> None:
    """Ready needs a running swarm and every agent READY; otherwise the reason names why."""
    egress = EgressBudget().statistics()
    ready = agent_stats("scribe", ConnectionState.READY)
    resuming = agent_stats("herald", ConnectionState.RESUMING, "the gateway closed with 1006")
    running = SwarmStatistics(SwarmState.RUNNING, (ready,), ("scribe",), None, egress)
    assert Health.from_statistics(running).ready
    assert Health.from_statistics(running).to_json() == {
        "status": "ready",
        "reason": None,
        "swarm": "running",
        "agents": [{"agent": "scribe", "state": "ready", "accepting": True, "error": None}],
    }
    degraded = Health.from_statistics(
        SwarmStatistics(SwarmState.RUNNING, (ready, resuming), ("scribe",), None, egress)
    )
    assert not degraded.ready
    assert degraded.reason == "agents not READY: herald (resuming)"
    assert degraded.to_json()["agents"][1]["accepting"] is False
    for state in (SwarmState.STARTING, SwarmState.STOPPING, SwarmState.STOPPED):
        health = Health.from_statistics(SwarmStatistics(state, (ready,), (), None, egress))
        assert not health.ready
        assert health.reason == f"the swarm is {state.value}"
    empty = Health.from_statistics(SwarmStatistics(SwarmState.RUNNING, (), (), None, egress))
    assert not empty.ready


async def test_health_masks_anything_shaped_like_a_token() -> None:
    """An error text that somehow holds a token never reaches /readyz with it."""
    leaky = agent_stats("scribe", ConnectionState.FAILED, f"login refused for Bot {TOKEN}")
    stats = SwarmStatistics(SwarmState.RUNNING, (leaky,), (), None, EgressBudget().statistics())
    body = Health.from_statistics(stats).to_json()
    assert TOKEN not in str(body)
    assert body["agents"][0]["error"] == "login refused for Bot [redacted]"


# ------------------------------------------------------------------------------- over HTTP


async def test_the_endpoints_follow_a_real_swarm_through_an_outage(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """healthz is always 200; readyz is 200 while READY, 503 with the agents' states during an
    outage and after shutdown; metrics serves Prometheus text that parses."""
    configs = [
        AgentConfig(n, sandbox.bot(n).token, capabilities=GRANTED[n], options=OPTIONS)
        for n in ("scribe", "herald")
    ]
    tokens = [c.token for c in configs]
    metrics = EdgeMetrics()
    with anyio.fail_after(60):
        async with (
            open_swarm(
                configs, tmp_path, sandbox_url=sandbox.base_url, store_options=STORE
            ) as swarm,
            serving(ops_routes(metrics, lambda: Health.from_statistics(swarm.statistics()))) as url,
            aiohttp.ClientSession() as session,
            SandboxControl(sandbox.http_url) as control,
        ):
            metrics.bind(swarm.statistics, lambda agent: swarm.store.outbox_counts(agent))
            await swarm.ready(10)
            status, body, _ = await get(session, f"{url}/healthz")
            assert (status, body) == (200, {"status": "ok"})
            status, body, _ = await get(session, f"{url}/readyz")
            assert status == 200, body
            assert body["status"] == "ready"
            assert {a["agent"]: a["state"] for a in body["agents"]} == {
                "scribe": "ready",
                "herald": "ready",
            }

            await control.start_outage()
            with anyio.fail_after(10, reason="readyz stayed 200 during the outage"):
                while (await get(session, f"{url}/readyz"))[0] == 200:  # noqa: ASYNC110 - polls the endpoint
                    await anyio.sleep(0.02)
            status, body, _ = await get(session, f"{url}/readyz")
            assert status == 503
            assert body["status"] == "not_ready"
            assert body["swarm"] == "running"
            assert body["reason"].startswith("agents not READY: ")
            assert {a["agent"] for a in body["agents"]} == {"scribe", "herald"}
            assert any(a["state"] != "ready" for a in body["agents"])
            assert not any(token in str(body) for token in tokens)
            assert (await get(session, f"{url}/healthz"))[0] == 200

            await control.end_outage()
            with anyio.fail_after(15, reason="readyz never came back to 200 after the outage"):
                while (await get(session, f"{url}/readyz"))[0] != 200:  # noqa: ASYNC110 - polls the endpoint
                    await anyio.sleep(0.05)

            await metrics.refresh()
            status, text, content_type = await get(session, f"{url}/metrics")
            assert status == 200
            assert content_type.startswith("text/plain; version=")
            families = {f.name: f for f in text_string_to_metric_families(text)}
            ready = {
                s.labels["agent"]: s.value
                for s in families["mcp_discord_gateway_state"].samples
                if s.labels["state"] == "ready"
            }
            assert ready == {"scribe": 1.0, "herald": 1.0}
            assert "mcp_discord_outbox_pending" in families
            assert not any(token in text for token in tokens)

            await swarm.stop()
            status, body, _ = await get(session, f"{url}/readyz")
            assert (status, body["reason"]) == (503, "the swarm is stopped")
            assert (await get(session, f"{url}/healthz"))[0] == 200
