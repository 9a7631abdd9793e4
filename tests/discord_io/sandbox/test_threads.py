"""Threads and forum posts through real discord.py: start, talk, join/leave, archive, list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]
CONTENT = discord.Intents.default() | discord.Intents(message_content=True)


def _text(client: discord.Client, sandbox: Sandbox, name: str) -> discord.TextChannel:
    channel = client.get_channel(sandbox.channel_id(name))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_thread_from_message(sandbox: Sandbox, connect, eventually_fn: Eventually) -> None:
    """message.create_thread makes a public thread with the message's id; bots with the
    GUILDS intent hear of it, others do not."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            async with (
                connect("herald", intents=CONTENT, enable_debug_events=True) as watcher,
                connect(
                    "courier",
                    intents=discord.Intents(guild_messages=True),
                    enable_debug_events=True,
                ) as deaf,
            ):
                seen, unseen = RawEvents(watcher), RawEvents(deaf)
                channel = _text(client, sandbox, "general")
                starter = await channel.send("let's discuss")
                thread = await starter.create_thread(name="discussion", auto_archive_duration=60)
                assert thread.id == starter.id
                assert thread.owner_id == client.user.id
                assert thread.type is discord.ChannelType.public_thread
                assert thread.auto_archive_duration == 60
                said = await thread.send("first reply")
                await eventually_fn(lambda: any(m.id == said.id for m in watcher.messages))
                got = next(m for m in watcher.messages if m.id == said.id)
                assert isinstance(got.channel, discord.Thread)
                assert got.channel.parent_id == channel.id
                created = seen.of("THREAD_CREATE")
                assert created[0]["id"] == str(thread.id)
                assert created[0]["newly_created"] is True
                await eventually_fn(
                    lambda: any(d["id"] == str(said.id) for d in unseen.of("MESSAGE_CREATE"))
                )
                assert unseen.of("THREAD_CREATE") == []
                with pytest.raises(discord.HTTPException) as again:
                    await starter.create_thread(name="twice")
                assert (again.value.status, again.value.code) == (400, 160004)
                with pytest.raises(discord.HTTPException) as bad:
                    await (await channel.send("x")).create_thread(name="x" * 101)
                assert (bad.value.code, "name" in bad.value.text) == (50035, True)


async def test_private_thread_membership(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """A private thread is hidden from non-members until they are added; leave/join work."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as owner:
            async with connect("herald", intents=CONTENT, enable_debug_events=True) as other:
                seen = RawEvents(other)
                channel = _text(owner, sandbox, "bot-lab")
                thread = await channel.create_thread(
                    name="secret", type=discord.ChannelType.private_thread
                )
                assert thread.type is discord.ChannelType.private_thread
                with pytest.raises(discord.Forbidden) as hidden:
                    await other.fetch_channel(thread.id)
                assert hidden.value.code == 50001
                assert seen.of("THREAD_CREATE") == []
                joined: list[discord.Thread] = []

                async def on_thread_join(t: discord.Thread) -> None:
                    joined.append(t)

                other.on_thread_join = on_thread_join  # type: ignore[attr-defined]
                herald = channel.guild.get_member(other.user.id)
                assert herald is not None
                await thread.add_user(herald)
                await eventually_fn(lambda: joined != [])
                assert joined[0].id == thread.id
                ids = sorted(m.id for m in await thread.fetch_members())
                assert ids == sorted([owner.user.id, other.user.id])
                theirs = other.get_channel(thread.id)
                assert isinstance(theirs, discord.Thread)
                await theirs.send("thanks for the invite")
                await theirs.leave()
                await eventually_fn(
                    lambda: any("removed_member_ids" in u for u in seen.of("THREAD_MEMBERS_UPDATE"))
                )
                update = seen.of("THREAD_MEMBERS_UPDATE")[-1]
                assert update["removed_member_ids"] == [str(other.user.id)]
                assert [m.id for m in await thread.fetch_members()] == [owner.user.id]
                await thread.join()  # already a member: nothing happens
                with pytest.raises(discord.NotFound) as gone:
                    await thread.fetch_member(other.user.id)
                assert gone.value.code == 10007


async def test_archive_lock_and_archived_lists(sandbox: Sandbox, connect) -> None:
    """edit(archived=True) archives (THREAD_UPDATE); archived threads list; locking needs
    MANAGE_THREADS; an archived thread can only be unarchived (50083)."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = _text(client, sandbox, "bot-lab")
            public = await channel.create_thread(
                name="public one", type=discord.ChannelType.public_thread
            )
            private = await channel.create_thread(name="private one")
            with pytest.raises(discord.Forbidden) as lock:
                await public.edit(locked=True)
            assert lock.value.code == 50013
            archived = await public.edit(archived=True)
            assert archived.archived
            await private.edit(archived=True)
            assert [t.id async for t in channel.archived_threads()] == [public.id]
            assert [t.id async for t in channel.archived_threads(private=True, joined=True)] == [
                private.id
            ]
            with pytest.raises(discord.Forbidden):
                _ = [t async for t in channel.archived_threads(private=True)]
            with pytest.raises(discord.HTTPException) as frozen:
                await archived.edit(name="renamed")
            assert frozen.value.code == 50083
            reopened = await archived.edit(archived=False, name="renamed")
            assert (reopened.archived, reopened.name) == (False, "renamed")
        grant(sandbox, "scribe", "manage_threads")
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = _text(client, sandbox, "bot-lab")
            thread = client.get_channel(reopened.id)
            assert isinstance(thread, discord.Thread)
            locked = await thread.edit(locked=True)
            assert locked.locked
            assert [t.id async for t in channel.archived_threads(private=True)] == [private.id]


async def test_forum_post(sandbox: Sandbox, connect, eventually_fn: Eventually) -> None:
    """forum.create_thread makes a post whose first message shares its id, with tags."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            async with connect("herald", intents=CONTENT) as watcher:
                forum = client.get_channel(sandbox.channel_id("ideas"))
                assert isinstance(forum, discord.ForumChannel)
                feature = next(t for t in forum.available_tags if t.name == "feature")
                post = await forum.create_thread(
                    name="Dark mode", content="Please add dark mode", applied_tags=[feature]
                )
                assert post.thread.id == post.message.id
                assert post.thread.parent_id == forum.id
                assert [t.id for t in post.thread.applied_tags] == [feature.id]
                assert post.message.content == "Please add dark mode"
                await eventually_fn(lambda: any(m.id == post.message.id for m in watcher.messages))
                got = next(m for m in watcher.messages if m.id == post.message.id)
                assert isinstance(got.channel, discord.Thread)
                reply = await post.thread.send("+1")
                assert reply.channel.id == post.thread.id
                status, body = await raw_request(
                    sandbox,
                    "POST",
                    f"/channels/{forum.id}/threads",
                    json_body={"name": "no message"},
                )
                assert (status, body["code"]) == (400, 50035)
                assert "message" in body["errors"]
                status, body = await raw_request(
                    sandbox,
                    "POST",
                    f"/channels/{forum.id}/threads",
                    json_body={
                        "name": "bad tag",
                        "message": {"content": "x"},
                        "applied_tags": ["1"],
                    },
                )
                assert (status, body["code"]) == (400, 50035)
                assert "applied_tags" in body["errors"]


async def test_thread_permissions(sandbox: Sandbox, connect) -> None:
    """Without CREATE_PUBLIC_THREADS / SEND_MESSAGES_IN_THREADS the calls are 403 50013."""
    guild = next(iter(sandbox.state.guilds.values()))
    guild.everyone_role.permissions &= ~((1 << 35) | (1 << 38))
    with anyio.fail_after(20):
        async with connect("sentinel") as client:
            channel = _text(client, sandbox, "bot-lab")
            starter = await channel.send("no threads for me")
            with pytest.raises(discord.Forbidden) as create:
                await starter.create_thread(name="nope")
            assert create.value.code == 50013
            thread = client.get_channel(sandbox.channel_id("welcome-thread"))
            assert isinstance(thread, discord.Thread)
            with pytest.raises(discord.Forbidden) as send:
                await thread.send("hello?")
            assert send.value.code == 50013


async def test_remove_member_and_delete_thread(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """Removing someone needs MANAGE_THREADS (or owning the private thread); deleting a
    thread needs MANAGE_THREADS and dispatches THREAD_DELETE; archived threads are frozen."""
    with anyio.fail_after(25):
        async with connect("herald", intents=CONTENT, enable_debug_events=True) as other:
            seen = RawEvents(other)
            async with connect("scribe", intents=discord.Intents.all()) as owner:
                channel = _text(owner, sandbox, "bot-lab")
                public = await channel.create_thread(
                    name="crowd", type=discord.ChannelType.public_thread
                )
                herald = channel.guild.get_member(other.user.id)
                assert herald is not None
                await public.add_user(herald)
                with pytest.raises(discord.Forbidden) as remove:
                    await public.remove_user(herald)  # public thread, no MANAGE_THREADS
                assert remove.value.code == 50013
                private = await channel.create_thread(name="mine")
                await private.add_user(herald)
                await private.remove_user(herald)  # the private thread's owner may
                with pytest.raises(discord.Forbidden) as delete:
                    await public.delete()
                assert delete.value.code == 50013
                said = await public.send("react to me")
                await public.edit(archived=True)
                with pytest.raises(discord.HTTPException) as frozen:
                    await said.add_reaction("❄️")
                assert frozen.value.code == 50083
            grant(sandbox, "scribe", "manage_threads")
            async with connect("scribe", intents=discord.Intents.all()) as moderator:
                thread = await moderator.fetch_channel(public.id)
                assert isinstance(thread, discord.Thread)
                await thread.delete()
                with pytest.raises(discord.NotFound):
                    await moderator.fetch_channel(public.id)
            await eventually_fn(lambda: seen.of("THREAD_DELETE") != [])
            (deleted,) = seen.of("THREAD_DELETE")
            assert deleted["id"] == str(public.id)
            assert deleted["parent_id"] == str(channel.id)


async def test_forum_tags_can_be_edited(sandbox: Sandbox, connect) -> None:
    """forum.edit(available_tags=...) keeps existing tag ids and gives new tags ids."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            forum = client.get_channel(sandbox.channel_id("ideas"))
            assert isinstance(forum, discord.ForumChannel)
            kept = [t for t in forum.available_tags if t.name != "question"]
            edited = await forum.edit(
                available_tags=[*kept, discord.ForumTag(name="docs", moderated=True)]
            )
            names = {t.name: t for t in edited.available_tags}
            assert set(names) == {"feature", "bug", "docs"}
            assert {names["feature"].id, names["bug"].id} == {t.id for t in kept}
            assert names["docs"].moderated
            with pytest.raises(discord.HTTPException) as bad:
                await forum.edit(available_tags=[discord.ForumTag(name="x" * 21)])
            assert bad.value.code == 50035


async def test_sending_reopens_an_archived_thread(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """A message to an archived thread unarchives it; a locked one takes only moderators."""
    with anyio.fail_after(25):
        async with connect("herald", enable_debug_events=True) as watcher:
            seen = RawEvents(watcher)
            async with connect("scribe", intents=discord.Intents.all()) as client:
                channel = _text(client, sandbox, "general")
                thread = await channel.create_thread(
                    name="sleepy", type=discord.ChannelType.public_thread
                )
                await thread.edit(archived=True)
                await thread.send("wake up")
                info = sandbox.state.channels[thread.id].thread
                assert info is not None
                assert not info.archived
                await eventually_fn(
                    lambda: any(
                        not u["thread_metadata"]["archived"] for u in seen.of("THREAD_UPDATE")
                    )
                )
            grant(sandbox, "scribe", "manage_threads")
            async with connect("scribe", intents=discord.Intents.all()) as moderator:
                mod_thread = moderator.get_channel(thread.id)
                assert isinstance(mod_thread, discord.Thread)
                await mod_thread.edit(locked=True)
                await mod_thread.send("moderators may still talk")
                theirs = watcher.get_channel(thread.id)
                assert isinstance(theirs, discord.Thread)
                with pytest.raises(discord.Forbidden):
                    await theirs.send("locked out")
