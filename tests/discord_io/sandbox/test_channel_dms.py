"""Direct messages end to end through discord.py: open, send, read history, the dispatches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]
NO_DMS = discord.Intents.default()
NO_DMS.dm_messages = False


def _user_id(sandbox: Sandbox, name: str) -> int:
    return next(u.id for u in sandbox.state.users.values() if u.username == name)


async def test_send_and_read_back_a_dm(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """user.send opens the DM; dm.history reads it back; a human's reply reaches the bot."""
    with anyio.fail_after(20):
        async with connect("sentinel", intents=discord.Intents.default()) as client:
            bob_id = _user_id(sandbox, "bob")
            bob = await client.fetch_user(bob_id)
            first = await bob.send("hello bob")
            dm = first.channel
            assert isinstance(dm, discord.DMChannel)
            assert (await client.create_dm(bob)).id == dm.id  # one DM per pair
            sandbox.state.create_message(bob_id, dm.id, content="hi bot, secret plans")
            await eventually_fn(lambda: any(m.author.id == bob_id for m in client.messages))
            reply = next(m for m in client.messages if m.author.id == bob_id)
            assert isinstance(reply.channel, discord.DMChannel)
            assert reply.content == "hi bot, secret plans"  # DMs are exempt from content intent
            history = [m.content async for m in dm.history(limit=10)]
            assert history == ["hi bot, secret plans", "hello bob"]
            fetched = await client.fetch_channel(dm.id)
            assert isinstance(fetched, discord.DMChannel)
            assert fetched.recipient is not None
            assert fetched.recipient.id == bob_id


async def test_dm_dispatch_needs_direct_messages_intent(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """Without DIRECT_MESSAGES a bot hears no MESSAGE_CREATE for its DMs (guild ones still)."""
    with anyio.fail_after(20):
        async with connect("sentinel", intents=NO_DMS) as client:
            carol_id = _user_id(sandbox, "carol")
            sent = await (await client.fetch_user(carol_id)).send("ping")
            sandbox.state.create_message(carol_id, sent.channel.id, content="pong")
            guild_channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(guild_channel, discord.TextChannel)
            marker = await guild_channel.send("later guild message")
            await eventually_fn(lambda: any(m.id == marker.id for m in client.messages))
            assert not [m for m in client.messages if isinstance(m.channel, discord.DMChannel)]


async def test_dm_with_unknown_user_is_10013(sandbox: Sandbox, connect) -> None:
    """Opening a DM with a user who does not exist is 404 10013."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            with pytest.raises(discord.NotFound) as caught:
                await client.create_dm(discord.Object(id=123456789012345678))
            assert caught.value.code == 10013
