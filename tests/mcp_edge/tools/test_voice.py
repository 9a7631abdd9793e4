"""``list_voice_states`` against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

import anyio
import attrs
import pytest
from tests.mcp_edge.tools.conftest import Edge

from discord_io.sandbox import Guild
from discord_io.sandbox._guild_rules import publish_voice_state
from mcp_edge.policy import AgentPolicy, Policy

pytestmark = [pytest.mark.anyio]


def _guild(edge: Edge) -> Guild:
    (guild,) = edge.sandbox.state.guilds.values()
    return guild


async def test_seeded_bob_is_in_the_lounge(edge: Edge) -> None:
    """The whole list (the gateway's view) shows bob in Lounge, with his names and flags."""
    guild_id = str(_guild(edge).id)
    out = await edge.ok("list_voice_states", {"guild_id": guild_id})
    assert out == {
        "guild_id": guild_id,
        "live": False,
        "voice_states": [
            {
                "channel_id": edge.channel("Lounge"),
                "user_id": str(edge.user_id("bob")),
                "username": "bob",
                "display_name": "Bob",
                "server_mute": False,
                "server_deaf": False,
                "self_mute": False,
                "self_deaf": False,
                "streaming": False,
                "video": False,
                "suppressed": False,
            }
        ],
    }


async def test_one_user_is_asked_live(edge: Edge) -> None:
    """user_id asks Discord now: bob's new self-mute shows; carol, not in voice, is empty."""
    guild = _guild(edge)
    bob = edge.user_id("bob")
    guild.voice_states[bob] = attrs.evolve(guild.voice_states[bob], self_mute=True, mute=True)
    out = await edge.ok("list_voice_states", {"guild_id": str(guild.id), "user_id": str(bob)})
    assert out["live"] is True
    (state,) = out["voice_states"]
    assert (state["user_id"], state["self_mute"], state["server_mute"]) == (str(bob), True, True)
    carol = str(edge.user_id("carol"))
    out = await edge.ok("list_voice_states", {"guild_id": str(guild.id), "user_id": carol})
    assert out["voice_states"] == []


async def test_channel_filter(edge: Edge) -> None:
    """channel_id keeps one voice channel's members: none in a text channel."""
    guild_id = str(_guild(edge).id)
    lounge = await edge.ok(
        "list_voice_states", {"guild_id": guild_id, "channel_id": edge.channel("Lounge")}
    )
    assert len(lounge["voice_states"]) == 1
    general = await edge.ok(
        "list_voice_states", {"guild_id": guild_id, "channel_id": edge.channel("general")}
    )
    assert general["voice_states"] == []


async def test_unknown_guild_says_what_to_do(edge: Edge) -> None:
    """A guild the bot is not in is "not found", pointing at list_guilds (live or not)."""
    text = await edge.error("list_voice_states", {"guild_id": "12345"})
    assert "guild 12345" in text
    assert "list_guilds" in text
    bob = str(edge.user_id("bob"))
    text = await edge.error("list_voice_states", {"guild_id": "12345", "user_id": bob})
    assert "not found" in text
    assert "list_guilds" in text


@pytest.mark.parametrize(
    ("args", "field"),
    [({"guild_id": "abc"}, "guild_id"), ({"user_id": "x1"}, "user_id"), ({}, "guild_id")],
)
async def test_bad_arguments_name_the_field(edge: Edge, args: dict[str, str], field: str) -> None:
    """Malformed ids (or none) are refused before Discord, naming the field."""
    base = {"guild_id": str(_guild(edge).id)} if "guild_id" not in args and args else {}
    text = await edge.error("list_voice_states", {**base, **args})
    assert field in text


async def test_policy_denies_without_the_grant(edge: Edge) -> None:
    """An explicit tools list without list_voice_states refuses it, naming the grant."""
    edge.runtime.policy = Policy.of([AgentPolicy("scribe", explicit=("read_messages",))])
    text = await edge.error("list_voice_states", {"guild_id": str(_guild(edge).id)})
    assert "list_voice_states is not granted" in text
    assert "`tools` list" in text


async def test_gateway_view_follows_voice_updates(edge: Edge) -> None:
    """bob self-mutes after the agent connected: the whole list shows it soon after."""
    guild = _guild(edge)
    bob = edge.user_id("bob")
    voice = guild.voice_states[bob] = attrs.evolve(guild.voice_states[bob], self_mute=True)
    publish_voice_state(edge.sandbox.state, guild, voice)
    with anyio.move_on_after(2):
        while True:
            out = await edge.ok("list_voice_states", {"guild_id": str(guild.id)})
            if out["voice_states"][0]["self_mute"]:
                break
            await anyio.sleep(0.05)
    assert out["voice_states"][0]["self_mute"] is True
