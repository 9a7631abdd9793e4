"""Guild tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

import pytest
from tests.mcp_edge.tools.conftest import Edge

pytestmark = [pytest.mark.anyio]


async def _guild_id(edge: Edge) -> str:
    listed = await edge.ok("list_guilds")
    (guild,) = listed["guilds"]
    return str(guild["id"])


async def test_list_guilds(edge: Edge) -> None:
    """list_guilds gives the seeded guild with its id as a string of digits."""
    listed = await edge.ok("list_guilds")
    (guild,) = listed["guilds"]
    assert guild["name"] == "Sandbox Guild"
    assert isinstance(guild["id"], str)
    assert guild["id"].isdigit()
    assert guild["bot_is_owner"] is False


async def test_get_guild_has_its_channels(edge: Edge) -> None:
    """get_guild returns the guild and its channels by name, type and category."""
    gid = await _guild_id(edge)
    guild = await edge.ok("get_guild", {"guild_id": gid})
    assert guild["id"] == gid
    assert guild["name"] == "Sandbox Guild"
    by_name = {c["name"]: c for c in guild["channels"]}
    assert by_name["general"]["id"] == edge.channel("general")
    assert by_name["general"]["type"] == "text"
    assert by_name["Text Channels"]["type"] == "category"
    assert by_name["general"]["parent_id"] == by_name["Text Channels"]["id"]


async def test_unknown_guild_says_where_ids_come_from(edge: Edge) -> None:
    """A guild the bot is not in names the id and points at list_guilds."""
    text = await edge.error("get_guild", {"guild_id": "123456789"})
    assert "123456789" in text
    assert "list_guilds" in text


async def test_bad_guild_id_names_the_field(edge: Edge) -> None:
    """A guild id that is not digits is refused by the schema, naming the field."""
    text = await edge.error("get_guild", {"guild_id": "Sandbox Guild"})
    assert "guild_id" in text


async def test_every_agent_sees_the_guild(edge: Edge) -> None:
    """The guild list needs no privileged intent: sentinel sees it too."""
    gid = await _guild_id(edge)
    async with edge.as_agent("sentinel"):
        assert await _guild_id(edge) == gid
