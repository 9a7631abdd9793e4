"""Guild roles through discord.py: create, edit, move, delete, GUILD_ROLE_* and the hierarchy."""

from __future__ import annotations

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request
from tests.discord_io.sandbox.guild_helpers import client_guild, seed_guild

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

NO_GUILDS = discord.Intents.default()
NO_GUILDS.guilds = False


async def test_list_and_fetch_roles(sandbox: Sandbox, connect) -> None:
    """GET /roles lists every role bottom-up; GET /roles/{id}; an unknown role is 10011."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            guild = client_guild(client, sandbox)
            roles = await guild.fetch_roles()
            assert {r.id for r in roles} == set(seed_guild(sandbox).roles)
            assert roles[0].is_default()
            moderator = discord.utils.get(roles, name="moderator")
            assert moderator is not None
            fetched = await guild.fetch_role(moderator.id)
            assert (fetched.name, fetched.hoist, fetched.mentionable) == ("moderator", True, True)
            with pytest.raises(discord.NotFound) as caught:
                await guild.fetch_role(4242)
            assert caught.value.code == 10011


async def test_create_edit_delete_dispatch_to_other_bots(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """GUILD_ROLE_CREATE/UPDATE/DELETE reach a bot with GUILDS (only) and update its cache."""
    grant(sandbox, "scribe", "manage_roles", "manage_messages")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("herald", enable_debug_events=True) as watcher,
            connect("sentinel", intents=NO_GUILDS, enable_debug_events=True) as deaf,
        ):
            seen, unseen = RawEvents(watcher), RawEvents(deaf)
            guild = client_guild(actor, sandbox)
            role = await guild.create_role(
                name="triage",
                permissions=discord.Permissions(manage_messages=True),
                colour=discord.Colour(0x123456),
                hoist=True,
                mentionable=True,
                reason="new team",
            )
            assert (role.name, role.colour.value, role.hoist, role.mentionable) == (
                "triage",
                0x123456,
                True,
                True,
            )
            assert role.permissions.manage_messages
            assert role.position == 1
            watched = client_guild(watcher, sandbox)
            await eventually_fn(lambda: watched.get_role(role.id) is not None)
            edited = await role.edit(name="triage-team", colour=discord.Colour(0xABCDEF))
            assert edited is not None
            assert edited.name == "triage-team"
            await eventually_fn(
                lambda: (r := watched.get_role(role.id)) is not None and r.name == "triage-team"
            )
            await role.delete(reason="disbanded")
            assert role.id not in seed_guild(sandbox).roles
            await eventually_fn(lambda: watched.get_role(role.id) is None)
            assert [d["role_id"] for d in seen.of("GUILD_ROLE_DELETE")] == [str(role.id)]
            assert [n for n in unseen.names() if n.startswith("GUILD_ROLE")] == []


async def test_roles_need_manage_roles(sandbox: Sandbox, connect) -> None:
    """Creating, editing or deleting a role without MANAGE_ROLES is 403 50013."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            guild = client_guild(client, sandbox)
            with pytest.raises(discord.Forbidden) as caught:
                await guild.create_role(name="nope")
            assert caught.value.code == 50013
            agents = discord.utils.get(guild.roles, name="agents")
            assert agents is not None
            with pytest.raises(discord.Forbidden):
                await agents.edit(name="nope")
            with pytest.raises(discord.Forbidden):
                await agents.delete()


async def test_the_role_hierarchy_and_grantable_permissions(sandbox: Sandbox, connect) -> None:
    """Roles above the bot are out of reach; only permissions the bot has can be granted."""
    grant(sandbox, "scribe", "manage_roles")
    with anyio.fail_after(15):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            above = discord.utils.get(guild.roles, name="courier")  # a managed role above scribe's
            below = discord.utils.get(guild.roles, name="moderator")
            assert above is not None
            assert below is not None
            with pytest.raises(discord.Forbidden):
                await above.edit(colour=discord.Colour(1))
            edited = await below.edit(colour=discord.Colour(0x00FF00))
            assert edited is not None
            assert edited.colour.value == 0x00FF00
            with pytest.raises(discord.Forbidden):
                await guild.create_role(
                    name="admins", permissions=discord.Permissions(administrator=True)
                )
            with pytest.raises(discord.Forbidden):
                await below.edit(permissions=discord.Permissions(ban_members=True))
            managed = discord.utils.get(guild.roles, name="sentinel")
            assert managed is not None
            with pytest.raises(discord.HTTPException) as caught:
                await managed.delete()  # a bot's managed role goes only with the bot
            assert (caught.value.status, caught.value.code) == (400, 50028)


async def test_move_role_positions(sandbox: Sandbox, connect, eventually_fn) -> None:
    """role.edit(position=...) uses PATCH /roles; positions stay a 1..n sequence."""
    grant(sandbox, "scribe", "manage_roles")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("herald", enable_debug_events=True) as watcher,
        ):
            seen = RawEvents(watcher)
            guild = client_guild(actor, sandbox)
            moderator = discord.utils.get(guild.roles, name="moderator")
            agents = discord.utils.get(guild.roles, name="agents")
            assert moderator is not None
            assert agents is not None
            assert (moderator.position, agents.position) == (1, 2)
            await moderator.edit(position=2, reason="promote")
            roles = seed_guild(sandbox).roles
            assert (roles[moderator.id].position, roles[agents.id].position) == (2, 1)
            positions = sorted(r.position for r in roles.values() if r.id != guild.id)
            assert positions == list(range(1, len(roles)))
            await eventually_fn(
                lambda: any(d["role"]["id"] == str(agents.id) for d in seen.of("GUILD_ROLE_UPDATE"))
            )
            with pytest.raises(discord.Forbidden):
                await moderator.edit(position=5)  # at or above scribe's own role


async def test_role_member_counts(sandbox: Sandbox, connect) -> None:
    """GET /roles/member-counts counts members per role, @everyone left out."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            guild = client_guild(client, sandbox)
            counts = await guild.role_member_counts()
            by_name = {getattr(role, "name", None): n for role, n in counts.items()}
            assert by_name["agents"] == 2
            assert by_name["moderator"] == 1
            assert "@everyone" not in by_name


async def test_bad_role_bodies_name_the_field(sandbox: Sandbox) -> None:
    """A long name, a bad colour or permissions: 400 50035 naming each field."""
    grant(sandbox, "scribe", "manage_roles")
    path = f"/guilds/{seed_guild(sandbox).id}/roles"
    with anyio.fail_after(15):
        status, body = await raw_request(
            sandbox,
            "POST",
            path,
            json_body={"name": "n" * 101, "color": -1, "permissions": "lots", "hoist": "yes"},
        )
        assert (status, body["code"]) == (400, 50035)
        assert set(body["errors"]) == {"name", "color", "permissions", "hoist"}
        status, body = await raw_request(sandbox, "DELETE", f"{path}/{seed_guild(sandbox).id}")
        assert (status, body["code"]) == (400, 50028)  # @everyone cannot be deleted
        status, body = await raw_request(sandbox, "PATCH", path, json_body=[{"id": "x"}])
        assert (status, body["code"]) == (400, 50035)
