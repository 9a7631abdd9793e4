"""Pins through real discord.py: pin, unpin, list (newest first), dispatch, limits, 403."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, raw_request

from discord_io.sandbox import Sandbox
from discord_io.sandbox import _channel_ops as ops

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]
NO_GUILDS = discord.Intents(guild_messages=True)


async def test_pin_unpin_and_list(sandbox: Sandbox, connect, eventually_fn: Eventually) -> None:
    """Pins carry pinned=True, post a pins_add notice, list newest first; unpin removes."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            first, second, third = [await channel.send(f"p{i}") for i in range(3)]
            await first.pin()
            await second.pin(reason="important")
            await third.pin()
            await third.pin()  # pinning twice changes nothing
            notices = [m async for m in channel.history(limit=4)]
            assert [m.type for m in notices[:3]] == [discord.MessageType.pins_add] * 3
            assert notices[3].id == third.id
            assert notices[0].reference is not None
            assert notices[0].reference.message_id == third.id
            assert [m.id async for m in channel.pins()] == [third.id, second.id, first.id]
            assert [m.id async for m in channel.pins(limit=2)] == [third.id, second.id]
            assert [m.id async for m in channel.pins(oldest_first=True)] == [
                first.id,
                second.id,
                third.id,
            ]
            assert (await channel.fetch_message(second.id)).pinned
            await second.unpin()
            assert not (await channel.fetch_message(second.id)).pinned
            assert [m.id async for m in channel.pins()] == [third.id, first.id]
            assert sandbox.state.channels[channel.id].last_pin_timestamp is not None


async def test_pins_update_reaches_bots_with_guilds_intent(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """CHANNEL_PINS_UPDATE goes to bots with the GUILDS intent only."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as actor:
            async with connect("herald", enable_debug_events=True) as watcher:
                async with connect("courier", intents=NO_GUILDS, enable_debug_events=True) as deaf:
                    seen, unseen = RawEvents(watcher), RawEvents(deaf)
                    channel = actor.get_channel(sandbox.channel_id("general"))
                    assert isinstance(channel, discord.TextChannel)
                    sent = await channel.send("pin me")
                    await sent.pin()
                    await eventually_fn(lambda: seen.of("CHANNEL_PINS_UPDATE") != [])
                    (update,) = seen.of("CHANNEL_PINS_UPDATE")
                    assert update["channel_id"] == str(channel.id)
                    assert update["guild_id"] == str(channel.guild.id)
                    assert update["last_pin_timestamp"] is not None
                    await channel.send("sync")
                    await eventually_fn(lambda: len(unseen.of("MESSAGE_CREATE")) >= 2)
                    assert unseen.of("CHANNEL_PINS_UPDATE") == []


async def test_pinning_needs_a_pin_permission(sandbox: Sandbox, connect) -> None:
    """A bot without PIN_MESSAGES or MANAGE_MESSAGES gets 403 50013 and can still list pins."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as mod:
            async with connect("sentinel") as plain:
                channel = mod.get_channel(sandbox.channel_id("bot-lab"))
                assert isinstance(channel, discord.TextChannel)
                sent = await channel.send("hands off")
                theirs = plain.get_channel(channel.id)
                assert isinstance(theirs, discord.TextChannel)
                message = await theirs.fetch_message(sent.id)
                with pytest.raises(discord.Forbidden) as caught:
                    await message.pin()
                assert caught.value.code == 50013
                await sent.pin()
                assert [m.id async for m in theirs.pins()] == [sent.id]


async def test_pin_limit_and_deprecated_routes(sandbox: Sandbox, connect) -> None:
    """Past MAX_PINS a pin is 400 30003; the deprecated /pins routes answer too."""
    with anyio.fail_after(30):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            state = sandbox.state
            for i in range(ops.MAX_PINS):
                message, _ = state.create_message(client.user.id, channel.id, content=f"{i}")
                ops.set_pinned(state, client.user.id, channel.id, message.id, pin=True)
            every = [m.id async for m in channel.pins(limit=None)]  # pages of 50 by pinned_at
            assert len(every) == len(set(every)) == ops.MAX_PINS
            extra = await channel.send("one too many")
            with pytest.raises(discord.HTTPException) as caught:
                await extra.pin()
            assert caught.value.status == 400
            assert caught.value.code == 30003
            base = f"/channels/{channel.id}"
            status, body = await raw_request(sandbox, "GET", f"{base}/pins")
            assert (status, len(body)) == (200, 50)
            status, _ = await raw_request(sandbox, "DELETE", f"{base}/pins/{message.id}")
            assert status == 204
            status, _ = await raw_request(sandbox, "PUT", f"{base}/pins/{extra.id}")
            assert status == 204
            status, body = await raw_request(
                sandbox, "GET", f"{base}/messages/pins", params={"limit": "51"}
            )
            assert status == 400
            assert "limit" in body["errors"]
