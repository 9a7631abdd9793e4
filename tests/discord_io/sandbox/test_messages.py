"""Messages through real discord.py objects: send, fetch, history, edit, delete, typing, files."""

from __future__ import annotations

import io

import anyio
import discord
import pytest

from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message creates at 5 per 0.2 s: these tests post more than 5 messages to one channel."""
    return SandboxConfig(rate_limits=RateLimitConfig().override("message-create", window=0.2))


CONTENT = discord.Intents.default() | discord.Intents(message_content=True)


async def test_send_fetch_edit_delete_round_trip(sandbox: Sandbox, connect) -> None:
    """A message sent through discord.py can be fetched, edited and deleted."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            sent = await channel.send("first draft")
            fetched = await channel.fetch_message(sent.id)
            assert fetched.content == "first draft"
            assert fetched.author.id == client.user.id
            edited = await sent.edit(content="final words")
            assert edited.content == "final words"
            assert edited.edited_at is not None
            await sent.delete()
            with pytest.raises(discord.NotFound) as caught:
                await channel.fetch_message(sent.id)
            assert caught.value.code == 10008


async def test_history_pages_newest_first_with_before_after_around(
    sandbox: Sandbox, connect
) -> None:
    """History honours limit, before, after and around, as discord.py pages it."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            sent = [await channel.send(f"m{i}") for i in range(7)]
            newest = [m.content async for m in channel.history(limit=3)]
            assert newest == ["m6", "m5", "m4"]
            older = [m.content async for m in channel.history(limit=10, before=sent[3])]
            assert older == ["m2", "m1", "m0"]
            after = [m.content async for m in channel.history(limit=2, after=sent[1])]
            assert after == ["m2", "m3"]  # with after, discord.py yields oldest first
            around = [m.content async for m in channel.history(limit=3, around=sent[3])]
            assert sorted(around) == ["m2", "m3", "m4"]
            everything = [m.content async for m in channel.history(limit=None, oldest_first=True)]
            assert everything == [f"m{i}" for i in range(7)]


async def test_nonce_with_enforce_returns_the_first_message(sandbox: Sandbox, connect) -> None:
    """Two sends with the same nonce create one message (enforce_nonce), delivered once."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel_id = sandbox.channel_id("bot-lab")
            channel = client.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            first = await channel.send("exactly once", nonce="outbox-42")
            second = await channel.send("exactly once", nonce="outbox-42")
            third = await channel.send("another", nonce="outbox-43")
            assert second.id == first.id
            assert third.id != first.id
            assert [m.content for m in sandbox.delivered(channel_id)] == ["exactly once", "another"]


async def test_edit_and_delete_reach_another_bot(sandbox: Sandbox, connect, eventually_fn) -> None:
    """MESSAGE_UPDATE and MESSAGE_DELETE dispatch to other bots in the channel."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as writer:
            async with connect("herald", intents=CONTENT) as watcher:
                channel = writer.get_channel(sandbox.channel_id("general"))
                assert isinstance(channel, discord.TextChannel)
                sent = await channel.send("v1")
                await sent.edit(content="v2")
                await sent.delete()
                await eventually_fn(lambda: any(d.message_id == sent.id for d in watcher.deletes))
                assert any(
                    e.message_id == sent.id and e.data.get("content") == "v2" for e in watcher.edits
                )


async def test_typing_reaches_another_bot(sandbox: Sandbox, connect, eventually_fn) -> None:
    """POST /typing answers 204 and dispatches TYPING_START to bots with the typing intent."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as typist:
            async with connect("herald", intents=CONTENT) as watcher:
                channel = typist.get_channel(sandbox.channel_id("general"))
                assert isinstance(channel, discord.TextChannel)
                await channel.typing()
                await eventually_fn(
                    lambda: any(t.user_id == typist.user.id for t in watcher.typing)
                )


async def test_file_upload_is_stored_and_served(sandbox: Sandbox, connect) -> None:
    """A multipart send (payload_json + files[0]) stores the file and its CDN URL serves it."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            data = b"report,42\n" * 100
            sent = await channel.send(
                "see attached", file=discord.File(io.BytesIO(data), filename="report.csv")
            )
            (attachment,) = sent.attachments
            assert attachment.filename == "report.csv"
            assert attachment.size == len(data)
            assert await attachment.read() == data
            assert sent.content == "see attached"


async def test_reply_references_the_original(sandbox: Sandbox, connect) -> None:
    """A reply carries message_reference and referenced_message."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            original = await channel.send("question?")
            reply = await original.reply("answer!")
            assert reply.type is discord.MessageType.reply
            assert reply.reference is not None
            assert reply.reference.message_id == original.id


async def test_dm_between_bot_and_user(sandbox: Sandbox, connect) -> None:
    """A bot opens a DM with a human (POST /users/@me/channels) and sends into it."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            alice = await client.fetch_user(sandbox.state.bots[client.user.id].id)
            assert alice.bot
            human_id = next(u.id for u in sandbox.state.users.values() if u.username == "alice")
            human = await client.fetch_user(human_id)
            sent = await human.send("psst")
            assert isinstance(sent.channel, discord.DMChannel)
            assert sandbox.delivered(sent.channel.id)[-1].content == "psst"
