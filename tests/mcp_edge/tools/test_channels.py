"""Channel tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

from typing import get_args

import anyio
import pytest
from tests.mcp_edge.tools.conftest import Edge

from actors.discord_port import ChannelKind
from mcp_edge.tools._types import ChannelType

pytestmark = [pytest.mark.anyio]


async def _guild_id(edge: Edge) -> str:
    listed = await edge.ok("list_guilds")
    return str(listed["guilds"][0]["id"])


def test_channel_type_names_match_discord_kinds() -> None:
    """The schema's channel type names are exactly ChannelKind's, lower case."""
    assert set(get_args(ChannelType)) == {k.name.lower() for k in ChannelKind}


async def test_list_channels(edge: Edge) -> None:
    """list_channels gives every seeded channel with string ids and named types."""
    gid = await _guild_id(edge)
    listed = await edge.ok("list_channels", {"guild_id": gid})
    assert listed["guild_id"] == gid
    types = {c["name"]: c["type"] for c in listed["channels"]}
    assert types["general"] == "text"
    assert types["announcements"] == "announcement"
    assert types["ideas"] == "forum"
    assert types["Lounge"] == "voice"
    assert all(c["id"].isdigit() and c["guild_id"] == gid for c in listed["channels"])


async def test_type_filter(edge: Edge) -> None:
    """types keeps only channels of those types."""
    gid = await _guild_id(edge)
    listed = await edge.ok("list_channels", {"guild_id": gid, "types": ["text", "announcement"]})
    assert {c["type"] for c in listed["channels"]} == {"text", "announcement"}
    assert "general" in {c["name"] for c in listed["channels"]}


async def test_unknown_type_names_the_field(edge: Edge) -> None:
    """A type name that does not exist is refused, naming the field and the valid names."""
    text = await edge.error("list_channels", {"guild_id": await _guild_id(edge), "types": ["txt"]})
    assert "types" in text
    assert "announcement" in text


async def test_get_channel(edge: Edge) -> None:
    """get_channel describes a channel: name, type, topic, category."""
    general = edge.channel("general")
    channel = await edge.ok("get_channel", {"channel_id": general})
    assert channel["id"] == general
    assert channel["name"] == "general"
    assert channel["type"] == "text"
    assert channel["topic"] == "Say hello."
    assert channel["parent_id"] == edge.channel("Text Channels")


async def test_unknown_channel_is_named(edge: Edge) -> None:
    """An unknown channel id is named in the error, with what to do."""
    text = await edge.error("get_channel", {"channel_id": "42"})
    assert "channel 42" in text
    assert "not found" in text
    assert "list_channels" in text


async def test_hidden_channel_names_the_permission(edge: Edge) -> None:
    """sentinel cannot see #staff: the error names view_channel."""
    async with edge.as_agent("sentinel"):
        text = await edge.error("get_channel", {"channel_id": edge.channel("staff")})
    assert "view_channel" in text


async def test_bad_channel_id_names_the_field(edge: Edge) -> None:
    """A non-numeric channel id is refused by the schema, naming the field."""
    text = await edge.error("get_channel", {"channel_id": "#general"})
    assert "channel_id" in text


async def test_rate_limited_says_when_to_retry(edge: Edge) -> None:
    """A long 429 becomes an error with the wait, and the next call works."""
    general = edge.channel("general")
    edge.sandbox.inject_429(route="GET /channels/{channel_id}", retry_after=90.0)
    text = await edge.error("get_channel", {"channel_id": general})
    assert "rate limited" in text
    assert "retry after 90" in text
    assert (await edge.ok("get_channel", {"channel_id": general}))["name"] == "general"


async def test_discord_down_says_to_retry_later(edge: Edge) -> None:
    """While the agent is disconnected a read fails at once, saying to retry later."""
    edge.sandbox.start_outage()
    try:
        with anyio.fail_after(10):
            # the state has no public event to wait on: poll it
            while edge.swarm.agent("scribe").state.value == "ready":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        text = await edge.error("get_channel", {"channel_id": edge.channel("general")})
    finally:
        edge.sandbox.end_outage()
    assert "not connected" in text
    assert "retry" in text
