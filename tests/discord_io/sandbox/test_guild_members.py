"""Guild members through discord.py: list, get, search, edit (nick, roles, voice, timeout)."""

from __future__ import annotations

import datetime as dt

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request
from tests.discord_io.sandbox.guild_helpers import WATCH, client_guild, seed_guild, user_id

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]


async def test_fetch_members_pages_by_user_id(sandbox: Sandbox, connect) -> None:
    """guild.fetch_members pages GET /members with limit/after; everyone, in id order."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            everyone = [m.id async for m in guild.fetch_members(limit=None)]
            assert sorted(everyone) == sorted(seed_guild(sandbox).members)
            first_two = [m.id async for m in guild.fetch_members(limit=2)]
            assert sorted(first_two) == sorted(everyone)[:2]  # discord.py yields a page reversed


async def test_list_members_needs_the_granted_members_intent(sandbox: Sandbox) -> None:
    """A bot whose app lacks GUILD_MEMBERS gets 403 50001, as from Discord; limit is 1-1000."""
    path = f"/guilds/{seed_guild(sandbox).id}/members"
    with anyio.fail_after(15):
        status, body = await raw_request(sandbox, "GET", path, bot="sentinel")
        assert (status, body["code"]) == (403, 50001)
        status, body = await raw_request(sandbox, "GET", path, bot="courier")
        assert status == 200
        assert len(body) == 1  # the default limit
        status, body = await raw_request(sandbox, "GET", path, params={"limit": "1001"})
        assert (status, body["code"]) == (400, 50035)
        assert "limit" in body["errors"]


async def test_fetch_member_and_unknown_member(sandbox: Sandbox, connect) -> None:
    """GET /members/{id} gives the member; a non-member is 404 10007."""
    with anyio.fail_after(15):
        async with connect("herald") as client:
            guild = client_guild(client, sandbox)
            carol = await guild.fetch_member(user_id(sandbox, "carol"))
            assert carol.nick == "caz"
            with pytest.raises(discord.NotFound) as caught:
                await guild.fetch_member(1)
            assert caught.value.code == 10007


async def test_search_members_by_prefix(sandbox: Sandbox) -> None:
    """GET /members/search matches username or nickname prefixes; query is required."""
    path = f"/guilds/{seed_guild(sandbox).id}/members/search"
    with anyio.fail_after(15):
        status, body = await raw_request(sandbox, "GET", path, params={"query": "CA", "limit": "5"})
        assert status == 200
        assert [m["user"]["username"] for m in body] == ["carol"]
        status, body = await raw_request(sandbox, "GET", path, params={"query": "caz"})
        assert [m["nick"] for m in body] == ["caz"]
        status, body = await raw_request(sandbox, "GET", path)
        assert (status, body["code"]) == (400, 50035)
        assert "query" in body["errors"]


async def test_edit_nick_dispatches_member_update_by_intent(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """A nick change reaches bots with GUILD_MEMBERS and the member itself, not other bots."""
    grant(sandbox, "scribe", "manage_nicknames")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all(), enable_debug_events=True) as actor,
            connect("herald", enable_debug_events=True) as herald,
            connect("sentinel", enable_debug_events=True) as sentinel,
        ):
            with_intent, own, without = RawEvents(actor), RawEvents(herald), RawEvents(sentinel)
            guild = client_guild(actor, sandbox)
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            edited = await bob.edit(nick="Bobby", reason="asked nicely")
            assert edited.nick == "Bobby"
            assert seed_guild(sandbox).members[bob.id].nick == "Bobby"
            await eventually_fn(
                lambda: any(d["nick"] == "Bobby" for d in with_intent.of("GUILD_MEMBER_UPDATE"))
            )
            await client_guild(herald, sandbox).me.edit(nick="Crier")
            await eventually_fn(
                lambda: any(d["nick"] == "Crier" for d in own.of("GUILD_MEMBER_UPDATE"))
            )
            await eventually_fn(
                lambda: any(d["nick"] == "Crier" for d in with_intent.of("GUILD_MEMBER_UPDATE"))
            )
            assert client_guild(herald, sandbox).me.nick == "Crier"
            assert all(d["nick"] != "Bobby" for d in own.of("GUILD_MEMBER_UPDATE"))
            assert without.of("GUILD_MEMBER_UPDATE") == []
            reset = await bob.edit(nick=None)
            assert reset.nick is None


async def test_edit_own_nick_through_members_me(sandbox: Sandbox, connect) -> None:
    """guild.me.edit(nick=...) uses PATCH /members/@me and needs only CHANGE_NICKNAME."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            me = client_guild(client, sandbox).me
            edited = await me.edit(nick="Watchman")
            assert edited.nick == "Watchman"
            assert seed_guild(sandbox).members[me.id].nick == "Watchman"
            with pytest.raises(discord.HTTPException) as caught:
                await me.edit(nick="n" * 33)
            assert (caught.value.code, "In nick" in caught.value.text) == (50035, True)


async def test_nick_of_another_needs_manage_nicknames_and_rank(sandbox: Sandbox, connect) -> None:
    """Renaming someone else: 403 without MANAGE_NICKNAMES, and 403 for a higher member."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            with pytest.raises(discord.Forbidden) as caught:
                await bob.edit(nick="nope")
            assert caught.value.code == 50013
            grant(sandbox, "scribe", "manage_nicknames")
            herald = await guild.fetch_member(sandbox.bot("herald").id)  # its role is higher
            with pytest.raises(discord.Forbidden):
                await herald.edit(nick="nope")
            alice = await guild.fetch_member(user_id(sandbox, "alice"))  # the owner
            with pytest.raises(discord.Forbidden):
                await alice.edit(nick="nope")


async def test_timeout_with_moderate_members(sandbox: Sandbox, connect, eventually_fn) -> None:
    """timed_out_until sets communication_disabled_until; over 28 days is 400; admins are 403."""
    grant(sandbox, "scribe", "moderate_members")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as client,
            connect("courier", intents=WATCH, enable_debug_events=True) as watcher,
        ):
            seen = RawEvents(watcher)
            guild = client_guild(client, sandbox)
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            timed = await bob.edit(timed_out_until=until, reason="cool off")
            assert timed.timed_out_until is not None
            assert abs((timed.timed_out_until - until).total_seconds()) < 1
            assert timed.is_timed_out()
            await eventually_fn(
                lambda: any(
                    d["user"]["id"] == str(bob.id) and d["communication_disabled_until"]
                    for d in seen.of("GUILD_MEMBER_UPDATE")
                )
            )
            with pytest.raises(discord.HTTPException) as caught:
                await bob.timeout(dt.timedelta(days=29))
            assert caught.value.code == 50035
            assert "communication_disabled_until" in caught.value.text
            cleared = await bob.edit(timed_out_until=None)
            assert cleared.timed_out_until is None
            grant(sandbox, "sentinel", "administrator")
            sentinel = await guild.fetch_member(sandbox.bot("sentinel").id)
            with pytest.raises(discord.Forbidden):
                await sentinel.timeout(dt.timedelta(minutes=5))


async def test_timeout_without_moderate_members_is_403(sandbox: Sandbox, connect) -> None:
    """Without MODERATE_MEMBERS a timeout is 403 50013."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            with pytest.raises(discord.Forbidden) as caught:
                await bob.timeout(dt.timedelta(minutes=5))
            assert caught.value.code == 50013


async def test_a_timed_out_bot_loses_its_moderation_permissions(sandbox: Sandbox, connect) -> None:
    """While timed out, a bot keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY."""
    grant(sandbox, "scribe", "manage_nicknames")
    member = seed_guild(sandbox).members[sandbox.bot("scribe").id]
    member.communication_disabled_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            bob = await client_guild(client, sandbox).fetch_member(user_id(sandbox, "bob"))
            with pytest.raises(discord.Forbidden):
                await bob.edit(nick="nope")


async def test_voice_mute_deafen_move_and_disconnect(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """mute/deafen need the member in voice (400 40032 otherwise); move and disconnect work."""
    grant(sandbox, "scribe", "mute_members", "deafen_members", "move_members", "manage_channels")
    with anyio.fail_after(20):
        async with connect(
            "scribe", intents=discord.Intents.all(), enable_debug_events=True
        ) as client:
            seen = RawEvents(client)
            guild = client_guild(client, sandbox)
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            await bob.edit(mute=True, deafen=True)
            state = seed_guild(sandbox).voice_states[bob.id]
            assert (state.mute, state.deaf) == (True, True)
            await eventually_fn(lambda: bool(seen.of("VOICE_STATE_UPDATE")))
            cached = guild.get_member(bob.id)
            assert cached is not None
            assert cached.voice is not None
            assert (cached.voice.mute, cached.voice.deaf) == (True, True)
            carol = await guild.fetch_member(user_id(sandbox, "carol"))
            with pytest.raises(discord.HTTPException) as caught:
                await carol.edit(mute=True)
            assert (caught.value.status, caught.value.code) == (400, 40032)
            other = await guild.create_voice_channel("Overflow")
            await bob.move_to(other)
            assert seed_guild(sandbox).voice_states[bob.id].channel_id == other.id
            lab = guild.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(lab, discord.TextChannel)
            with pytest.raises(discord.HTTPException) as caught:
                await bob.move_to(lab)  # type: ignore[arg-type]
            assert caught.value.code == 50024
            await bob.move_to(None)
            assert bob.id not in seed_guild(sandbox).voice_states


async def test_add_and_remove_roles(sandbox: Sandbox, connect, eventually_fn) -> None:
    """member.add_roles / remove_roles (PUT/DELETE .../roles/{id}) and edit(roles=...)."""
    grant(sandbox, "scribe", "manage_roles")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("courier", intents=WATCH, enable_debug_events=True) as watcher,
        ):
            seen = RawEvents(watcher)
            guild = client_guild(actor, sandbox)
            agents = discord.utils.get(guild.roles, name="agents")
            moderator = discord.utils.get(guild.roles, name="moderator")
            assert agents is not None
            assert moderator is not None
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            await bob.add_roles(agents, reason="joined the team")
            assert agents.id in seed_guild(sandbox).members[bob.id].roles
            await eventually_fn(
                lambda: any(str(agents.id) in d["roles"] for d in seen.of("GUILD_MEMBER_UPDATE"))
            )
            await bob.remove_roles(agents)
            assert agents.id not in seed_guild(sandbox).members[bob.id].roles
            edited = await bob.edit(roles=[agents, moderator])
            assert {r.id for r in edited.roles} >= {agents.id, moderator.id}
            herald_role = discord.utils.get(guild.roles, name="herald")  # managed, higher
            assert herald_role is not None
            with pytest.raises(discord.Forbidden):
                await bob.add_roles(herald_role)
            with pytest.raises(discord.NotFound) as caught:
                await bob.add_roles(discord.Object(id=12345))
            assert caught.value.code == 10011


async def test_roles_without_manage_roles_is_403(sandbox: Sandbox, connect) -> None:
    """Adding a role without MANAGE_ROLES: 403 50013."""
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            agents = discord.utils.get(guild.roles, name="agents")
            assert agents is not None
            bob = await guild.fetch_member(user_id(sandbox, "bob"))
            with pytest.raises(discord.Forbidden) as caught:
                await bob.add_roles(agents)
            assert caught.value.code == 50013


async def test_bad_member_bodies_name_the_field(sandbox: Sandbox) -> None:
    """Wrong types: 400 50035 with an error for each field."""
    guild_id = seed_guild(sandbox).id
    path = f"/guilds/{guild_id}/members/{user_id(sandbox, 'bob')}"
    with anyio.fail_after(15):
        status, body = await raw_request(
            sandbox,
            "PATCH",
            path,
            json_body={
                "nick": 5,
                "roles": "x",
                "mute": "yes",
                "communication_disabled_until": "soon",
            },
        )
        assert (status, body["code"]) == (400, 50035)
        assert set(body["errors"]) == {"nick", "roles", "mute", "communication_disabled_until"}
