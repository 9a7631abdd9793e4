"""Intents as Discord enforces them: content blanking, privileged intents, bad tokens, chunks."""

from __future__ import annotations

import anyio
import discord
import pytest

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

NO_CONTENT = discord.Intents.default()
CONTENT = discord.Intents.default() | discord.Intents(message_content=True)


def _alice(sandbox: Sandbox) -> int:
    return next(u.id for u in sandbox.state.users.values() if u.username == "alice")


async def test_content_blanked_without_message_content(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """Without message_content a bot gets MESSAGE_CREATE with empty content; with it, the text."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as reader:
            async with connect("sentinel", intents=NO_CONTENT) as blind:
                channel_id = sandbox.channel_id("general")
                message, _ = sandbox.state.create_message(
                    _alice(sandbox), channel_id, content="secret plans"
                )
                await eventually_fn(lambda: any(m.id == message.id for m in blind.messages))
                await eventually_fn(lambda: any(m.id == message.id for m in reader.messages))
                assert next(m for m in blind.messages if m.id == message.id).content == ""
                assert next(m for m in reader.messages if m.id == message.id).content == (
                    "secret plans"
                )


async def test_mentioned_bot_sees_content_without_the_intent(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """Discord shows content to a bot that is mentioned even without message_content."""
    with anyio.fail_after(15):
        async with connect("sentinel", intents=NO_CONTENT) as blind:
            text = f"<@{blind.user.id}> are you there?"
            message, _ = sandbox.state.create_message(
                _alice(sandbox), sandbox.channel_id("general"), content=text
            )
            await eventually_fn(lambda: any(m.id == message.id for m in blind.messages))
            got = next(m for m in blind.messages if m.id == message.id)
            assert got.content == text
            assert blind.user in got.mentions


async def test_rest_blanks_content_for_bots_without_the_grant(sandbox: Sandbox, connect) -> None:
    """Fetching another user's message over REST without the granted intent shows no content."""
    with anyio.fail_after(15):
        async with connect("sentinel", intents=NO_CONTENT) as blind:
            channel_id = sandbox.channel_id("general")
            message, _ = sandbox.state.create_message(_alice(sandbox), channel_id, content="hush")
            channel = blind.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            fetched = await channel.fetch_message(message.id)
            assert fetched.content == ""
            own = await channel.send("mine")
            assert (await channel.fetch_message(own.id)).content == "mine"


async def test_channel_hidden_by_overwrite_is_missing_access(sandbox: Sandbox, connect) -> None:
    """A bot denied view_channel neither sees the channel nor may post to it (50001)."""
    with anyio.fail_after(15):
        async with connect("sentinel", intents=NO_CONTENT) as client:
            staff = sandbox.channel_id("staff")
            assert client.get_channel(staff) is None
            with pytest.raises(discord.Forbidden) as caught:
                await client.http.send_message(
                    staff, params=discord.http.handle_message_parameters("hi")
                )
            assert caught.value.code == 50001


async def test_bad_token_is_login_failure(sandbox: Sandbox) -> None:
    """An unknown token fails login with LoginFailure (401 on GET /users/@me)."""
    client = discord.Client(intents=discord.Intents.default())
    try:
        with anyio.fail_after(10), pytest.raises(discord.LoginFailure):
            await client.login("MTIz.not.a-real-token")
    finally:
        await client.close()


async def test_privileged_intent_not_granted_raises(sandbox: Sandbox) -> None:
    """Asking for members without the grant closes the gateway with 4014."""
    client = discord.Client(intents=discord.Intents.default() | discord.Intents(members=True))
    try:
        with anyio.fail_after(10), pytest.raises(discord.PrivilegedIntentsRequired):
            await client.start(sandbox.bot("sentinel").token)
    finally:
        await client.close()


async def test_members_intent_without_presences_chunks_the_guild(sandbox: Sandbox, connect) -> None:
    """With members but not presences, discord.py requests members and gets every one."""
    with anyio.fail_after(15):
        intents = discord.Intents.default() | discord.Intents(members=True)
        async with connect("courier", intents=intents) as client:
            (guild,) = client.guilds
            assert guild.chunked
            assert {m.name for m in guild.members} >= {"alice", "bob", "carol", "scribe"}


async def test_presence_update_from_a_bot_reaches_peers(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """A bot's op 3 presence reaches other bots with the presences intent."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as watcher:
            async with connect("herald", intents=CONTENT) as actor:
                await actor.change_presence(status=discord.Status.dnd)
                (guild,) = watcher.guilds

                def herald_dnd() -> bool:
                    member = guild.get_member(actor.user.id)
                    return member is not None and member.status is discord.Status.dnd

                await eventually_fn(herald_dnd)
