"""Guild voice states, active threads and the guild's webhook list, through discord.py."""

from __future__ import annotations

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import grant, raw_request
from tests.discord_io.sandbox.guild_helpers import client_guild, seed_guild, user_id

from discord_io.sandbox import Sandbox
from discord_io.sandbox._model import VoiceState, Webhook

pytestmark = [pytest.mark.anyio]


async def test_seed_voice_states_arrive_in_guild_create(sandbox: Sandbox, connect) -> None:
    """bob sits in Lounge in the seed; GUILD_CREATE's voice_states tell discord.py so."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            bob = guild.get_member(user_id(sandbox, "bob"))
            assert bob is not None
            assert bob.voice is not None
            assert bob.voice.channel is not None
            assert bob.voice.channel.id == sandbox.channel_id("Lounge")


async def test_fetch_voice_states(sandbox: Sandbox, connect) -> None:
    """GET /voice-states/{user_id} and /@me; not connected is 404 10065."""
    guild = seed_guild(sandbox)
    scribe = sandbox.bot("scribe").id
    lounge = sandbox.channel_id("Lounge")
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            dguild = client_guild(client, sandbox)
            bob = await dguild.fetch_member(user_id(sandbox, "bob"))
            state = await bob.fetch_voice()
            assert state.channel is not None
            assert state.channel.id == lounge
            with pytest.raises(discord.NotFound) as caught:
                await dguild.me.fetch_voice()
            assert caught.value.code == 10065
            guild.voice_states[scribe] = VoiceState(
                user_id=scribe, channel_id=lounge, session_id="s", self_mute=True
            )
            mine = await dguild.me.fetch_voice()
            assert mine.self_mute
            carol = await dguild.fetch_member(user_id(sandbox, "carol"))
            with pytest.raises(discord.NotFound):
                await carol.fetch_voice()


async def test_active_threads_lists_visible_unarchived_threads(sandbox: Sandbox, connect) -> None:
    """GET /threads/active: the seed's thread, with a thread member for joined ones."""
    thread_id = sandbox.channel_id("welcome-thread")
    info = sandbox.state.channels[thread_id].thread
    assert info is not None
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            threads = await guild.active_threads()
            assert [t.id for t in threads] == [thread_id]
            assert threads[0].parent_id == sandbox.channel_id("general")
            info.member_ids.add(client.user.id)
            status, body = await raw_request(sandbox, "GET", f"/guilds/{guild.id}/threads/active")
            assert status == 200
            assert [m["user_id"] for m in body["members"]] == [str(client.user.id)]
            info.archived = True
            assert await guild.active_threads() == []


async def test_guild_webhooks_need_manage_webhooks(sandbox: Sandbox, connect) -> None:
    """guild.webhooks() lists every channel's webhooks; without MANAGE_WEBHOOKS it is 403."""
    guild = seed_guild(sandbox)
    alice = user_id(sandbox, "alice")
    for name in ("general", "bot-lab"):
        hook = Webhook(
            id=sandbox.state.snowflakes.next(),
            channel_id=sandbox.channel_id(name),
            guild_id=guild.id,
            name=f"{name}-hook",
            token="t0k3n",
            user_id=alice,
        )
        sandbox.state.webhooks[hook.id] = hook
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            dguild = client_guild(client, sandbox)
            with pytest.raises(discord.Forbidden) as caught:
                await dguild.webhooks()
            assert caught.value.code == 50013
            grant(sandbox, "scribe", "manage_webhooks")
            hooks = await dguild.webhooks()
            assert sorted(h.name for h in hooks) == ["bot-lab-hook", "general-hook"]
            assert {h.channel_id for h in hooks} == {
                sandbox.channel_id("general"),
                sandbox.channel_id("bot-lab"),
            }
