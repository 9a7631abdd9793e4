"""Kicks and bans through discord.py: permissions, hierarchy, dispatches, no way back in."""

from __future__ import annotations

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request
from tests.discord_io.sandbox.guild_helpers import WATCH, client_guild, seed_guild, user_id

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

MODERATION = discord.Intents.default()  # includes moderation (bans), not members


async def test_kick_removes_the_member_and_dispatches(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """A kick answers 204; GUILD_MEMBER_REMOVE reaches bots with GUILD_MEMBERS only."""
    grant(sandbox, "scribe", "kick_members")
    bob = user_id(sandbox, "bob")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("courier", intents=WATCH, enable_debug_events=True) as members,
            connect("herald", enable_debug_events=True) as others,
        ):
            with_intent, without = RawEvents(members), RawEvents(others)
            guild = client_guild(actor, sandbox)
            await guild.kick(discord.Object(id=bob), reason="spam")
            assert bob not in seed_guild(sandbox).members
            await eventually_fn(
                lambda: any(
                    d["user"]["id"] == str(bob) for d in with_intent.of("GUILD_MEMBER_REMOVE")
                )
            )
            assert without.of("GUILD_MEMBER_REMOVE") == []
            with pytest.raises(discord.NotFound) as caught:
                await guild.kick(discord.Object(id=bob))
            assert caught.value.code == 10007


async def test_a_kicked_bot_loses_the_guild(sandbox: Sandbox, connect, eventually_fn) -> None:
    """The kicked bot gets GUILD_DELETE (on_guild_remove) and then 50001 for the guild."""
    grant(sandbox, "courier", "kick_members")
    with anyio.fail_after(20):
        async with (
            connect("courier", intents=WATCH) as actor,
            connect("sentinel") as victim,
        ):
            guild_id = seed_guild(sandbox).id
            await client_guild(actor, sandbox).kick(victim.user)
            await eventually_fn(lambda: victim.get_guild(guild_id) is None)
            with pytest.raises(discord.Forbidden) as caught:
                await victim.fetch_channel(sandbox.channel_id("general"))
            assert caught.value.code == 50001


async def test_kick_needs_permission_and_rank(sandbox: Sandbox, connect) -> None:
    """No KICK_MEMBERS: 403; a member above the bot or the owner: 403 50013."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            with pytest.raises(discord.Forbidden) as caught:
                await guild.kick(discord.Object(id=user_id(sandbox, "bob")))
            assert caught.value.code == 50013
            grant(sandbox, "scribe", "kick_members")
            for name in ("herald", "alice"):  # herald's role is higher; alice owns the guild
                with pytest.raises(discord.Forbidden) as caught:
                    await guild.kick(discord.Object(id=user_id(sandbox, name)))
                assert caught.value.code == 50013
            assert user_id(sandbox, "alice") in seed_guild(sandbox).members


async def test_ban_list_fetch_unban(sandbox: Sandbox, connect, eventually_fn) -> None:
    """ban → GUILD_BAN_ADD + GUILD_MEMBER_REMOVE; bans() and fetch_ban; unban → BAN_REMOVE."""
    grant(sandbox, "scribe", "ban_members")
    bob, carol = user_id(sandbox, "bob"), user_id(sandbox, "carol")
    no_moderation = discord.Intents.default()
    no_moderation.moderation = False
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("courier", intents=WATCH, enable_debug_events=True) as watcher,
            connect("herald", intents=no_moderation, enable_debug_events=True) as deaf,
        ):
            seen, unseen = RawEvents(watcher), RawEvents(deaf)
            guild = client_guild(actor, sandbox)
            await guild.ban(discord.Object(id=bob), reason="raids", delete_message_seconds=0)
            await guild.ban(discord.Object(id=carol))
            assert bob not in seed_guild(sandbox).members
            bans = [entry async for entry in guild.bans()]
            assert [(b.user.id, b.reason) for b in bans] == [(bob, "raids"), (carol, None)]
            fetched = await guild.fetch_ban(discord.Object(id=bob))
            assert fetched.reason == "raids"
            await eventually_fn(lambda: len(seen.of("GUILD_BAN_ADD")) == 2)
            assert any(d["user"]["id"] == str(bob) for d in seen.of("GUILD_MEMBER_REMOVE"))
            await guild.unban(discord.Object(id=bob), reason="appeal")
            with pytest.raises(discord.NotFound) as caught:
                await guild.fetch_ban(discord.Object(id=bob))
            assert caught.value.code == 10026
            with pytest.raises(discord.NotFound) as caught:
                await guild.unban(discord.Object(id=bob))
            assert caught.value.code == 10026
            await eventually_fn(lambda: len(seen.of("GUILD_BAN_REMOVE")) == 1)
            assert unseen.of("GUILD_BAN_ADD") == []


async def test_ban_pages_and_limits(sandbox: Sandbox, connect) -> None:
    """bans(limit, before, after) page by user id; limit over 1000 is 400."""
    grant(sandbox, "scribe", "ban_members")
    ids = sorted(user_id(sandbox, n) for n in ("bob", "carol", "sentinel", "courier"))
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            for uid in ids:
                if uid in (sandbox.bot("sentinel").id, sandbox.bot("courier").id):
                    continue
                await guild.ban(discord.Object(id=uid))
            outsider = 1  # not a member and not a user: 10013
            with pytest.raises(discord.NotFound) as caught:
                await guild.ban(discord.Object(id=outsider))
            assert caught.value.code == 10013
            banned = sorted(seed_guild(sandbox).bans)
            first = [b.user.id async for b in guild.bans(limit=1)]
            assert first == banned[:1]
            after = [b.user.id async for b in guild.bans(after=discord.Object(id=banned[0]))]
            assert after == banned[1:]
            before = [b.user.id async for b in guild.bans(before=discord.Object(id=banned[-1]))]
            assert sorted(before) == banned[:-1]
    path = f"/guilds/{seed_guild(sandbox).id}/bans"
    status, body = await raw_request(sandbox, "GET", path, params={"limit": "1001"})
    assert (status, body["code"]) == (400, 50035)


async def test_ban_deletes_recent_messages(sandbox: Sandbox, connect, eventually_fn) -> None:
    """delete_message_seconds removes the user's recent messages (MESSAGE_DELETE_BULK)."""
    grant(sandbox, "courier", "ban_members")  # courier's role is above sentinel's
    with anyio.fail_after(20):
        async with (
            connect("courier", intents=WATCH, enable_debug_events=True) as actor,
            connect("sentinel") as victim,
        ):
            seen = RawEvents(actor)
            lab = victim.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(lab, discord.TextChannel)
            sent = [await lab.send(f"spam {i}") for i in range(3)]
            await client_guild(actor, sandbox).ban(victim.user, delete_message_seconds=3600)
            assert all(m.id not in sandbox.state.messages for m in sent)
            await eventually_fn(lambda: bool(seen.of("MESSAGE_DELETE_BULK")))
            (bulk,) = seen.of("MESSAGE_DELETE_BULK")
            assert sorted(bulk["ids"]) == sorted(str(m.id) for m in sent)


async def test_ban_needs_permission_rank_and_a_valid_window(sandbox: Sandbox, connect) -> None:
    """No BAN_MEMBERS: 403 (also for listing); a higher member: 403; over 7 days: 400."""
    bob = user_id(sandbox, "bob")
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            with pytest.raises(discord.Forbidden):
                await guild.ban(discord.Object(id=bob))
            with pytest.raises(discord.Forbidden):
                [b async for b in guild.bans()]
            grant(sandbox, "scribe", "ban_members")
            with pytest.raises(discord.Forbidden):
                await guild.ban(discord.Object(id=sandbox.bot("herald").id))
            with pytest.raises(discord.HTTPException) as caught:
                await guild.ban(discord.Object(id=bob), delete_message_seconds=604801)
            assert caught.value.code == 50035
            assert "delete_message_seconds" in caught.value.text


async def test_a_banned_user_cannot_come_back(sandbox: Sandbox) -> None:
    """PUT /members/{id} (join) for a banned user is 403 40007; after unban it is 201."""
    grant(sandbox, "scribe", "ban_members", "create_instant_invite")
    guild_id = seed_guild(sandbox).id
    bob = user_id(sandbox, "bob")
    with anyio.fail_after(15):
        status, _ = await raw_request(sandbox, "PUT", f"/guilds/{guild_id}/bans/{bob}")
        assert status == 204
        join = f"/guilds/{guild_id}/members/{bob}"
        token = {"access_token": "oauth2-token"}
        status, body = await raw_request(sandbox, "PUT", join, json_body=token)
        assert (status, body["code"]) == (403, 40007)
        status, _ = await raw_request(sandbox, "DELETE", f"/guilds/{guild_id}/bans/{bob}")
        assert status == 204
        status, body = await raw_request(sandbox, "PUT", join, json_body=token)
        assert status == 201
        assert body["user"]["id"] == str(bob)
        status, _ = await raw_request(sandbox, "PUT", join, json_body=token)
        assert status == 204  # already a member
        status, body = await raw_request(sandbox, "PUT", join, json_body={})
        assert (status, body["code"]) == (400, 50035)
