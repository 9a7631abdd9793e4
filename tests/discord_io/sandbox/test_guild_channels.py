"""Guild channels through discord.py: create every kind, reorder, CHANNEL_* dispatches, errors."""

from __future__ import annotations

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request
from tests.discord_io.sandbox.guild_helpers import client_guild, seed_guild

from discord_io.sandbox import ChannelType, Sandbox

pytestmark = [pytest.mark.anyio]


async def test_create_text_channel_with_every_option(sandbox: Sandbox, connect) -> None:
    """topic, slowmode, category, overwrites, nsfw and position arrive as given; 201."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            category = discord.utils.get(guild.categories, name="Text Channels")
            assert category is not None
            staff_only = {guild.default_role: discord.PermissionOverwrite(view_channel=False)}
            channel = await guild.create_text_channel(
                "Release Notes",
                category=category,
                topic="What shipped.",
                slowmode_delay=30,
                nsfw=True,
                position=7,
                overwrites=staff_only,
                reason="for the changelog",
            )
            assert channel.name == "release-notes"  # Discord's text channel names
            assert channel.topic == "What shipped."
            assert channel.slowmode_delay == 30
            assert channel.nsfw
            assert channel.position == 7
            assert channel.category_id == category.id
            assert channel.overwrites_for(guild.default_role).view_channel is False
            stored = sandbox.state.channels[channel.id]
            assert stored.type == ChannelType.GUILD_TEXT
            assert stored.guild_id == guild.id


async def test_create_voice_category_forum_and_announcement(sandbox: Sandbox, connect) -> None:
    """Each creatable type comes back as its discord.py class."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            voice = await guild.create_voice_channel("Stage Left", user_limit=5, bitrate=32000)
            assert isinstance(voice, discord.VoiceChannel)
            assert (voice.user_limit, voice.bitrate) == (5, 32000)
            category = await guild.create_category("Projects")
            assert isinstance(category, discord.CategoryChannel)
            forum = await guild.create_forum(
                "Proposals",
                category=category,
                topic="One thread per proposal.",
                available_tags=[discord.ForumTag(name="accepted")],
            )
            assert isinstance(forum, discord.ForumChannel)
            assert [t.name for t in forum.available_tags] == ["accepted"]
            assert forum.category_id == category.id
            news = await guild.create_text_channel("releases", news=True)
            assert news.is_news()


async def test_channel_create_reaches_bots_with_the_guilds_intent(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """CHANNEL_CREATE goes to a bot with GUILDS, not to one without it."""
    grant(sandbox, "scribe", "manage_channels")
    no_guilds = discord.Intents.default()
    no_guilds.guilds = False
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("herald", enable_debug_events=True) as watcher,
            connect("sentinel", intents=no_guilds, enable_debug_events=True) as deaf,
        ):
            seen, unseen = RawEvents(watcher), RawEvents(deaf)
            created = await client_guild(actor, sandbox).create_text_channel("bulletins")
            await eventually_fn(
                lambda: any(d["id"] == str(created.id) for d in seen.of("CHANNEL_CREATE"))
            )
            assert watcher.get_channel(created.id) is not None
            assert unseen.of("CHANNEL_CREATE") == []


async def test_channel_create_is_hidden_from_bots_that_cannot_view_it(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """A channel created with @everyone denied VIEW_CHANNEL is not dispatched to others."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("sentinel", enable_debug_events=True) as watcher,
        ):
            seen = RawEvents(watcher)
            guild = client_guild(actor, sandbox)
            hidden = await guild.create_text_channel(
                "secret",
                overwrites={
                    guild.default_role: discord.PermissionOverwrite(view_channel=False),
                    guild.me: discord.PermissionOverwrite(view_channel=True),
                },
            )
            public = await guild.create_text_channel("open")
            await eventually_fn(
                lambda: any(d["id"] == str(public.id) for d in seen.of("CHANNEL_CREATE"))
            )
            assert all(d["id"] != str(hidden.id) for d in seen.of("CHANNEL_CREATE"))


async def test_create_channel_without_manage_channels_is_403(sandbox: Sandbox, connect) -> None:
    """Without MANAGE_CHANNELS Discord answers 403 50013."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            with pytest.raises(discord.Forbidden) as caught:
                await client_guild(client, sandbox).create_text_channel("nope")
            assert caught.value.code == 50013
            assert caught.value.text == "Missing Permissions"


async def test_overwrites_may_only_grant_what_the_bot_has(sandbox: Sandbox, connect) -> None:
    """Allowing a permission the bot lacks (or MANAGE_ROLES, unless admin) in overwrites is 403."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            with pytest.raises(discord.Forbidden) as caught:
                await guild.create_text_channel(
                    "escalate",
                    overwrites={guild.default_role: discord.PermissionOverwrite(ban_members=True)},
                )
            assert caught.value.code == 50013


async def test_bad_channel_bodies_name_the_field(sandbox: Sandbox, connect) -> None:
    """Too long a name, too long a slowmode, a bad type or parent: 400 50035 naming the field."""
    grant(sandbox, "scribe", "manage_channels")
    guild_id = seed_guild(sandbox).id
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            with pytest.raises(discord.HTTPException) as caught:
                await guild.create_text_channel("x" * 101)
            assert (caught.value.status, caught.value.code) == (400, 50035)
            assert "In name" in caught.value.text
            with pytest.raises(discord.HTTPException) as caught:
                await guild.create_text_channel("slow", slowmode_delay=21601)
            assert "rate_limit_per_user" in caught.value.text
        path = f"/guilds/{guild_id}/channels"
        status, body = await raw_request(sandbox, "POST", path, json_body={"type": 0})
        assert status == 400
        assert body["errors"]["name"]["_errors"][0]["code"] == "BASE_TYPE_REQUIRED"
        status, body = await raw_request(sandbox, "POST", path, json_body={"name": "t", "type": 11})
        assert (status, body["code"]) == (400, 50035)
        assert "type" in body["errors"]
        general = sandbox.channel_id("general")
        status, body = await raw_request(
            sandbox, "POST", path, json_body={"name": "t", "parent_id": str(general)}
        )
        assert (status, body["code"]) == (400, 50035)
        assert "parent_id" in body["errors"]


async def test_reorder_channels_dispatches_channel_update(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """channel.edit(position=...) and move(category=...) use PATCH /guilds/{id}/channels."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("herald", enable_debug_events=True) as watcher,
        ):
            seen = RawEvents(watcher)
            guild = client_guild(actor, sandbox)
            lab = guild.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(lab, discord.TextChannel)
            forums = discord.utils.get(guild.categories, name="Forums")
            await lab.edit(position=0, reason="top of the list")
            assert sandbox.state.channels[lab.id].position == 0
            with pytest.raises(discord.Forbidden):  # lock_permissions needs MANAGE_ROLES too
                await lab.move(category=forums, beginning=True, sync_permissions=True)
            await lab.move(category=forums, beginning=True)
            assert sandbox.state.channels[lab.id].parent_id == forums.id
            await eventually_fn(
                lambda: any(
                    d["id"] == str(lab.id) and d["parent_id"] == str(forums.id)
                    for d in seen.of("CHANNEL_UPDATE")
                )
            )
            moved = watcher.get_channel(lab.id)
            assert isinstance(moved, discord.TextChannel)
            assert moved.category_id == forums.id


async def test_reorder_errors(sandbox: Sandbox) -> None:
    """Two parent changes at once: 400 40009; no MANAGE_CHANNELS: 403; not an array: 400."""
    grant(sandbox, "scribe", "manage_channels")
    path = f"/guilds/{seed_guild(sandbox).id}/channels"
    general, lab = sandbox.channel_id("general"), sandbox.channel_id("bot-lab")
    with anyio.fail_after(15):
        status, body = await raw_request(
            sandbox,
            "PATCH",
            path,
            json_body=[
                {"id": str(general), "parent_id": None},
                {"id": str(lab), "parent_id": None},
            ],
        )
        assert (status, body["code"]) == (400, 40009)
        status, body = await raw_request(
            sandbox, "PATCH", path, bot="sentinel", json_body=[{"id": str(general), "position": 3}]
        )
        assert (status, body["code"]) == (403, 50013)
        status, body = await raw_request(sandbox, "PATCH", path, json_body={"id": str(general)})
        assert (status, body["code"]) == (400, 50035)
