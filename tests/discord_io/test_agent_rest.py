"""AgentClient.rest (any REST route, typed errors, audit-log reasons) and set_presence."""

from __future__ import annotations

import anyio
import pytest
from tests.discord_io.agent_helpers import make_agent, running

from actors.discord_port import DiscordForbidden, DiscordNotFound
from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]


def _guild(sandbox: Sandbox) -> int:
    return next(iter(sandbox.state.guilds))


async def test_rest_reads_and_writes_with_a_reason(sandbox: Sandbox) -> None:
    """rest() reads a route, and a write's reason lands in the guild's audit log."""
    guild = _guild(sandbox)
    async with running(make_agent(sandbox, "scribe")) as agent:
        with anyio.fail_after(10):
            roles = await agent.rest(
                "GET", "/guilds/{guild_id}/roles", action="list roles", ids={"guild_id": guild}
            )
            await agent.rest(
                "PATCH",
                "/guilds/{guild_id}/members/@me",
                action="change its nickname",
                json={"nick": "Scribe Bot"},
                reason="rename for the demo",
                ids={"guild_id": guild},
            )
    assert {r["name"] for r in roles} >= {"@everyone", "moderator", "agents"}
    reasons = [entry.reason for entry in sandbox.state.guilds[guild].audit_log]
    assert "rename for the demo" in reasons


async def test_rest_errors_are_typed(sandbox: Sandbox) -> None:
    """A 403 names the permission given; a 404 names the thing that was not found."""
    guild = _guild(sandbox)
    async with running(make_agent(sandbox, "sentinel")) as agent:
        with anyio.fail_after(10), pytest.raises(DiscordForbidden, match="manage_roles"):
            await agent.rest(
                "POST",
                "/guilds/{guild_id}/roles",
                action=f"create a role in guild {guild}",
                json={"name": "nope"},
                permission="manage_roles",
                ids={"guild_id": guild},
                reason="test",
            )
        with anyio.fail_after(10), pytest.raises(DiscordNotFound, match="channel"):
            await agent.rest(
                "GET",
                "/channels/{channel_id}",
                action="see a channel",
                what="channel 1",
                ids={"channel_id": 1},
            )


async def test_set_presence_reaches_the_gateway(sandbox: Sandbox) -> None:
    """set_presence sends op 3: the sandbox sees the bot's new status and activity."""
    async with running(make_agent(sandbox, "herald")) as agent:
        await agent.set_presence("dnd", "triaging issues")
        user = sandbox.bot("herald").user
        with anyio.fail_after(5):
            while user.status != "dnd":  # noqa: ASYNC110 - the sandbox's state, same loop
                await anyio.sleep(0.01)
        assert any(
            a.get("state") == "triaging issues" or a.get("name") == "triaging issues"
            for a in user.activities
        )
        with pytest.raises(ValueError, match="online, idle, dnd or invisible"):
            await agent.set_presence("busy")
