"""server_status against the sandbox: agents, outbox, egress, event hub, no secrets."""

from __future__ import annotations

import json

import anyio
import pytest
from tests.mcp_edge.tools.conftest import GRANTED, Edge

from mcp_edge.tools.status import redact

pytestmark = [pytest.mark.anyio]


def test_redact_hides_token_shapes() -> None:
    """Anything shaped like a bot token is replaced; ordinary text is kept."""
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123"
    assert redact(f"login failed with {token}!") == "login failed with [redacted]!"
    assert redact("agent 'scribe' is not connected") == "agent 'scribe' is not connected"
    assert redact(None) is None


async def test_status_reports_every_agent(edge: Edge) -> None:
    """Every agent is reported ready, with its counters, and the caller is named."""
    status = await edge.ok("server_status")
    assert status["agent"] == "scribe"
    assert status["version"] == edge.runtime.version
    assert status["sandbox"] is edge.runtime.sandbox
    assert status["swarm_state"] == "running"
    assert status["uptime_seconds"] >= 0
    assert status["started_at"].endswith("Z")
    agents = {a["name"]: a for a in status["agents"]}
    assert set(agents) == set(GRANTED)
    for agent in agents.values():
        assert agent["state"] == "ready"
        assert agent["readies"] >= 1
        assert agent["accepting_sends"] is True
        assert agent["outbox_pending"] == 0
        assert agent["last_error"] is None
    assert status["egress"]["invalid_requests_limit"] > 0
    assert status["events"]["logged"] >= 1


async def test_status_names_the_caller(edge: Edge) -> None:
    """Calls made as herald report herald as the caller."""
    async with edge.as_agent("herald"):
        status = await edge.ok("server_status")
    assert status["agent"] == "herald"


async def test_status_never_shows_tokens(edge: Edge) -> None:
    """No agent's token appears anywhere in the answer."""
    result = await edge.call("server_status")
    dumped = json.dumps(result.model_dump(mode="json"))
    for name in GRANTED:
        assert edge.sandbox.bot(name).token not in dumped


async def test_queued_sends_show_while_discord_is_down(edge: Edge) -> None:
    """During an outage status still answers: the agent is not ready and its send is pending."""
    general = edge.channel("general")
    edge.sandbox.start_outage()
    try:
        with anyio.fail_after(10):
            # the state has no public event to wait on: poll it
            while edge.swarm.agent("scribe").state.value == "ready":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        sent = await edge.ok(
            "send_message", {"channel_id": general, "content": "later", "delivery": "queued"}
        )
        assert sent["state"] == "queued"
        status = await edge.ok("server_status")
        scribe = next(a for a in status["agents"] if a["name"] == "scribe")
        assert scribe["state"] != "ready"
        assert scribe["outbox_pending"] == 1
        assert "later" not in json.dumps(status)
    finally:
        edge.sandbox.end_outage()
