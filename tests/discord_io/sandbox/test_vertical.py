"""The vertical slice: a real discord.py client logs in, reaches READY and talks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]


async def test_client_reaches_ready_with_the_seeded_guild(sandbox: Sandbox, connect) -> None:
    """discord.py logs in, gets READY and one GUILD_CREATE, and sees the guild's channels."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            assert client.user is not None
            assert client.user.name == "scribe"
            (guild,) = client.guilds
            assert guild.name == "Sandbox Guild"
            names = {c.name for c in guild.channels}
            assert {"general", "bot-lab", "ideas", "Lounge", "Text Channels"} <= names
            assert isinstance(guild.get_channel(sandbox.channel_id("ideas")), discord.ForumChannel)
            assert guild.chunked
            assert guild.get_member(client.user.id) is not None
            (connection,) = sandbox.gateway.connections
            assert connection.compression == "zlib-stream"  # discord.py asked for it


async def test_second_bot_receives_message_create(
    sandbox: Sandbox, connect, eventually_fn: Callable[..., Awaitable[None]]
) -> None:
    """A message sent by one bot reaches another bot over the gateway, content included."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as sender:
            async with connect(
                "herald", intents=discord.Intents.default() | discord.Intents(message_content=True)
            ) as reader:
                channel = sender.get_channel(sandbox.channel_id("bot-lab"))
                assert isinstance(channel, discord.TextChannel)
                sent = await channel.send("hello from scribe")
                await eventually_fn(lambda: any(m.id == sent.id for m in reader.messages))
                got = next(m for m in reader.messages if m.id == sent.id)
                assert got.content == "hello from scribe"
                assert got.author.id == sender.user.id
                assert isinstance(got.channel, discord.TextChannel)
