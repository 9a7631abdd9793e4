"""Bulk delete through real discord.py: purge / delete_messages, the dispatch, its rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]


async def test_purge_bulk_deletes_and_dispatches(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """purge() removes the messages; a bot with GUILD_MESSAGES gets one MESSAGE_DELETE_BULK,
    one without gets none."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            async with (
                connect("herald", enable_debug_events=True) as watcher,
                connect(
                    "courier", intents=discord.Intents(guilds=True), enable_debug_events=True
                ) as deaf,
            ):
                seen, unseen = RawEvents(watcher), RawEvents(deaf)
                channel = client.get_channel(sandbox.channel_id("general"))
                assert isinstance(channel, discord.TextChannel)
                keep = await channel.send("keep")
                doomed = [await channel.send(f"d{i}") for i in range(5)]
                removed = await channel.purge(limit=5, after=keep)
                assert sorted(m.id for m in removed) == sorted(m.id for m in doomed)
                await eventually_fn(lambda: seen.of("MESSAGE_DELETE_BULK") != [])
                (event,) = seen.of("MESSAGE_DELETE_BULK")
                assert sorted(map(int, event["ids"])) == sorted(m.id for m in doomed)
                assert event["channel_id"] == str(channel.id)
                history = [m.id async for m in channel.history(limit=10)]
                assert keep.id in history
                assert not set(history) & {m.id for m in doomed}
                await channel.edit(topic="sync")  # a later GUILDS event the deaf bot does get
                await eventually_fn(lambda: unseen.of("CHANNEL_UPDATE") != [])
                assert unseen.of("MESSAGE_DELETE_BULK") == []


async def test_bulk_delete_needs_manage_messages(sandbox: Sandbox, connect) -> None:
    """A bot without MANAGE_MESSAGES gets 403 50013."""
    with anyio.fail_after(20):
        async with connect("sentinel") as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            sent = [await channel.send(f"x{i}") for i in range(2)]
            with pytest.raises(discord.Forbidden) as caught:
                await channel.delete_messages(sent)
            assert caught.value.code == 50013


async def test_bulk_delete_rejects_old_messages_and_bad_counts(sandbox: Sandbox, connect) -> None:
    """Messages over 14 days old are 400 50034; fewer than 2 or more than 100 ids are 50035."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("general"))
            assert isinstance(channel, discord.TextChannel)
            (seeded,) = [m async for m in channel.history(limit=1, oldest_first=True)]
            fresh = await channel.send("new")
            with pytest.raises(discord.HTTPException) as caught:
                await channel.delete_messages([seeded, fresh])
            assert caught.value.status == 400
            assert caught.value.code == 50034
            assert (await channel.fetch_message(fresh.id)).id == fresh.id  # nothing deleted
            path = f"/channels/{channel.id}/messages/bulk-delete"
            for ids in ([str(fresh.id)], [str(fresh.id + i) for i in range(101)]):
                status, body = await raw_request(sandbox, "POST", path, json_body={"messages": ids})
                assert status == 400
                assert body["code"] == 50035
                assert "messages" in body["errors"]
