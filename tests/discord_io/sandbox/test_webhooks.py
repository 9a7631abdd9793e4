"""Channel webhooks through real discord.py: manage them, execute them, their dispatches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
CONTENT = discord.Intents.default() | discord.Intents(message_content=True)
NO_WEBHOOKS = discord.Intents.default()
NO_WEBHOOKS.webhooks = False


def _text(client: discord.Client, sandbox: Sandbox, name: str) -> discord.TextChannel:
    channel = client.get_channel(sandbox.channel_id(name))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_create_list_fetch_edit_delete(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """A webhook's life through discord.py; WEBHOOKS_UPDATE reaches bots with the intent only."""
    grant(sandbox, "scribe", "manage_webhooks")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            async with connect("herald", enable_debug_events=True) as watcher:
                async with connect(
                    "courier", intents=NO_WEBHOOKS, enable_debug_events=True
                ) as deaf:
                    seen, unseen = RawEvents(watcher), RawEvents(deaf)
                    channel = _text(admin, sandbox, "bot-lab")
                    hook = await channel.create_webhook(name="Reporter", avatar=PNG, reason="ci")
                    assert hook.name == "Reporter"
                    assert hook.token is not None
                    assert hook.channel_id == channel.id
                    assert hook.user is not None
                    assert hook.user.id == admin.user.id
                    assert hook.avatar is not None
                    assert [w.id for w in await channel.webhooks()] == [hook.id]
                    fetched = await admin.fetch_webhook(hook.id)
                    assert fetched.name == "Reporter"
                    edited = await fetched.edit(name="Herald of CI")
                    assert edited.name == "Herald of CI"
                    await eventually_fn(lambda: len(seen.of("WEBHOOKS_UPDATE")) >= 2)
                    assert seen.of("WEBHOOKS_UPDATE")[0] == {
                        "guild_id": str(channel.guild.id),
                        "channel_id": str(channel.id),
                    }
                    await edited.delete()
                    with pytest.raises(discord.NotFound) as gone:
                        await admin.fetch_webhook(hook.id)
                    assert gone.value.code == 10015
                    await channel.send("sync")
                    await eventually_fn(lambda: unseen.of("MESSAGE_CREATE") != [])
                    assert unseen.of("WEBHOOKS_UPDATE") == []


async def test_managing_webhooks_needs_manage_webhooks(sandbox: Sandbox, connect) -> None:
    """Without MANAGE_WEBHOOKS: 403 50013; a name with "clyde" or over 80 chars: 400 50035."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = _text(client, sandbox, "bot-lab")
            with pytest.raises(discord.Forbidden) as caught:
                await channel.create_webhook(name="Nope")
            assert caught.value.code == 50013
            with pytest.raises(discord.Forbidden):
                await channel.webhooks()
        grant(sandbox, "scribe", "manage_webhooks")
        for name in ("Clyde helper", "x" * 81):
            status, body = await raw_request(
                sandbox, "POST", f"/channels/{channel.id}/webhooks", json_body={"name": name}
            )
            assert (status, body["code"]) == (400, 50035)
            assert "name" in body["errors"]
        category = sandbox.channel_id("Text Channels")
        status, body = await raw_request(
            sandbox, "POST", f"/channels/{category}/webhooks", json_body={"name": "cat"}
        )
        assert (status, body["code"]) == (400, 50024)


async def test_execute_with_overrides_reaches_other_bots(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """webhook.send with username/avatar_url/embeds posts as the webhook; MESSAGE_CREATE says so."""
    grant(sandbox, "scribe", "manage_webhooks")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            async with connect("herald", intents=CONTENT) as watcher:
                channel = _text(admin, sandbox, "general")
                created = await channel.create_webhook(name="Deployer")
                assert created.token is not None
                async with aiohttp.ClientSession() as http:
                    hook = discord.Webhook.partial(created.id, created.token, session=http)
                    sent = await hook.send(
                        "build green",
                        username="CI Bot",
                        avatar_url="https://example.com/ci.png",
                        embed=discord.Embed(title="#42", description="all passed"),
                        wait=True,
                    )
                    assert sent.webhook_id == created.id
                    assert sent.author.name == "CI Bot"
                    assert sent.author.bot
                    assert sent.embeds[0].title == "#42"
                    assert await hook.send("no wait") is None
                    thread = sandbox.channel_id("welcome-thread")
                    in_thread = await hook.send(
                        "to the thread", thread=discord.Object(thread), wait=True
                    )
                    assert in_thread.channel.id == thread
                    fetched = await discord.Webhook.partial(
                        created.id, created.token, session=http
                    ).fetch()
                    assert fetched.name == "Deployer"
                    bad = discord.Webhook.partial(created.id, "wrong-token", session=http)
                    with pytest.raises(discord.HTTPException) as caught:
                        await bad.send("spoof")
                    assert (caught.value.status, caught.value.code) == (401, 50027)
                    with pytest.raises(discord.HTTPException) as empty:
                        await hook.send(username="Ghost", embeds=[], wait=True, content="")
                    assert empty.value.code in (50006, 50035)
                await eventually_fn(lambda: any(m.id == sent.id for m in watcher.messages))
                got = next(m for m in watcher.messages if m.id == sent.id)
                assert got.webhook_id == created.id
                assert got.author.name == "CI Bot"
                assert got.author.display_avatar is not None
                assert got.content == "build green"
                assert [m.content for m in sandbox.delivered(channel.id)][-2:] == [
                    "build green",
                    "no wait",
                ]
                history = [m async for m in channel.history(limit=2)]
                assert history[-1].author.name == "CI Bot"


async def test_edit_and_delete_webhook_messages(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """WebhookMessage.edit / .delete go through the token routes; other bots hear of both."""
    grant(sandbox, "scribe", "manage_webhooks")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            async with connect("herald", intents=CONTENT) as watcher:
                channel = _text(admin, sandbox, "general")
                created = await channel.create_webhook(name="Editor")
                assert created.token is not None
                async with aiohttp.ClientSession() as http:
                    hook = discord.Webhook.partial(created.id, created.token, session=http)
                    sent = await hook.send("draft", wait=True)
                    edited = await sent.edit(content="final")
                    assert edited.content == "final"
                    assert edited.edited_at is not None
                    assert (await hook.fetch_message(sent.id)).content == "final"
                    other = await channel.send("not the webhook's")
                    with pytest.raises(discord.NotFound) as foreign:
                        await hook.fetch_message(other.id)
                    assert foreign.value.code == 10008
                    await sent.delete()
                    with pytest.raises(discord.NotFound):
                        await hook.fetch_message(sent.id)
                await eventually_fn(lambda: any(d.message_id == sent.id for d in watcher.deletes))
                assert any(
                    e.message_id == sent.id and e.data.get("content") == "final"
                    for e in watcher.edits
                )


async def test_forum_webhook_opens_posts(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """A forum webhook posts with thread_name (a new post) or thread (an existing one)."""
    grant(sandbox, "scribe", "manage_webhooks")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            async with connect("herald", intents=CONTENT) as watcher:
                forum = admin.get_channel(sandbox.channel_id("ideas"))
                assert isinstance(forum, discord.ForumChannel)
                created = await forum.create_webhook(name="Tracker")
                assert created.token is not None
                bug = next(t for t in forum.available_tags if t.name == "bug")
                async with aiohttp.ClientSession() as http:
                    hook = discord.Webhook.partial(created.id, created.token, session=http)
                    with pytest.raises(discord.HTTPException) as nowhere:
                        await hook.send("where does this go?")
                    assert nowhere.value.code == 220001
                    opened = await hook.send(
                        "crash on start", thread_name="Crash report", applied_tags=[bug], wait=True
                    )
                    assert opened.channel.id == opened.id
                    follow = await hook.send(
                        "more logs", thread=discord.Object(opened.id), wait=True
                    )
                    assert follow.channel.id == opened.id
                await eventually_fn(lambda: admin.get_channel(opened.id) is not None)
                post = admin.get_channel(opened.id)
                assert isinstance(post, discord.Thread)
                assert post.name == "Crash report"
                assert [t.id for t in post.applied_tags] == [bug.id]
                await eventually_fn(lambda: any(m.id == follow.id for m in watcher.messages))
