"""Reaction tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

import pytest
from tests.mcp_edge.tools.conftest import Edge

from discord_io.sandbox._reaction_ops import Emoji, add_reaction
from mcp_edge.tools.reactions import parse_emoji

pytestmark = [pytest.mark.anyio]


def _reactors(edge: Edge, channel: str, message_id: str, key: str) -> list[int]:
    message = next(m for m in edge.sandbox.delivered(int(channel)) if m.id == int(message_id))
    reaction = message.reactions.get(key)
    return [] if reaction is None else list(reaction.user_ids)


def _welcome(edge: Edge) -> tuple[str, str]:
    general = edge.channel("general")
    return general, str(edge.sandbox.delivered(int(general))[0].id)


def test_parse_emoji_forms() -> None:
    """Unicode and name:id pass; chat forms are normalised; shortcodes and blanks are refused."""
    assert parse_emoji("👍") == "👍"
    assert parse_emoji("party:123") == "party:123"
    assert parse_emoji("<:party:123>") == "party:123"
    assert parse_emoji("<a:party:123>") == "party:123"
    for bad in (":thumbsup:", "thumbsup", " ", "a b"):
        with pytest.raises(ValueError, match="emoji"):
            parse_emoji(bad)


async def test_add_then_remove_own(edge: Edge) -> None:
    """The bot reacts, adding again changes nothing, then it removes its reaction."""
    channel, message = _welcome(edge)
    args = {"channel_id": channel, "message_id": message, "emoji": "👍"}
    added = await edge.ok("add_reaction", args)
    assert added == {
        "channel_id": channel,
        "message_id": message,
        "emoji": "👍",
        "user_id": None,
        "present": True,
    }
    await edge.ok("add_reaction", args)
    assert _reactors(edge, channel, message, "👍") == [edge.user_id("scribe")]
    removed = await edge.ok("remove_reaction", args)
    assert removed["present"] is False
    assert _reactors(edge, channel, message, "👍") == []


async def test_remove_someone_elses_needs_manage_messages(edge: Edge) -> None:
    """sentinel may not remove alice's reaction (manage_messages named); scribe may."""
    channel, message = _welcome(edge)
    alice = edge.user_id("alice")
    add_reaction(edge.sandbox.state, alice, int(channel), int(message), Emoji("🎉"))
    args = {"channel_id": channel, "message_id": message, "emoji": "🎉", "user_id": str(alice)}
    async with edge.as_agent("sentinel"):
        text = await edge.error("remove_reaction", args)
    assert "manage_messages" in text
    assert _reactors(edge, channel, message, "🎉") == [alice]
    removed = await edge.ok("remove_reaction", args)
    assert removed["user_id"] == str(alice)
    assert _reactors(edge, channel, message, "🎉") == []


async def test_custom_emoji_chat_form(edge: Edge) -> None:
    """A custom emoji in its chat form <:name:id> reaches Discord as name:id."""
    channel, message = _welcome(edge)
    added = await edge.ok(
        "add_reaction", {"channel_id": channel, "message_id": message, "emoji": "<:blob:4242>"}
    )
    assert added["emoji"] == "blob:4242"
    assert _reactors(edge, channel, message, "blob:4242") == [edge.user_id("scribe")]


async def test_unknown_message_is_named(edge: Edge) -> None:
    """Reacting to a message that does not exist names the message."""
    channel = edge.channel("general")
    text = await edge.error(
        "add_reaction", {"channel_id": channel, "message_id": "99", "emoji": "👍"}
    )
    assert "message 99" in text
    assert "not found" in text


async def test_shortcode_names_the_field(edge: Edge) -> None:
    """A :shortcode: is refused before Discord, naming the emoji argument."""
    channel, message = _welcome(edge)
    text = await edge.error(
        "add_reaction", {"channel_id": channel, "message_id": message, "emoji": ":thumbsup:"}
    )
    assert "emoji" in text
    assert "unicode" in text
