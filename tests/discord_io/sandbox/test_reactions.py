"""Reactions through real discord.py objects: add, remove, list users, clear, dispatches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, raw_request

from discord_io.sandbox import Sandbox
from discord_io.sandbox import _reaction_ops as ops

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]
NO_REACTIONS = discord.Intents.default()
NO_REACTIONS.guild_reactions = False
NO_REACTIONS.dm_reactions = False


async def _text(client: discord.Client, sandbox: Sandbox, name: str) -> discord.TextChannel:
    channel = client.get_channel(sandbox.channel_id(name))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_add_list_and_remove_own_reaction(sandbox: Sandbox, connect) -> None:
    """A reaction shows in the message's reactions (count, me) and in reaction.users()."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = await _text(client, sandbox, "bot-lab")
            sent = await channel.send("react to me")
            await sent.add_reaction("👍")
            await sent.add_reaction("👍")  # twice is a no-op
            await sent.add_reaction("party:123456789012345678")
            fetched = await channel.fetch_message(sent.id)
            counts = {str(r.emoji): (r.count, r.me) for r in fetched.reactions}
            assert counts == {"👍": (1, True), "<:party:123456789012345678>": (1, True)}
            thumbs = next(r for r in fetched.reactions if str(r.emoji) == "👍")
            assert [u.id async for u in thumbs.users()] == [client.user.id]
            await sent.remove_reaction("👍", client.user)
            fetched = await channel.fetch_message(sent.id)
            assert [str(r.emoji) for r in fetched.reactions] == ["<:party:123456789012345678>"]


async def test_reaction_dispatches_reach_bots_with_the_intent(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """ADD/REMOVE/REMOVE_EMOJI/REMOVE_ALL reach a bot with the reactions intent, not one without."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as actor:
            async with connect("herald", enable_debug_events=True) as watcher:
                async with connect(
                    "courier", intents=NO_REACTIONS, enable_debug_events=True
                ) as deaf:
                    seen, unseen = RawEvents(watcher), RawEvents(deaf)
                    channel = await _text(actor, sandbox, "general")
                    sent = await channel.send("vote")
                    await sent.add_reaction("✅")
                    await sent.remove_reaction("✅", actor.user)
                    await sent.add_reaction("❌")
                    await sent.clear_reaction("❌")
                    await sent.add_reaction("🔥")
                    await sent.clear_reactions()
                    await eventually_fn(lambda: seen.of("MESSAGE_REACTION_REMOVE_ALL") != [])
                    (added, *_) = seen.of("MESSAGE_REACTION_ADD")
                    assert added["emoji"] == {"id": None, "name": "✅"}
                    assert added["user_id"] == str(actor.user.id)
                    assert added["message_author_id"] == str(actor.user.id)
                    assert added["member"]["user"]["id"] == str(actor.user.id)
                    assert seen.of("MESSAGE_REACTION_REMOVE")[0]["emoji"]["name"] == "✅"
                    assert seen.of("MESSAGE_REACTION_REMOVE_EMOJI")[0]["emoji"]["name"] == "❌"
                    reactions = [n for n in seen.names() if n.startswith("MESSAGE_REACTION")]
                    assert reactions == [
                        "MESSAGE_REACTION_ADD",
                        "MESSAGE_REACTION_REMOVE",
                        "MESSAGE_REACTION_ADD",
                        "MESSAGE_REACTION_REMOVE_EMOJI",
                        "MESSAGE_REACTION_ADD",
                        "MESSAGE_REACTION_REMOVE_ALL",
                    ]
                    await channel.send("sync")  # a later event: the deaf bot is caught up
                    await eventually_fn(lambda: unseen.of("MESSAGE_CREATE") != [])
                    assert not [n for n in unseen.names() if n.startswith("MESSAGE_REACTION")]


async def test_removing_someone_elses_reaction_needs_manage_messages(
    sandbox: Sandbox, connect
) -> None:
    """Without MANAGE_MESSAGES removing another's reaction or clearing is 403 50013."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as moderator:
            async with connect("sentinel") as plain:
                channel = await _text(moderator, sandbox, "bot-lab")
                sent = await channel.send("mine")
                await sent.add_reaction("🙂")
                theirs = await (await _text(plain, sandbox, "bot-lab")).fetch_message(sent.id)
                await theirs.add_reaction("🙂")  # joining an existing reaction
                for attempt in (
                    theirs.remove_reaction("🙂", moderator.user),
                    theirs.clear_reactions(),
                    theirs.clear_reaction("🙂"),
                ):
                    with pytest.raises(discord.Forbidden) as caught:
                        await attempt
                    assert caught.value.code == 50013
                await sent.remove_reaction("🙂", plain.user)  # the moderator may
                fetched = await channel.fetch_message(sent.id)
                assert [(r.count, r.me) for r in fetched.reactions] == [(1, True)]


async def test_new_reaction_needs_add_reactions(sandbox: Sandbox, connect) -> None:
    """With ADD_REACTIONS denied a bot can join a reaction but not start one (50013)."""
    everyone = next(iter(sandbox.state.guilds.values())).everyone_role
    everyone.permissions &= ~(1 << 6)  # add_reactions
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = await _text(client, sandbox, "bot-lab")
            sent = await channel.send("no new emoji")
            with pytest.raises(discord.Forbidden) as caught:
                await sent.add_reaction("🆕")
            assert caught.value.code == 50013


async def test_bad_emoji_and_limits(sandbox: Sandbox, connect) -> None:
    """Plain text is 10014 Unknown Emoji; a 21st distinct emoji is 30010; limit is checked."""
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = await _text(client, sandbox, "bot-lab")
            sent = await channel.send("many")
            with pytest.raises(discord.NotFound) as unknown:
                await sent.add_reaction("notanemoji")
            assert unknown.value.code == 10014
            await sent.add_reaction("e0:100000000000000000")
            for i in range(1, 20):  # the rest without waiting out the reaction bucket
                emoji = ops.parse_emoji(f"e{i}:{100000000000000000 + i}")
                ops.add_reaction(sandbox.state, client.user.id, channel.id, sent.id, emoji)
            with pytest.raises(discord.HTTPException) as full:
                await sent.add_reaction("🎉")
            assert full.value.status == 400
            assert full.value.code == 30010
            path = f"/channels/{channel.id}/messages/{sent.id}/reactions/e0:100000000000000000"
            status, body = await raw_request(sandbox, "GET", path, params={"limit": "101"})
            assert status == 400
            assert body["code"] == 50035
            assert "limit" in body["errors"]


async def test_reactions_in_a_dm(sandbox: Sandbox, connect, eventually_fn: Eventually) -> None:
    """A bot reacts in its DM; the dispatch carries no guild_id; clearing in a DM is 50003."""
    with anyio.fail_after(20):
        async with connect(
            "scribe", intents=discord.Intents.all(), enable_debug_events=True
        ) as client:
            events = RawEvents(client)
            alice = next(u for u in sandbox.state.users.values() if u.username == "alice")
            user = await client.fetch_user(alice.id)
            sent = await user.send("hi alice")
            await sent.add_reaction("👋")
            await eventually_fn(lambda: events.of("MESSAGE_REACTION_ADD") != [])
            assert "guild_id" not in events.of("MESSAGE_REACTION_ADD")[0]
            with pytest.raises(discord.Forbidden) as caught:
                await sent.clear_reactions()
            assert caught.value.code == 50003
